/**
 * Retiring old days (SERVING_KEEP_DAYS): a day partition older than that, counted back from the latest loaded day,
 * is detached and dropped once its month's roll-up counts it. The Stage2 output in S3 stays the archive
 * (`pothole run DATE --from load_to_rdb` loads a retired day again).
 *
 * Readers are never blocked: DETACH PARTITION … CONCURRENTLY takes no lock that waits for them, and dropping the
 * detached table gives up after a second when a reader still holds it (the next retire drops it). Every step can
 * be interrupted and run again: a detach left pending is finished, a detached table is dropped.
 */
import type pg from 'pg';
import { monthOf, rollUpDay } from './monthly-rollup';
import { dropTableUnlessHeld } from './pool';

export interface RetireCandidate {
  day: string;
  table: string;
  /** attached: a partition today; detach pending: an interrupted detach; detached: left to drop. */
  state: 'attached' | 'detach pending' | 'detached';
  /** PostgreSQL's estimate (reltuples), not a count. */
  estimatedRows: number;
  /** Whether the month's roll-up already counts the day (otherwise it is added before the day goes). */
  rolledUp: boolean;
}

export interface RetirePlan {
  latestDay: string | null;
  keepDays: number;
  /** The newest day that goes: days up to and including it are retired. */
  retireThrough: string | null;
  candidates: RetireCandidate[];
}

export interface RetireResult extends RetirePlan {
  retired: string[];
  /** Days whose table a reader held; the next retire drops them. */
  leftForNextTime: string[];
}

const DAY_TABLE = /^pothole_segments_(\d{4})(\d{2})(\d{2})$/;
/** How long dropping a detached day waits for a reader that still holds it. */
const DROP_LOCK_TIMEOUT = '1s';

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** What a retire would do now; changes nothing. */
export async function planRetirement(pool: Pick<pg.Pool, 'query'>, keepDays: number): Promise<RetirePlan> {
  // Never later than today in Seoul: a day loaded by mistake far ahead must not retire the real history.
  const { rows: latest } = await pool.query<{ day: string | null }>(
    `SELECT CASE WHEN latest IS NOT NULL THEN least(latest, (now() AT TIME ZONE 'Asia/Seoul')::date)::text END AS day
       FROM pothole_latest_day() latest`,
  );
  const latestDay = latest[0]?.day ?? null;
  if (!latestDay) return { latestDay, keepDays, retireThrough: null, candidates: [] };
  const retireThrough = addDays(latestDay, -keepDays);
  const { rows } = await pool.query<{
    name: string;
    attached: boolean;
    pending: boolean;
    estimate: number;
  }>(
    `SELECT c.relname AS name, i.inhrelid IS NOT NULL AS attached, coalesce(i.inhdetachpending, false) AS pending,
            greatest(c.reltuples, 0)::float8 AS estimate
       FROM pg_class c
       LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'pothole_segments'::regclass
      WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
        AND c.relname ~ '^pothole_segments_[0-9]{8}$'
      ORDER BY c.relname`,
  );
  const { rows: counted } = await pool.query<{ day: string }>(
    'SELECT unnest(days)::text AS day FROM pothole_monthly_rollups',
  );
  const countedDays = new Set(counted.map((r) => r.day));
  const candidates: RetireCandidate[] = [];
  for (const r of rows) {
    const m = DAY_TABLE.exec(r.name);
    if (!m) continue;
    const day = `${m[1]}-${m[2]}-${m[3]}`;
    if (day > retireThrough) continue;
    candidates.push({
      day,
      table: r.name,
      state: r.pending ? 'detach pending' : r.attached ? 'attached' : 'detached',
      estimatedRows: Math.round(r.estimate),
      rolledUp: countedDays.has(day),
    });
  }
  return { latestDay, keepDays, retireThrough, candidates };
}

/** Retires every day older than `keepDays`: rolled up first where needed, then detached and dropped. */
export async function retireOldDays(
  pool: pg.Pool,
  keepDays: number,
  options: { signal?: AbortSignal; onDay?: (c: RetireCandidate) => void } = {},
): Promise<RetireResult> {
  const plan = await planRetirement(pool, keepDays);
  const retired: string[] = [];
  const leftForNextTime: string[] = [];
  const client = await pool.connect();
  try {
    for (const c of plan.candidates) {
      if (options.signal?.aborted) throw options.signal.reason;
      options.onDay?.(c);
      if (!c.rolledUp && c.state === 'attached') await rollUpDay(pool, c.day);
      // From now on the month's roll-up is final: rebuilt from its remaining days it would count less.
      await client.query(`UPDATE pothole_monthly_rollups SET final = true WHERE month = $1 AND NOT final`, [
        monthOf(c.day),
      ]);
      if (c.state === 'attached')
        await client.query(`ALTER TABLE pothole_segments DETACH PARTITION ${c.table} CONCURRENTLY`);
      else if (c.state === 'detach pending')
        await client.query(`ALTER TABLE pothole_segments DETACH PARTITION ${c.table} FINALIZE`);
      if (await dropTableUnlessHeld(client, c.table, DROP_LOCK_TIMEOUT)) retired.push(c.day);
      else leftForNextTime.push(c.day);
    }
  } finally {
    client.release();
  }
  return { ...plan, retired, leftForNextTime };
}
