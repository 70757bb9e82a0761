/**
 * Answers computed from the views alone (the map's columns, the trend, the districts) change only when
 * refresh_views runs, once a night: they are kept until then, and refilled the moment a refresh commits. Each refresh publishes a new generation
 * (dashboard_snapshot, migration 006), which names the views' current content for the price of a one-row read.
 * A value computed while a refresh commits is filed under the older generation and computed again.
 */
import type { Pool, PoolClient } from 'pg';
import { PUBLISHED_CHANNEL } from '../db/dashboard-views';

/** How soon a lost listening connection is opened again. */
const RELISTEN_MS = 1_000;

async function viewsVersion(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ version: string }>(
    `SELECT generation::text AS version FROM dashboard_snapshot`,
  );
  return rows[0]?.version ?? '';
}

export class ViewCache {
  #version: string | undefined;
  readonly #values = new Map<string, Promise<unknown>>();
  #watcher: NodeJS.Timeout | undefined;
  #listener: PoolClient | undefined;
  #stopped = false;

  constructor(private readonly pool: Pool) {}

  /**
   * Refills as soon as refresh_views publishes (it notifies PUBLISHED_CHANNEL when it commits), so the first visitor
   * after the nightly refresh finds the caches full; and looks every `everyMs` too, for a notification missed while
   * the listening connection was down (it is opened again a second after it was lost). A failed look is tried again
   * at the next.
   */
  watch(everyMs: number, refill: () => Promise<unknown>): void {
    const look = () => {
      viewsVersion(this.pool)
        .then((version) => (version !== this.#version ? refill() : undefined))
        .catch(() => undefined);
      if (!this.#listener) this.#listen(() => void refill().catch(() => undefined));
    };
    this.#watcher ??= setInterval(look, everyMs);
    this.#watcher.unref();
    this.#listen(() => void refill().catch(() => undefined));
  }

  #listen(onPublished: () => void): void {
    if (this.#stopped || this.#listener) return;
    this.pool
      .connect()
      .then(async (client) => {
        if (this.#stopped) return client.release();
        this.#listener = client;
        const drop = () => {
          if (this.#listener !== client) return;
          this.#listener = undefined;
          client.release(true);
          // Listening again soon; until then the looks stand in.
          setTimeout(() => this.#listen(onPublished), RELISTEN_MS).unref();
        };
        client.on('error', drop);
        client.on('end', drop);
        client.on('notification', (n) => {
          if (n.channel === PUBLISHED_CHANNEL) onPublished();
        });
        await client.query(`LISTEN ${PUBLISHED_CHANNEL}`).catch(drop);
      })
      .catch(() => undefined);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#watcher);
    this.#watcher = undefined;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.release(true);
  }

  async get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const version = await viewsVersion(this.pool);
    if (version !== this.#version) {
      this.#values.clear();
      this.#version = version;
    }
    let value = this.#values.get(key) as Promise<T> | undefined;
    if (!value) {
      value = compute();
      this.#values.set(key, value);
      value.catch(() => this.#values.delete(key));
    }
    return value;
  }
}
