/**
 * What the dashboard reads: the three views under their original column names, joined with the repair status
 * (which changes between refreshes, so it is never baked into a view). Parameterised SQL only.
 */
import type { Pool } from 'pg';
import { readAnswer } from '../db/dashboard-answers';
import type { RepairVerdict } from '../db/repair-checks';
import { REPAIR_STATUSES, type RepairStatus } from './status';

/** The weights of pothole_repair_priority() (migration 002): the score's parts are derived from them. */
const SCORE_WEIGHTS = { impact: 1, complaint: 50, roadGrade: 10 } as const;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const status = (v: unknown): RepairStatus => (v as RepairStatus | null) ?? '미보수';

/**
 * The latest day's segments for the map, column by column, as JSON the server passes through without parsing it.
 * From the views alone: refresh_views computes it with each generation (src/db/dashboard-answers.ts), and the
 * repair statuses come separately, from changedStatuses.
 */
export async function mapSegments(pool: Pool): Promise<string> {
  return readAnswer(pool, 'map');
}

/** Segments whose repair status is not the first (미보수), as columns; `status` indexes REPAIR_STATUSES. */
export async function changedStatuses(pool: Pool): Promise<{ ids: string[]; status: number[] }> {
  const { rows } = await pool.query<{ s_id: string; repair_status: RepairStatus }>(
    `SELECT s_id, repair_status FROM segment_repair_status WHERE repair_status <> $1`,
    [REPAIR_STATUSES[0]],
  );
  return {
    ids: rows.map((r) => r.s_id),
    status: rows.map((r) => REPAIR_STATUSES.indexOf(r.repair_status)),
  };
}

export interface SegmentDetail {
  s_id: string;
  date: string;
  road_name: string | null;
  district: string | null;
  total_count: number;
  impact_count: number;
  risk_rate: number;
  complaint_count: number;
  priority_rank: number | null;
  priority_score: number | null;
  repair_status: RepairStatus;
  status_updated_at: string | null;
  status_note: string | null;
}

/** One segment of the latest day, for the map's popup; undefined when it is not on the map. */
export async function segmentDetail(pool: Pool, sId: string): Promise<SegmentDetail | undefined> {
  const { rows } = await pool.query(
    `SELECT h.s_id, h.date::text AS date, h.road_name, h.district, h.total_count, h.impact_count, h.risk_rate,
            p.complaint_count, p.priority_rank, p.priority_score,
            s.repair_status, s.updated_at AS status_updated_at, s.note AS status_note
       FROM mvw_dashboard_heatmap h
       LEFT JOIN mvw_dashboard_repair_priority p ON p.s_id = h.s_id
       LEFT JOIN segment_repair_status s ON s.s_id = h.s_id
      WHERE h.s_id = $1`,
    [sId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    s_id: r.s_id,
    date: r.date,
    road_name: r.road_name,
    district: r.district,
    total_count: num(r.total_count),
    impact_count: num(r.impact_count),
    risk_rate: num(r.risk_rate),
    complaint_count: num(r.complaint_count),
    priority_rank: r.priority_rank === null ? null : num(r.priority_rank),
    priority_score: r.priority_score === null ? null : num(r.priority_score),
    repair_status: status(r.repair_status),
    status_updated_at: r.status_updated_at?.toISOString() ?? null,
    status_note: r.status_note,
  };
}

export interface PriorityFilter {
  district?: string;
  status?: RepairStatus;
  /** The verdict of the segment's repair check (segments without a check never match). */
  check?: RepairVerdict;
  /** A segment id prefix or part of a road name, case-insensitive. */
  search?: string;
}

export interface PriorityRow {
  priority_rank: number;
  s_id: string;
  road_name: string | null;
  district: string | null;
  total_traffic: number;
  total_impacts: number;
  complaint_count: number;
  priority_score: number;
  /** The score's parts: impacts × 1, complaints × 50, road grade × 10 (grade 3 when unknown). */
  impact_term: number;
  complaint_term: number;
  road_grade_term: number;
  repair_status: RepairStatus;
  status_updated_at: string | null;
  status_note: string | null;
  /** The verdict of the segment's open repair check (확인중, 효과 확인, 재발); null without one. */
  check_verdict: RepairVerdict | null;
}

const likePattern = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function filterClause(filter: PriorityFilter): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const conditions: string[] = [];
  if (filter.district) {
    params.push(filter.district);
    conditions.push(`p.district = $${params.length}`);
  }
  if (filter.status === REPAIR_STATUSES[0]) {
    params.push(filter.status);
    conditions.push(`(s.repair_status IS NULL OR s.repair_status = $${params.length})`);
  } else if (filter.status) {
    // Strict on s: the planner turns the outer join into an inner one, driven by the few changed segments.
    params.push(filter.status);
    conditions.push(`s.repair_status = $${params.length}`);
  }
  if (filter.check) {
    params.push(filter.check);
    conditions.push(`c.verdict = $${params.length}`);
  }
  if (filter.search) {
    params.push(likePattern(filter.search));
    const n = params.length;
    conditions.push(`(p.s_id ILIKE $${n} || '%' OR p.road_name ILIKE '%' || $${n} || '%')`);
  }
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

const PRIORITY_COLUMNS = `p.priority_rank, p.s_id, p.road_name, p.district, p.total_traffic, p.total_impacts,
  p.complaint_count, p.priority_score, s.repair_status, s.updated_at AS status_updated_at, s.note AS status_note,
  c.verdict AS check_verdict`;

/**
 * Each segment's open repair check (migration 007), as the road manager sees it: a check whose segment's status
 * changed after the repair (moved back to 미보수) is over at once, though refresh_views ends it only that night.
 */
export const OPEN_CHECKS = `(SELECT * FROM segment_repair_check_current oc
   WHERE NOT EXISTS (SELECT 1 FROM segment_repair_status_history h
                      WHERE h.s_id = oc.s_id AND h.id > oc.repair_id))`;

/** The list's relations: the ranked view, the repair status and the open repair check (both may be missing). */
const PRIORITY_WITHOUT_CHECKS = `mvw_dashboard_repair_priority p
  LEFT JOIN segment_repair_status s ON s.s_id = p.s_id`;
const PRIORITY_FROM = `${PRIORITY_WITHOUT_CHECKS}
  LEFT JOIN ${OPEN_CHECKS} c ON c.s_id = p.s_id`;

function priorityRow(r: Record<string, unknown>): PriorityRow {
  const impacts = num(r.total_impacts);
  const complaints = num(r.complaint_count);
  const score = num(r.priority_score);
  const impactTerm = impacts * SCORE_WEIGHTS.impact;
  const complaintTerm = complaints * SCORE_WEIGHTS.complaint;
  return {
    priority_rank: num(r.priority_rank),
    s_id: r.s_id as string,
    road_name: r.road_name as string | null,
    district: r.district as string | null,
    total_traffic: num(r.total_traffic),
    total_impacts: impacts,
    complaint_count: complaints,
    priority_score: score,
    impact_term: impactTerm,
    complaint_term: complaintTerm,
    road_grade_term: score - impactTerm - complaintTerm,
    repair_status: status(r.repair_status),
    status_updated_at: (r.status_updated_at as Date | null)?.toISOString() ?? null,
    status_note: r.status_note as string | null,
    check_verdict: (r.check_verdict as RepairVerdict | null) ?? null,
  };
}

export interface PriorityPage {
  date: string | null;
  /** Segments matching the filter (all pages). */
  matching: number;
  rows: PriorityRow[];
}

/** One page of the repair-priority list, best first. */
export async function priorityPage(
  pool: Pool,
  filter: PriorityFilter,
  page: { limit: number; offset: number },
): Promise<PriorityPage> {
  const { where, params } = filterClause(filter);
  const n = params.length;
  // One statement (one connection, one round trip): the page, and how many match in all.
  const from = `FROM ${PRIORITY_FROM} ${where}`;
  // Counting without a check filter needs no repair check per segment: the count reads the ranked rows alone.
  const countFrom = filter.check ? from : `FROM ${PRIORITY_WITHOUT_CHECKS} ${where}`;
  const { rows } = await pool.query(
    `SELECT page.*, total.n AS matching
       FROM (SELECT count(*) AS n ${countFrom}) total
       LEFT JOIN (SELECT ${PRIORITY_COLUMNS}, p.date::text AS date ${from}
                   ORDER BY p.priority_rank, p.s_id LIMIT $${n + 1} OFFSET $${n + 2}) page ON true
      ORDER BY page.priority_rank, page.s_id`,
    [...params, page.limit, page.offset],
  );
  const list = rows.filter((r) => r.s_id !== null);
  return {
    date: list[0]?.date ?? (await latestDate(pool)),
    matching: num(rows[0]?.matching),
    rows: list.map(priorityRow),
  };
}

/** The day the repair-priority view ranks (the latest loaded), or null before the first load. */
export async function latestDate(pool: Pool): Promise<string | null> {
  const { rows } = await pool.query<{ date: string }>(
    'SELECT date::text AS date FROM mvw_dashboard_repair_priority LIMIT 1',
  );
  return rows[0]?.date ?? null;
}

/** Every segment matching the filter, best first (the CSV download). */
export async function priorityRows(pool: Pool, filter: PriorityFilter): Promise<PriorityRow[]> {
  const { where, params } = filterClause(filter);
  const { rows } = await pool.query(
    `SELECT ${PRIORITY_COLUMNS}
       FROM ${PRIORITY_FROM}
       ${where}
      ORDER BY p.priority_rank, p.s_id`,
    params,
  );
  return rows.map(priorityRow);
}

/** The districts of the latest day, for the list's filter. */
export async function districts(pool: Pool): Promise<string[]> {
  return JSON.parse(await readAnswer(pool, 'districts')) as string[];
}

export interface TrendDay {
  date: string;
  traffic: number;
  impacts: number;
}

export interface SegmentChange {
  s_id: string;
  road_name: string | null;
  priority_rank: number;
  impacts: number;
  /** The day before's impacts; null when the segment had no row that day. */
  previous_impacts: number | null;
  traffic: number;
  previous_traffic: number | null;
}

export interface Trend {
  days: TrendDay[];
  /** The top segments of the repair-priority list, with their change from the day before. */
  top: SegmentChange[];
}

/** The 7-day trend (latest date and the 6 days before, days without data at 0) and the top segments' change. */
export async function trend(pool: Pool): Promise<Trend> {
  return JSON.parse(await readAnswer(pool, 'trend')) as Trend;
}
