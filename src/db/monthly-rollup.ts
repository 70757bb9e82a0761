/**
 * The monthly roll-up (migration 007): per segment and month, the impacts, the traffic and the days seen. A day
 * not yet counted is added to its month (one day's rows, whatever the history's length); a day counted before
 * (a reload, or a refresh run again) rebuilds the month from its day partitions, unless a day of the month was
 * already retired: then the roll-up is final and kept as it is.
 */
import type pg from 'pg';
import { CancellableWork } from './pool';

type Queryable = Pick<pg.PoolClient, 'query'>;

export interface RollupResult {
  month: string;
  /** added: the day joined its month; rebuilt: the month was counted again; final: left as it was. */
  action: 'added' | 'rebuilt' | 'final' | 'nothing loaded';
  days: number;
  segments: number;
}

export const monthOf = (day: string): string => `${day.slice(0, 7)}-01`;

/** Brings the roll-up of `day`'s month up to date with that day, in a transaction of its own. */
export async function rollUpDay(
  pool: pg.Pool,
  day: string,
  work = new CancellableWork(pool),
): Promise<RollupResult> {
  const month = monthOf(day);
  const client = await work.connect();
  await client.query('BEGIN');
  try {
    // Roll-ups of the same month take turns.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('pothole_monthly_rollups'), hashtext($1))`, [
      month,
    ]);
    await client.query(`SET LOCAL work_mem = '256MB'`);
    const { rows } = await client.query<{ counted: boolean; final: boolean; loaded: boolean }>(
      `SELECT coalesce($2::date = ANY (r.days), false) AS counted, coalesce(r.final, false) AS final,
              EXISTS (SELECT 1 FROM pothole_segments WHERE date = $2::date) AS loaded
         FROM (SELECT 1) one LEFT JOIN pothole_monthly_rollups r ON r.month = $1::date`,
      [month, day],
    );
    const { counted, final, loaded } = rows[0]!;
    let action: RollupResult['action'];
    if (!loaded && !counted) action = 'nothing loaded';
    else if (counted && final) action = 'final';
    else if (counted) {
      await rebuildMonth(client, month);
      action = 'rebuilt';
    } else {
      await addDay(client, month, day);
      action = 'added';
    }
    const totals = await client.query<{ days: number; segments: string }>(
      `SELECT coalesce(cardinality(days), 0) AS days, segments FROM pothole_monthly_rollups WHERE month = $1`,
      [month],
    );
    await client.query('COMMIT');
    return {
      month,
      action,
      days: totals.rows[0]?.days ?? 0,
      segments: Number(totals.rows[0]?.segments ?? 0),
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await work.release(client);
  }
}

async function addDay(client: Queryable, month: string, day: string): Promise<void> {
  await client.query(
    `INSERT INTO pothole_segment_monthly AS m (month, s_id, impacts, traffic, days_seen)
     SELECT $1::date, s_id, impact_count, total_count, 1 FROM pothole_segments WHERE date = $2::date
     ON CONFLICT (month, s_id) DO UPDATE
       SET impacts = m.impacts + excluded.impacts, traffic = m.traffic + excluded.traffic,
           days_seen = m.days_seen + 1`,
    [month, day],
  );
  await client.query(
    `INSERT INTO pothole_monthly_rollups AS r (month, days, impacts, traffic)
     SELECT $1::date, ARRAY[$2::date], coalesce(sum(impact_count), 0), coalesce(sum(total_count), 0)
       FROM pothole_segments WHERE date = $2::date
     ON CONFLICT (month) DO UPDATE
       SET days = (SELECT array_agg(d ORDER BY d) FROM unnest(r.days || excluded.days) d),
           impacts = r.impacts + excluded.impacts, traffic = r.traffic + excluded.traffic, rolled_up_at = now()`,
    [month, day],
  );
  await countSegments(client, month);
}

async function rebuildMonth(client: Queryable, month: string): Promise<void> {
  const range = `date >= $1::date AND date < ($1::date + interval '1 month')`;
  await client.query(`DELETE FROM pothole_segment_monthly WHERE month = $1`, [month]);
  await client.query(
    `INSERT INTO pothole_segment_monthly (month, s_id, impacts, traffic, days_seen)
     SELECT $1::date, s_id, sum(impact_count), sum(total_count), count(*) FROM pothole_segments
      WHERE ${range} GROUP BY s_id`,
    [month],
  );
  await client.query(
    `INSERT INTO pothole_monthly_rollups AS r (month, days, impacts, traffic)
     SELECT $1::date, coalesce(array_agg(DISTINCT date ORDER BY date), '{}'),
            coalesce(sum(impact_count), 0), coalesce(sum(total_count), 0)
       FROM pothole_segments WHERE ${range}
     ON CONFLICT (month) DO UPDATE
       SET days = excluded.days, impacts = excluded.impacts, traffic = excluded.traffic, rolled_up_at = now()`,
    [month],
  );
  await countSegments(client, month);
}

async function countSegments(client: Queryable, month: string): Promise<void> {
  await client.query(
    `UPDATE pothole_monthly_rollups
        SET segments = (SELECT count(*) FROM pothole_segment_monthly WHERE month = $1)
      WHERE month = $1`,
    [month],
  );
}

export interface MonthFigures {
  month: string;
  impacts: number;
  traffic: number;
  /** Impacts per 100 passes. */
  rate: number;
  days: number;
}

/** The last `months` months up to `through`'s month, oldest first; months without data at 0. */
function monthsBack(through: string, months: number): string[] {
  const [y, m] = through.split('-').map(Number) as [number, number];
  return Array.from({ length: months }, (_, i) => {
    const d = new Date(Date.UTC(y, m - 1 - (months - 1 - i), 1));
    return d.toISOString().slice(0, 10);
  });
}

const rate = (impacts: number, traffic: number) =>
  traffic > 0 ? Math.round((impacts / traffic) * 100 * 100) / 100 : 0;

/** The whole network's months (from the roll-up's totals: one row a month). */
export async function networkMonths(pool: Pick<pg.Pool, 'query'>, through: string, months = 12) {
  const span = monthsBack(through, months);
  const { rows } = await pool.query<{ month: string; impacts: string; traffic: string; days: number }>(
    `SELECT month::text AS month, impacts, traffic, cardinality(days) AS days
       FROM pothole_monthly_rollups WHERE month BETWEEN $1::date AND $2::date`,
    [span[0], span.at(-1)],
  );
  return fill(span, rows);
}

/** One segment's months (index range scan on (s_id, month)). */
export async function segmentMonths(pool: Pick<pg.Pool, 'query'>, sId: string, through: string, months = 12) {
  const span = monthsBack(through, months);
  const { rows } = await pool.query<{ month: string; impacts: string; traffic: string; days: number }>(
    `SELECT month::text AS month, impacts, traffic, days_seen AS days
       FROM pothole_segment_monthly WHERE s_id = $1 AND month BETWEEN $2::date AND $3::date`,
    [sId, span[0], span.at(-1)],
  );
  return fill(span, rows);
}

function fill(
  span: string[],
  rows: { month: string; impacts: string; traffic: string; days: number }[],
): MonthFigures[] {
  const byMonth = new Map(rows.map((r) => [r.month, r]));
  return span.map((month) => {
    const r = byMonth.get(month);
    const impacts = Number(r?.impacts ?? 0);
    const traffic = Number(r?.traffic ?? 0);
    return { month, impacts, traffic, rate: rate(impacts, traffic), days: r?.days ?? 0 };
  });
}
