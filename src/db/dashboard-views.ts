/**
 * Publishing the dashboards' views (migration 006): the latest day's heatmap and repair-priority rows are
 * built once into fresh tables, side by side on two connections, then attached and named current in one short
 * transaction together with the weekly window. Readers keep reading the previous generation meanwhile and are
 * never waited for: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, and switching dashboard_snapshot is a
 * row update. Generations older than the previous one are dropped when no reader holds them.
 */
import type pg from 'pg';
import { dropOldAnswers, storeAnswers } from './dashboard-answers';
import { CancellableWork, dropTableUnlessHeld } from './pool';

const SNAPSHOT_TABLES = [
  { table: 'dashboard_heatmap_rows', view: 'mvw_dashboard_heatmap', rows: 'pothole_heatmap($1::date)' },
  {
    table: 'dashboard_priority_rows',
    view: 'mvw_dashboard_repair_priority',
    rows: 'pothole_repair_priority($1::date)',
  },
] as const;

/** The channel a publish notifies with the new generation, when it commits. */
export const PUBLISHED_CHANNEL = 'dashboard_published';

/** Arbitrary but fixed: two refreshes at once would only do the same work twice. */
const PUBLISH_LOCK_KEY = 7_340_519_006;
/** A reader in the way of dropping an old generation is not waited for: the next refresh tries again. */
const DROP_LOCK_TIMEOUT = '1s';
/** Of the published switch: a stuck catalog lock fails the step (which retries) instead of hanging it. */
const SWITCH_LOCK_TIMEOUT = '60s';
/** Per build: hash joins over millions of segments in memory, and no JIT compile on every run. */
const BUILD_SETTINGS = [
  `SET LOCAL work_mem = '256MB'`,
  `SET LOCAL maintenance_work_mem = '256MB'`,
  'SET LOCAL jit = off',
];

export interface PublishResult {
  generation: number;
  date: string | null;
  /** Seconds of each view's part: its build (the weekly view has none), and the switch for all. */
  seconds: Record<string, number>;
  switchSeconds: number;
  dropped: string[];
}

export interface PublishOptions {
  /** The connections it works on: their statements are cancelled when the work is. */
  work?: CancellableWork;
  signal?: AbortSignal;
}

const since = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

/** Builds, attaches and switches to a new generation of the latest loaded day. */
export async function publishDashboardViews(
  pool: pg.Pool,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const work = options.work ?? new CancellableWork(pool);
  const main = await work.connect();
  const others: pg.PoolClient[] = [];
  try {
    await main.query('SELECT pg_advisory_lock($1)', [PUBLISH_LOCK_KEY]);
    try {
      await dropUnattached(main);
      const { rows } = await main.query<{ generation: string; date: string | null }>(
        `SELECT nextval('dashboard_generation_seq') AS generation, pothole_latest_day()::text AS date`,
      );
      const generation = Number(rows[0]!.generation);
      const date = rows[0]!.date;
      const seconds: Record<string, number> = {};
      // Side by side: each build is mostly one backend's work, and the machine has more than one core.
      const builds = await Promise.allSettled(
        SNAPSHOT_TABLES.map(async ({ table, view, rows: source }) => {
          const client = await work.connect();
          others.push(client);
          const started = process.hrtime.bigint();
          await build(client, table, source, generation, date, options.signal);
          seconds[view] = since(started);
        }),
      );
      for (const b of builds) if (b.status === 'rejected') throw b.reason;
      if (options.signal?.aborted) throw options.signal.reason;
      const started = process.hrtime.bigint();
      await main.query('BEGIN');
      try {
        await main.query(`SET LOCAL lock_timeout = '${SWITCH_LOCK_TIMEOUT}'`);
        for (const { table } of SNAPSHOT_TABLES) {
          await main.query(
            `ALTER TABLE ${table} ATTACH PARTITION ${table}_g${generation} FOR VALUES IN (${generation})`,
          );
        }
        await main.query(
          `INSERT INTO dashboard_snapshot (generation, date) VALUES ($1, $2)
           ON CONFLICT (only_row) DO UPDATE SET generation = $1, date = $2, published_at = now()`,
          [generation, date],
        );
        // Seen from here the views are the new generation's: its answers are published with it.
        await storeAnswers(main, generation, date);
        // Delivered at COMMIT: dashboards listening refill their caches at once (src/dashboard/view-cache.ts).
        await main.query(`SELECT pg_notify('${PUBLISHED_CHANNEL}', $1)`, [String(generation)]);
        await main.query('COMMIT');
      } catch (err) {
        await main.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      const switchSeconds = since(started);
      const dropped = await dropOldGenerations(main, generation);
      await dropOldAnswers(main, generation);
      return { generation, date, seconds, switchSeconds, dropped };
    } finally {
      await main.query('SELECT pg_advisory_unlock($1)', [PUBLISH_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await Promise.all([main, ...others].map((c) => work.release(c)));
  }
}

/** One generation's rows of one view, in a table of its own, indexed like the parent so ATTACH adopts them. */
async function build(
  client: pg.PoolClient,
  table: string,
  source: string,
  generation: number,
  date: string | null,
  signal: AbortSignal | undefined,
): Promise<void> {
  const part = `${table}_g${generation}`;
  await client.query('BEGIN');
  try {
    for (const s of BUILD_SETTINGS) await client.query(s);
    // The CHECK spares ATTACH a validation scan; new in this transaction, the rows skip WAL where it allows.
    await client.query(
      `CREATE TABLE ${part} (LIKE ${table} INCLUDING DEFAULTS,
         CONSTRAINT ${part}_generation CHECK (generation IS NOT NULL AND generation = ${generation}))`,
    );
    await client.query(`INSERT INTO ${part} SELECT ${generation}, r.* FROM ${source} r`, [date]);
    const { rows } = await client.query<{ def: string }>(
      `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
        WHERE i.indrelid = $1::regclass ORDER BY i.indexrelid`,
      [table],
    );
    for (const { def } of rows) {
      if (signal?.aborted) throw signal.reason;
      // "CREATE UNIQUE INDEX ux_name ON ONLY public.table USING btree (...)" → the same on the new table.
      const m = /^CREATE (UNIQUE )?INDEX (\S+) ON ONLY (\S+) (USING .*)$/.exec(def);
      if (!m) throw new Error(`unexpected index definition on ${table}: ${def}`);
      await client.query(`CREATE ${m[1] ?? ''}INDEX ${m[2]}_g${generation} ON ${part} ${m[4]}`);
    }
    await client.query(`ANALYZE ${part}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Tables a stopped refresh built but never attached. */
async function dropUnattached(client: pg.PoolClient): Promise<void> {
  for (const { table } of SNAPSHOT_TABLES) {
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c
        WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
          AND c.relname ~ ('^' || $1 || '_g[0-9]+$') AND NOT c.relispartition`,
      [table],
    );
    for (const { name } of rows) await client.query(`DROP TABLE ${name}`);
  }
}

/**
 * Keeps the published generation and the one before (a reader's statement that began before the switch may
 * still be reading it); older ones are dropped unless a reader holds the parent, then left for the next run.
 */
async function dropOldGenerations(client: pg.PoolClient, current: number): Promise<string[]> {
  const dropped: string[] = [];
  for (const { table } of SNAPSHOT_TABLES) {
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = $1::regclass ORDER BY c.relname`,
      [table],
    );
    for (const { name } of rows) {
      const generation = Number(/_g(\d+)$/.exec(name)?.[1]);
      if (!(generation < current - 1)) continue;
      if (await dropTableUnlessHeld(client, name, DROP_LOCK_TIMEOUT)) dropped.push(name);
    }
  }
  return dropped;
}
