/**
 * Applies src/db/migrations/NNN_name.sql in order, each in its own transaction, recording what ran in
 * schema_migrations. Safe to run any number of times and from several processes at once: an advisory
 * lock serialises runners, and applied files are skipped.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from 'pg';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
/** Arbitrary but fixed: every runner of this schema takes the same lock. */
const MIGRATION_LOCK_KEY = 7_340_519_001;

export interface Migration {
  version: string;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
  /** Applied files whose content changed since they ran (they are not re-run). */
  changed: string[];
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Map<string, string>();
  return files.map((file) => {
    const m = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file ${file} is not named NNN_name.sql`);
    const [, version, name] = m as unknown as [string, string, string];
    const other = seen.get(version);
    if (other) throw new Error(`migrations ${other} and ${file} share version ${version}`);
    seen.set(version, file);
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    const checksum = crypto.createHash('sha256').update(sql).digest('hex');
    return { version, name, file, sql, checksum };
  });
}

export async function migrate(pool: Pool, dir = MIGRATIONS_DIR): Promise<MigrateResult> {
  const migrations = readMigrations(dir);
  const client = await pool.connect();
  const result: MigrateResult = { applied: [], alreadyApplied: [], changed: [] };
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version text PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: string; checksum: string }>(
        'SELECT version, checksum FROM schema_migrations',
      );
      const done = new Map(rows.map((r) => [r.version, r.checksum]));
      for (const m of migrations) {
        const checksum = done.get(m.version);
        if (checksum !== undefined) {
          result.alreadyApplied.push(m.file);
          if (checksum !== m.checksum) result.changed.push(m.file);
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.file} failed: ${(err as Error).message}`, { cause: err });
        }
        result.applied.push(m.file);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return result;
}

export interface MigrationStatus {
  /** Shipped files not applied yet (`migrate` would apply them). */
  pending: string[];
  /** Applied files whose content changed since they ran. */
  changed: string[];
  /** Versions recorded as applied that this code does not ship (the database is ahead of it). */
  unknown: string[];
  applied: number;
}

/** What `migrate` would do, read only: the shipped migrations compared with schema_migrations. */
export async function migrationStatus(pool: Pool, dir = MIGRATIONS_DIR): Promise<MigrationStatus> {
  const migrations = readMigrations(dir);
  const { rows: table } = await pool.query<{ exists: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS exists",
  );
  const { rows } = table[0]?.exists
    ? await pool.query<{ version: string; checksum: string }>(
        'SELECT version, checksum FROM schema_migrations',
      )
    : { rows: [] };
  const done = new Map(rows.map((r) => [r.version, r.checksum]));
  const shipped = new Set(migrations.map((m) => m.version));
  return {
    pending: migrations.filter((m) => !done.has(m.version)).map((m) => m.file),
    changed: migrations
      .filter((m) => done.has(m.version) && done.get(m.version) !== m.checksum)
      .map((m) => m.file),
    unknown: [...done.keys()].filter((v) => !shipped.has(v)).sort(),
    applied: done.size,
  };
}
