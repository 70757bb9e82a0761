/** The PostgreSQL pool of the serving steps, built from the `postgres` config section. */
import pg from 'pg';
import type { PostgresConfig } from '../config';

export interface PoolOptions {
  max?: number;
  applicationName?: string;
}

export function createPool(config: PostgresConfig, options: PoolOptions = {}): pg.Pool {
  const common = {
    max: options.max ?? 8,
    application_name: options.applicationName ?? 'pothole-pipeline',
    connectionTimeoutMillis: 30_000,
    idleTimeoutMillis: 30_000,
  };
  // The secret is revealed here, at the edge, and lives only inside the pg client.
  const pool = config.connectionString
    ? new pg.Pool({ ...common, connectionString: config.connectionString.reveal() })
    : new pg.Pool({
        ...common,
        host: config.host,
        port: config.port,
        user: config.user,
        password: config.password?.reveal(),
        database: config.database,
      });
  // An idle client losing its connection (server restart) must not crash the worker.
  pool.on('error', () => undefined);
  return pool;
}

/** The server process of a checked-out client: what pg_cancel_backend needs to stop its statement. */
function backendPid(client: pg.PoolClient): number {
  return (client as unknown as { processID: number }).processID;
}

/**
 * Drops a table nobody reads any more, unless a reader still holds it: then it gives up after `lockTimeout` and
 * answers false, leaving it for the next caller. Readers are never queued behind the DROP for longer than that.
 */
export async function dropTableUnlessHeld(
  client: pg.PoolClient,
  table: string,
  lockTimeout = '1s',
): Promise<boolean> {
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = '${lockTimeout}'`);
    await client.query(`DROP TABLE ${table}`);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if ((err as { code?: string }).code !== '55P03') throw err; // lock_not_available
    return false;
  }
}

/**
 * Connections taken for one piece of work that can be cancelled (a step's transactions): when its signal aborts,
 * the statements of the connections it holds at that moment are cancelled, and nobody else's. The cancel goes over
 * another connection and may land late, so giving a connection back waits for a cancel on its way and then closes
 * that connection instead of pooling it: a late cancel can never stop the statement of whoever borrows it next.
 */
export class CancellableWork {
  /** Each held connection, with the cancel sent to it if one was. */
  readonly #held = new Map<pg.PoolClient, Promise<unknown> | undefined>();
  readonly #onAbort = () => this.cancel();

  constructor(
    private readonly pool: pg.Pool,
    private readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', this.#onAbort);
  }

  async connect(): Promise<pg.PoolClient> {
    const client = await this.pool.connect();
    if (this.signal?.aborted) {
      client.release();
      throw this.signal.reason;
    }
    this.#held.set(client, undefined);
    return client;
  }

  async release(client: pg.PoolClient, broken = false): Promise<void> {
    const cancelling = this.#held.get(client);
    this.#held.delete(client);
    if (cancelling) await cancelling;
    client.release(broken || cancelling !== undefined);
  }

  /** Cancels what every held connection is running (its transaction then rolls back). */
  cancel(): void {
    for (const [client, sent] of this.#held) {
      if (sent) continue;
      this.#held.set(
        client,
        this.pool.query('SELECT pg_cancel_backend($1)', [backendPid(client)]).catch(() => undefined),
      );
    }
  }

  /** Stops listening to the signal; connections still held stay cancellable by cancel(). */
  dispose(): void {
    this.signal?.removeEventListener('abort', this.#onAbort);
  }
}
