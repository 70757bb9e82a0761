/**
 * The dashboard's answers that depend on the published views alone (the map's columns, the 7-day trend, the
 * districts), computed by refresh_views inside the transaction that publishes a generation (migration 007,
 * dashboard_answers): the first visitor after a refresh reads one ready row instead of computing them. Each answer
 * is the JSON the dashboard sends, built by PostgreSQL.
 */
import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'>;

/** Each query yields one row with `body`, read from the views as they are in the calling transaction. */
export const ANSWER_QUERIES = {
  /** The latest day's segments for the map, column by column (100,000 segments stay a few MB). */
  map: `SELECT json_build_object(
                 'date', max(date)::text,
                 'count', count(*),
                 'ids', coalesce(json_agg(s_id), '[]'),
                 'lon', coalesce(json_agg(round(centroid_lon * 1e6) / 1e6), '[]'),
                 'lat', coalesce(json_agg(round(centroid_lat * 1e6) / 1e6), '[]'),
                 'risk', coalesce(json_agg(risk_rate), '[]'),
                 'impacts', coalesce(json_agg(impact_count), '[]')
               )::text AS body
          FROM mvw_dashboard_heatmap
         WHERE centroid_lon IS NOT NULL AND centroid_lat IS NOT NULL`,
  /**
   * The 7 days up to the published day $1 (days without data at 0), and the top 10 segments' change from the day
   * before. From pothole_segments with the days as constants, so only those partitions are planned and read.
   */
  trend: `WITH sums AS (SELECT date, sum(total_count) AS traffic, sum(impact_count) AS impacts
                      FROM pothole_segments WHERE date BETWEEN $1::date - 6 AND $1::date GROUP BY date),
               days AS (SELECT g::date AS date, coalesce(sums.traffic, 0) AS traffic,
                               coalesce(sums.impacts, 0) AS impacts
                          FROM generate_series($1::date - 6, $1::date, interval '1 day') g
                          LEFT JOIN sums ON sums.date = g::date),
               top AS (SELECT p.s_id, p.road_name, p.priority_rank, coalesce(cur.impact_count, 0) AS impacts,
                              prev.impact_count AS previous_impacts, coalesce(cur.total_count, 0) AS traffic,
                              prev.total_count AS previous_traffic
                         FROM (SELECT * FROM mvw_dashboard_repair_priority ORDER BY priority_rank, s_id LIMIT 10) p
                         LEFT JOIN pothole_segments cur ON cur.s_id = p.s_id AND cur.date = $1::date
                         LEFT JOIN pothole_segments prev ON prev.s_id = p.s_id AND prev.date = $1::date - 1)
          SELECT json_build_object(
                   'days', coalesce((SELECT json_agg(json_build_object('date', date::text, 'traffic', traffic,
                                                                        'impacts', impacts) ORDER BY date)
                                       FROM days), '[]'),
                   'top', coalesce((SELECT json_agg(top ORDER BY priority_rank, s_id) FROM top), '[]')
                 )::text AS body`,
  /** The districts of the latest day, for the list's filter. */
  districts: `SELECT coalesce(json_agg(district ORDER BY district), '[]')::text AS body
                FROM (SELECT DISTINCT district FROM mvw_dashboard_repair_priority WHERE district IS NOT NULL) d`,
} as const;

export type AnswerName = keyof typeof ANSWER_QUERIES;

/** Computes one answer from the views as the caller's connection sees them; `date` is the published day. */
export async function computeAnswer(db: Queryable, name: AnswerName, date: string | null): Promise<string> {
  const { rows } = await db.query<{ body: string }>(ANSWER_QUERIES[name], name === 'trend' ? [date] : []);
  return rows[0]!.body;
}

/** Stores every answer for `generation` (of `date`); called in the transaction that publishes it. */
export async function storeAnswers(
  client: Queryable,
  generation: number,
  date: string | null,
): Promise<void> {
  for (const name of Object.keys(ANSWER_QUERIES) as AnswerName[]) {
    await client.query(
      `INSERT INTO dashboard_answers (generation, name, body) VALUES ($1, $2, $3)
       ON CONFLICT (generation, name) DO UPDATE SET body = excluded.body`,
      [generation, name, await computeAnswer(client, name, date)],
    );
  }
}

/** The published generation's answer, or one computed now when the generation has none (published before 007). */
export async function readAnswer(pool: Queryable, name: AnswerName): Promise<string> {
  const { rows } = await pool.query<{ body: string | null; date: string | null }>(
    `SELECT a.body, s.date::text AS date FROM dashboard_snapshot s
       LEFT JOIN dashboard_answers a ON a.generation = s.generation AND a.name = $1`,
    [name],
  );
  return rows[0]?.body ?? computeAnswer(pool, name, rows[0]?.date ?? null);
}

/** Answers of generations no longer published (the previous one is kept, as its views are). */
export async function dropOldAnswers(client: Queryable, current: number): Promise<void> {
  await client.query('DELETE FROM dashboard_answers WHERE generation < $1', [current - 1]);
}
