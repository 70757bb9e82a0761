/**
 * Did the repair hold? What the dashboard shows of the repair checks refresh_views keeps (migration 007): a
 * segment's open check for its popup, the verdicts for the map, and the 12-month trends from the monthly roll-up.
 * A check ends when the segment's status moves on (back to 미보수): it is no longer shown from that moment, not
 * only from the next refresh (which sets its ended_at).
 */
import type { Pool } from 'pg';
import { networkMonths, segmentMonths, type MonthFigures } from '../db/monthly-rollup';
import { REPAIR_VERDICTS, type RepairVerdict } from '../db/repair-checks';
import { latestDate, OPEN_CHECKS } from './queries';

export { REPAIR_VERDICTS, type RepairVerdict, type MonthFigures };

/** Months in the trends: the latest loaded day's month and the 11 before it. */
const TREND_MONTHS = 12;

export interface CheckSide {
  /** Days with data, out of check_days. */
  days: number;
  traffic: number;
  impacts: number;
  /** Impacts per 100 passes; null without traffic. */
  rate: number | null;
}

export interface RepairCheck {
  verdict: RepairVerdict;
  repaired_on: string;
  check_days: number;
  /** The latest loaded day when the verdict last changed (null while it never changed from 확인중). */
  decided_on: string | null;
  /** The after-window has passed: the verdict no longer changes. */
  final: boolean;
  before: CheckSide;
  after: CheckSide;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const rate = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** The segment's open check (its latest repair's, while the status stays 보수완료), or null. */
export async function repairCheck(pool: Pool, sId: string): Promise<RepairCheck | null> {
  const { rows } = await pool.query(
    `SELECT verdict, repaired_on::text AS repaired_on, check_days, decided_on::text AS decided_on, final,
            before_days, before_traffic, before_impacts, before_rate,
            after_days, after_traffic, after_impacts, after_rate
       FROM ${OPEN_CHECKS} c WHERE c.s_id = $1`,
    [sId],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    verdict: r.verdict,
    repaired_on: r.repaired_on,
    check_days: num(r.check_days),
    decided_on: r.decided_on,
    final: r.final,
    before: {
      days: num(r.before_days),
      traffic: num(r.before_traffic),
      impacts: num(r.before_impacts),
      rate: rate(r.before_rate),
    },
    after: {
      days: num(r.after_days),
      traffic: num(r.after_traffic),
      impacts: num(r.after_impacts),
      rate: rate(r.after_rate),
    },
  };
}

/**
 * The segments with an open check, as columns; `verdict` indexes REPAIR_VERDICTS. Read on every request: a
 * verdict changes at refresh, and a status moved back ends its check at the next one.
 */
export async function checkVerdicts(pool: Pool): Promise<{ ids: string[]; verdict: number[] }> {
  const { rows } = await pool.query<{ s_id: string; verdict: RepairVerdict }>(
    `SELECT s_id, verdict FROM ${OPEN_CHECKS} c`,
  );
  return {
    ids: rows.map((r) => r.s_id),
    verdict: rows.map((r) => REPAIR_VERDICTS.indexOf(r.verdict)),
  };
}

export interface MonthlyTrend {
  /** The latest loaded day, whose month ends the trend; null before the first load. */
  date: string | null;
  /** Oldest first; months without data at 0. */
  months: MonthFigures[];
}

/** The whole network's last 12 months through the latest loaded day's month (from the views alone). */
export async function networkTrend(pool: Pool): Promise<MonthlyTrend> {
  const date = await latestDate(pool);
  return { date, months: date ? await networkMonths(pool, date, TREND_MONTHS) : [] };
}

/** One segment's last 12 months through `date`'s month. */
export function segmentTrend(pool: Pool, sId: string, date: string): Promise<MonthFigures[]> {
  return segmentMonths(pool, sId, date, TREND_MONTHS);
}
