/**
 * The day partition of pothole_segments, as load_to_rdb rebuilds it inside its transaction: a fresh table
 * for the day is filled, its indexes are built in bulk, and it then replaces the day's partition (DETACH +
 * DROP the old one, ATTACH the new one: the CHECK constraint spares ATTACH a validation scan, and the
 * matching indexes are adopted, not rebuilt). Readers see the old day or the new one, never a mix.
 */
import { log } from '@temporalio/activity';
import type pg from 'pg';

/** pothole_segments_20260212: the partition holding one day. */
export function partitionName(batchDate: string): string {
  return `pothole_segments_${batchDate.replaceAll('-', '')}`;
}

/** The table a load of the day fills before it becomes the partition. */
function stageName(batchDate: string): string {
  return `${partitionName(batchDate)}_load`;
}

export function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

const LOCK_NAMESPACE = 'pothole_segments';

/** Loads of the same date take turns (a retry racing a slow predecessor); other dates run freely. */
export async function waitForDateLock(
  client: pg.PoolClient,
  batchDate: string,
  signal: AbortSignal,
  heartbeat: () => void,
): Promise<void> {
  for (let waited = 0; ; waited++) {
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) AS ok',
      [LOCK_NAMESPACE, batchDate],
    );
    if (rows[0]?.ok) return;
    if (waited === 0) log.info('another load of this date is running; waiting for it', { batchDate });
    if (signal.aborted) throw signal.reason;
    heartbeat();
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Creates the (empty) table a load of the day fills, in the caller's transaction. */
export async function createStageTable(client: pg.PoolClient, batchDate: string): Promise<string> {
  const stage = stageName(batchDate);
  await client.query(
    `CREATE TABLE ${stage} (LIKE pothole_segments INCLUDING DEFAULTS,
     CONSTRAINT ${stage}_date_check CHECK (date >= DATE '${batchDate}' AND date < DATE '${nextDay(batchDate)}'))`,
  );
  return stage;
}

/**
 * The partition's indexes: the same definitions as the parent's (migration 001), so ATTACH adopts them
 * instead of building new ones. `$name` is the index (or primary key constraint) name.
 */
export function partitionIndexes(table: string): [suffix: string, sql: string][] {
  return [
    ['pkey', `ALTER TABLE ${table} ADD CONSTRAINT $name PRIMARY KEY (s_id, date)`],
    ['date_idx', `CREATE INDEX $name ON ${table} (date DESC)`],
    ['s_id_idx', `CREATE INDEX $name ON ${table} (s_id)`],
    ['date_s_id_idx', `CREATE INDEX $name ON ${table} (date DESC, s_id)`],
    ['impact_idx', `CREATE INDEX $name ON ${table} (impact_count DESC)`],
  ];
}

/** Builds the stage table's indexes in the caller's transaction, one after the other. */
export async function buildIndexes(client: pg.PoolClient, stage: string, signal: AbortSignal): Promise<void> {
  for (const [suffix, sql] of partitionIndexes(stage)) {
    if (signal.aborted) throw signal.reason;
    await client.query(sql.replace('$name', `${stage}_${suffix}`));
  }
}

/** Replaces (or creates) the day's partition with the freshly built table, in the caller's transaction. */
export async function swapPartition(client: pg.PoolClient, stage: string, batchDate: string): Promise<void> {
  const part = partitionName(batchDate);
  // Readers of pothole_segments wait for this lock, so never queue behind a long query for ever.
  await client.query(`SET LOCAL lock_timeout = '60s'`);
  const { rows } = await client.query<{ attached: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) AS attached
       FROM pg_class c WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [part],
  );
  if (rows[0]) {
    if (rows[0].attached) await client.query(`ALTER TABLE pothole_segments DETACH PARTITION ${part}`);
    await client.query(`DROP TABLE ${part}`);
  }
  await client.query(`ALTER TABLE ${stage} RENAME TO ${part}`);
  await client.query(`ALTER TABLE ${part} RENAME CONSTRAINT ${stage}_date_check TO ${part}_date_check`);
  for (const [suffix] of partitionIndexes(stage)) {
    await client.query(`ALTER INDEX ${stage}_${suffix} RENAME TO ${part}_${suffix}`);
  }
  await client.query(
    `ALTER TABLE pothole_segments ATTACH PARTITION ${part}
       FOR VALUES FROM ('${batchDate}') TO ('${nextDay(batchDate)}')`,
  );
}

/** The latest loaded date before the batch date and its row count: the quality findings compare with it. */
export async function previousLoadedDate(
  pool: pg.Pool,
  batchDate: string,
): Promise<{ date: string; rows: number } | null> {
  // Two statements, each day a constant: only that day's partition is planned and read, however long the history.
  const latest = await pool.query<{ date: string | null }>(
    'SELECT pothole_latest_day($1::date)::text AS date',
    [batchDate],
  );
  const date = latest.rows[0]?.date;
  if (!date) return null;
  const { rows } = await pool.query<{ rows: string }>(
    'SELECT count(*) AS rows FROM pothole_segments WHERE date = $1::date',
    [date],
  );
  return { date, rows: Number(rows[0]?.rows ?? 0) };
}
