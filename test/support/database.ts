/** A throwaway PostgreSQL database per test file on the local stack: created, migrated, dropped. */
import crypto from 'node:crypto';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { stackEnv, type Env } from './stack';

export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}_${crypto.randomBytes(3).toString('hex')}`;
}

export interface ThrowawayDatabase {
  name: string;
  config: Config['postgres'];
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A fresh database owned by the application role, migrated; dropped by drop(). */
export async function createThrowawayDatabase(label: string, options: { migrate?: boolean; env?: Env } = {}) {
  const env = options.env ?? stackEnv();
  const adminUrl = env.POSTGRES_ADMIN_URL;
  if (!adminUrl) throw new Error('POSTGRES_ADMIN_URL is not set: is the local stack up (npm run stack:up)?');
  const name = `test_${label}_${uniqueSuffix()}`.toLowerCase();
  const { postgres } = loadConfig(['postgres'], env);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} OWNER ${postgres.user}`);
  } finally {
    await admin.end();
  }
  const config = { ...postgres, connectionString: undefined, database: name };
  const pool = createPool(config, { applicationName: `test-${label}` });
  if (options.migrate !== false) await migrate(pool);
  return {
    name,
    config,
    pool,
    async drop() {
      await pool.end();
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  } satisfies ThrowawayDatabase;
}
