/**
 * Did the repair hold? (migration 007) Each change of a segment to 보수완료 opens a check; refresh_views brings
 * every open check up to date with the loaded days: the impact rate over the check_days days after the repair
 * against as many days before it. Only checks whose after-window is still open are recomputed, so the work
 * follows the number of recent repairs, not the length of the history.
 */
import type pg from 'pg';
import { CancellableWork } from './pool';

export const REPAIR_VERDICTS = ['확인중', '효과 확인', '재발'] as const;
export type RepairVerdict = (typeof REPAIR_VERDICTS)[number];

export interface RepairCheckSettings {
  /** REPAIR_CHECK_DAYS */
  days: number;
  /** REPAIR_CHECK_MIN_TRAFFIC: passes after the repair before it is judged. */
  minTraffic: number;
  /** REPAIR_EFFECT_MIN_DROP, in per cent. */
  minDropPercent: number;
}

export interface RepairCheckUpdate {
  opened: number;
  ended: number;
  /** Checks recomputed, by their verdict now. */
  verdicts: Record<RepairVerdict, number>;
  /** Checks whose verdict changed in this update. */
  changed: number;
}

/** Arbitrary but fixed: two refreshes at once would only do the same work twice. */
const CHECK_LOCK_KEY = 7_340_519_007;

/** Opens checks for new repairs, ends those whose status moved on, and recomputes the open ones. */
export async function updateRepairChecks(
  pool: pg.Pool,
  settings: RepairCheckSettings,
  work = new CancellableWork(pool),
): Promise<RepairCheckUpdate> {
  const client = await work.connect();
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CHECK_LOCK_KEY]);
    // A repair is the day of its change to 보수완료, as the road manager's calendar (Asia/Seoul) has it.
    const opened = await client.query(
      `INSERT INTO segment_repair_checks (repair_id, s_id, repaired_on, check_days)
       SELECT h.id, h.s_id, (h.changed_at AT TIME ZONE 'Asia/Seoul')::date, $1
         FROM segment_repair_status_history h
        WHERE h.to_status = '보수완료'
          AND NOT EXISTS (SELECT 1 FROM segment_repair_checks c WHERE c.repair_id = h.id)`,
      [settings.days],
    );
    // Any later change of the segment's status (back to 미보수) ends the check: the repair is no longer claimed.
    const ended = await client.query(
      `UPDATE segment_repair_checks c
          SET ended_at = later.changed_at, updated_at = now()
         FROM (SELECT c2.repair_id, min(h.changed_at) AS changed_at
                 FROM segment_repair_checks c2
                 JOIN segment_repair_status_history h ON h.s_id = c2.s_id AND h.id > c2.repair_id
                WHERE c2.ended_at IS NULL
                GROUP BY c2.repair_id) later
        WHERE c.repair_id = later.repair_id`,
    );
    // The days the open checks look at, as constants: only those day partitions are planned and read.
    const span = await client.query<{ first: string | null; last: string | null }>(
      `SELECT min(repaired_on - check_days)::text AS first, max(repaired_on + check_days)::text AS last
         FROM segment_repair_checks WHERE ended_at IS NULL AND NOT final`,
    );
    const { first, last } = span.rows[0]!;
    const { rows } = await client.query<{ verdict: RepairVerdict; n: string; changed: string }>(
      `WITH latest AS (SELECT pothole_latest_day() AS day),
       figures AS (
         SELECT c.repair_id, c.verdict AS was,
                coalesce(sum(p.total_count) FILTER (WHERE p.date < c.repaired_on), 0) AS bt,
                coalesce(sum(p.impact_count) FILTER (WHERE p.date < c.repaired_on), 0) AS bi,
                count(p.date) FILTER (WHERE p.date < c.repaired_on) AS bd,
                coalesce(sum(p.total_count) FILTER (WHERE p.date > c.repaired_on), 0) AS at,
                coalesce(sum(p.impact_count) FILTER (WHERE p.date > c.repaired_on), 0) AS ai,
                count(p.date) FILTER (WHERE p.date > c.repaired_on) AS ad
           FROM segment_repair_checks c
           LEFT JOIN pothole_segments p
             ON p.s_id = c.s_id
            AND p.date BETWEEN c.repaired_on - c.check_days AND c.repaired_on + c.check_days
            AND p.date <> c.repaired_on
            AND p.date BETWEEN $3::date AND $4::date
          WHERE c.ended_at IS NULL AND NOT c.final
          GROUP BY c.repair_id, c.verdict),
       judged AS (
         SELECT f.*,
                CASE
                  WHEN f.at < $1 THEN '확인중'
                  -- after/at <= before/bt × (1 − drop), without dividing; no traffic before: no impacts after.
                  WHEN f.ai * f.bt * 100 <= f.bi * f.at * (100 - $2::numeric) AND (f.bt > 0 OR f.ai = 0)
                    THEN '효과 확인'
                  ELSE '재발'
                END AS verdict
           FROM figures f),
       updated AS (
         UPDATE segment_repair_checks c
            SET before_traffic = j.bt, before_impacts = j.bi, before_days = j.bd,
                after_traffic = j.at, after_impacts = j.ai, after_days = j.ad,
                verdict = j.verdict,
                decided_on = CASE WHEN j.verdict <> j.was THEN latest.day ELSE c.decided_on END,
                final = latest.day >= c.repaired_on + c.check_days,
                updated_at = now()
           FROM judged j, latest
          WHERE c.repair_id = j.repair_id
         RETURNING c.verdict, j.verdict <> j.was AS changed)
       SELECT verdict, count(*) AS n, count(*) FILTER (WHERE changed) AS changed FROM updated GROUP BY verdict`,
      [settings.minTraffic, settings.minDropPercent, first, last],
    );
    await client.query('COMMIT');
    const verdicts = Object.fromEntries(REPAIR_VERDICTS.map((v) => [v, 0])) as Record<RepairVerdict, number>;
    let changed = 0;
    for (const r of rows) {
      verdicts[r.verdict] = Number(r.n);
      changed += Number(r.changed);
    }
    return { opened: opened.rowCount ?? 0, ended: ended.rowCount ?? 0, verdicts, changed };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await work.release(client);
  }
}
