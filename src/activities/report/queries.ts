/**
 * What the daily report says, all about the batch date (which need not be the latest loaded date:
 * a rerun of an old date reports that date, not today's dashboard).
 */
import type pg from 'pg';

export interface ReportKpis {
  /** Rows (segments) loaded for the date. */
  segments: number;
  totalImpacts: number;
  /** Segments with at least one detected impact. */
  activeSegments: number;
  totalTraffic: number;
  /** The calendar day before, when it was loaded. */
  previousDate: string;
  previousTotalImpacts: number | null;
  previousActiveSegments: number | null;
}

export interface PriorityRow {
  rank: number;
  sId: string;
  roadName: string | null;
  district: string | null;
  lat: number | null;
  lon: number | null;
  score: number;
  impacts: number;
  complaints: number;
  /** Its repair did not hold: the open repair check's verdict is 재발, decided by the batch date. */
  recurred: boolean;
}

/** One side of a repair check: the days with data, their traffic and impacts, impacts per 100 passes. */
export interface CheckSide {
  days: number;
  traffic: number;
  impacts: number;
  /** null without traffic. */
  rate: number | null;
}

/** A repair whose verdict (효과 확인 or 재발) was decided in the 7 days up to the batch date. */
export interface RepairVerdictRow {
  sId: string;
  roadName: string | null;
  district: string | null;
  verdict: '효과 확인' | '재발';
  repairedOn: string;
  decidedOn: string;
  before: CheckSide;
  after: CheckSide;
}

export interface WorseningRow {
  sId: string;
  roadName: string | null;
  district: string | null;
  impacts: number;
  /** Average impact_count over the segment's 7 previous days (days it was present). */
  previousAverage: number;
  /** impacts / previousAverage. */
  ratio: number;
}

export interface TrendDay {
  date: string;
  impacts: number;
  segments: number;
}

export interface ReportData {
  batchDate: string;
  kpis: ReportKpis;
  topPriority: PriorityRow[];
  worsening: WorseningRow[];
  /** The batch date and the 6 days before it, oldest first; days without data count 0. */
  trend: TrendDay[];
  /** Repairs judged in the batch date and the 6 days before it: 재발 first, then 효과 확인, latest first. */
  repairVerdicts: RepairVerdictRow[];
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const side = (days: unknown, traffic: unknown, impacts: unknown, rate: unknown): CheckSide => ({
  days: num(days),
  traffic: num(traffic),
  impacts: num(impacts),
  rate: rate === null || rate === undefined ? null : Number(rate),
});

export async function loadReportData(pool: pg.Pool, batchDate: string): Promise<ReportData> {
  const [kpi, top, worse, trend, verdicts] = await Promise.all([
    pool.query(
      `WITH days AS (
         SELECT date, count(*) AS segments, sum(impact_count) AS impacts,
                count(*) FILTER (WHERE impact_count > 0) AS active, sum(total_count) AS traffic
           FROM pothole_segments WHERE date IN ($1::date, $1::date - 1) GROUP BY date)
       SELECT ($1::date - 1)::text AS previous_date,
              (SELECT segments FROM days WHERE date = $1::date) AS segments,
              (SELECT impacts FROM days WHERE date = $1::date) AS impacts,
              (SELECT active FROM days WHERE date = $1::date) AS active,
              (SELECT traffic FROM days WHERE date = $1::date) AS traffic,
              (SELECT impacts FROM days WHERE date = $1::date - 1) AS previous_impacts,
              (SELECT active FROM days WHERE date = $1::date - 1) AS previous_active`,
      [batchDate],
    ),
    // Same formula as the dashboard view, computed for the batch date.
    // Same formula as the dashboard view, computed for the batch date; a 재발 is marked, never re-ranked.
    pool.query(
      `SELECT p.priority_rank, p.s_id, p.road_name, p.district, p.centroid_lat, p.centroid_lon, p.priority_score,
              p.total_impacts, p.complaint_count, c.s_id IS NOT NULL AS recurred
         FROM pothole_repair_priority($1::date) p
         LEFT JOIN segment_repair_check_current c
           ON c.s_id = p.s_id AND c.verdict = '재발' AND c.decided_on <= $1::date
        ORDER BY p.priority_rank, p.s_id
        LIMIT 5`,
      [batchDate],
    ),
    pool.query(
      `SELECT cur.s_id, a.road_name, a.district, cur.impact_count, hist.avg_impacts
         FROM pothole_segments cur
         JOIN (SELECT s_id, avg(impact_count) AS avg_impacts
                 FROM pothole_segments
                WHERE date BETWEEN $1::date - 7 AND $1::date - 1
                GROUP BY s_id) hist ON hist.s_id = cur.s_id
         LEFT JOIN segment_address a ON a.s_id = cur.s_id
        WHERE cur.date = $1::date AND cur.impact_count > 1.5 * hist.avg_impacts
        ORDER BY cur.impact_count - hist.avg_impacts DESC, cur.s_id
        LIMIT 5`,
      [batchDate],
    ),
    pool.query(
      `SELECT d::date::text AS date, coalesce(sum(p.impact_count), 0) AS impacts, count(p.s_id) AS segments
         FROM generate_series($1::date - 6, $1::date, interval '1 day') d
         LEFT JOIN pothole_segments p ON p.date = d::date
        GROUP BY d ORDER BY d`,
      [batchDate],
    ),
    pool.query(
      `SELECT c.s_id, a.road_name, a.district, c.verdict, c.repaired_on::text AS repaired_on,
              c.decided_on::text AS decided_on, c.before_days, c.before_traffic, c.before_impacts, c.before_rate,
              c.after_days, c.after_traffic, c.after_impacts, c.after_rate
         FROM segment_repair_check_current c
         LEFT JOIN segment_address a ON a.s_id = c.s_id
        WHERE c.verdict IN ('효과 확인', '재발') AND c.decided_on BETWEEN $1::date - 6 AND $1::date
        ORDER BY c.verdict = '재발' DESC, c.decided_on DESC, c.s_id`,
      [batchDate],
    ),
  ]);
  const k = kpi.rows[0] ?? {};
  return {
    batchDate,
    kpis: {
      segments: num(k.segments),
      totalImpacts: num(k.impacts),
      activeSegments: num(k.active),
      totalTraffic: num(k.traffic),
      previousDate: k.previous_date,
      previousTotalImpacts: k.previous_impacts === null ? null : num(k.previous_impacts),
      previousActiveSegments: k.previous_active === null ? null : num(k.previous_active),
    },
    topPriority: top.rows.map((r) => ({
      rank: num(r.priority_rank),
      sId: r.s_id,
      roadName: r.road_name,
      district: r.district,
      lat: r.centroid_lat,
      lon: r.centroid_lon,
      score: num(r.priority_score),
      impacts: num(r.total_impacts),
      complaints: num(r.complaint_count),
      recurred: r.recurred === true,
    })),
    worsening: worse.rows.map((r) => ({
      sId: r.s_id,
      roadName: r.road_name,
      district: r.district,
      impacts: num(r.impact_count),
      previousAverage: num(r.avg_impacts),
      ratio: num(r.avg_impacts) > 0 ? num(r.impact_count) / num(r.avg_impacts) : Infinity,
    })),
    trend: trend.rows.map((r) => ({ date: r.date, impacts: num(r.impacts), segments: num(r.segments) })),
    repairVerdicts: verdicts.rows.map((r) => ({
      sId: r.s_id,
      roadName: r.road_name,
      district: r.district,
      verdict: r.verdict,
      repairedOn: r.repaired_on,
      decidedOn: r.decided_on,
      before: side(r.before_days, r.before_traffic, r.before_impacts, r.before_rate),
      after: side(r.after_days, r.after_traffic, r.after_impacts, r.after_rate),
    })),
  };
}
