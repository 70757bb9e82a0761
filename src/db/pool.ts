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
