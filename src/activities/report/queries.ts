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
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

export async function loadReportData(pool: pg.Pool, batchDate: string): Promise<ReportData> {
  const [kpi, top, worse, trend] = await Promise.all([
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
    pool.query(
      `SELECT priority_rank, s_id, road_name, district, centroid_lat, centroid_lon, priority_score,
              total_impacts, complaint_count
         FROM pothole_repair_priority($1::date)
        ORDER BY priority_rank, s_id
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
  };
}
