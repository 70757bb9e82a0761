-- Repair priority of one day, shared by the dashboard view (latest day) and the daily report (batch day)
-- so both always rank with the same formula:
--   priority_score = impacts x 1 + complaints x 50 + road_grade x 10 (grade 3 when unknown).
CREATE OR REPLACE FUNCTION pothole_repair_priority(p_date date)
RETURNS TABLE (
  date date,
  s_id varchar(50),
  road_name varchar(200),
  district varchar(100),
  centroid_lat double precision,
  centroid_lon double precision,
  total_traffic integer,
  total_impacts integer,
  complaint_count integer,
  priority_score bigint,
  priority_rank bigint
)
LANGUAGE sql STABLE
AS $$
  SELECT scored.*, rank() OVER (ORDER BY scored.priority_score DESC) AS priority_rank
  FROM (
    SELECT p.date, p.s_id, a.road_name, a.district, p.centroid_lat, p.centroid_lon,
           p.total_count AS total_traffic, p.impact_count AS total_impacts,
           coalesce(c.complaints, 0)::integer AS complaint_count,
           p.impact_count::bigint + coalesce(c.complaints, 0) * 50 + coalesce(g.road_grade, 3) * 10
             AS priority_score
    FROM pothole_segments p
    LEFT JOIN segment_address a ON a.s_id = p.s_id
    LEFT JOIN segment_road_grade g ON g.s_id = p.s_id
    LEFT JOIN (
      SELECT nearest_s_id, count(*) AS complaints FROM pothole_complaints GROUP BY nearest_s_id
    ) c ON c.nearest_s_id = p.s_id
    WHERE p.date = p_date
  ) scored
$$;

CREATE MATERIALIZED VIEW IF NOT EXISTS mvw_dashboard_heatmap AS
SELECT p.date, p.s_id, a.road_name, a.district, p.centroid_lon, p.centroid_lat,
       p.total_count, p.impact_count,
       CASE WHEN p.total_count > 0 THEN round(p.impact_count::numeric / p.total_count * 100, 2) ELSE 0 END
         AS risk_rate
FROM pothole_segments p
LEFT JOIN segment_address a ON a.s_id = p.s_id
WHERE p.date = (SELECT max(date) FROM pothole_segments);

CREATE UNIQUE INDEX IF NOT EXISTS ux_mvw_dashboard_heatmap ON mvw_dashboard_heatmap (s_id, date);

CREATE MATERIALIZED VIEW IF NOT EXISTS mvw_dashboard_weekly_stats AS
SELECT p.date, extract(isodow FROM p.date)::integer AS day_of_week, trim(to_char(p.date, 'Day')) AS day_name,
       p.s_id, a.road_name, p.total_count, p.impact_count
FROM pothole_segments p
LEFT JOIN segment_address a ON a.s_id = p.s_id
WHERE p.date BETWEEN (SELECT max(date) - 6 FROM pothole_segments) AND (SELECT max(date) FROM pothole_segments);

CREATE UNIQUE INDEX IF NOT EXISTS ux_mvw_dashboard_weekly_stats ON mvw_dashboard_weekly_stats (s_id, date);

CREATE MATERIALIZED VIEW IF NOT EXISTS mvw_dashboard_repair_priority AS
SELECT * FROM pothole_repair_priority((SELECT max(date) FROM pothole_segments));

CREATE UNIQUE INDEX IF NOT EXISTS ux_mvw_dashboard_repair_priority ON mvw_dashboard_repair_priority (s_id);
