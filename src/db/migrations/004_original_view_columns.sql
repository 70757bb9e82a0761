-- The dashboard reads the three views by the original column names, in the original order; columns may only be
-- added after them. 002 had named the weekly view's ISO weekday number day_of_week and its name day_name; the
-- original calls the number dow_num and the name day_of_week, as to_char(date, 'Day') gives it (blank-padded
-- to nine characters). The heatmap and the repair priority already had the original columns: they are built
-- again here so every database, including one whose views predate these migrations (002 only creates views
-- that do not exist), ends with the same definitions.
-- Each view keeps a unique index: REFRESH ... CONCURRENTLY (refresh_views) needs one.

DROP MATERIALIZED VIEW IF EXISTS mvw_dashboard_heatmap;
DROP MATERIALIZED VIEW IF EXISTS mvw_dashboard_weekly_stats;
DROP MATERIALIZED VIEW IF EXISTS mvw_dashboard_repair_priority;

CREATE MATERIALIZED VIEW mvw_dashboard_heatmap AS
SELECT p.date, p.s_id, a.road_name, a.district, p.centroid_lon, p.centroid_lat,
       p.total_count, p.impact_count,
       CASE WHEN p.total_count > 0 THEN round(p.impact_count::numeric / p.total_count * 100, 2) ELSE 0 END
         AS risk_rate
FROM pothole_segments p
LEFT JOIN segment_address a ON a.s_id = p.s_id
WHERE p.date = (SELECT max(date) FROM pothole_segments);

CREATE UNIQUE INDEX ux_mvw_dashboard_heatmap ON mvw_dashboard_heatmap (s_id, date);

CREATE MATERIALIZED VIEW mvw_dashboard_weekly_stats AS
SELECT p.date, extract(isodow FROM p.date) AS dow_num, to_char(p.date, 'Day') AS day_of_week,
       p.s_id, a.road_name, p.total_count, p.impact_count
FROM pothole_segments p
LEFT JOIN segment_address a ON a.s_id = p.s_id
WHERE p.date BETWEEN (SELECT max(date) - 6 FROM pothole_segments) AND (SELECT max(date) FROM pothole_segments);

CREATE UNIQUE INDEX ux_mvw_dashboard_weekly_stats ON mvw_dashboard_weekly_stats (s_id, date);

CREATE MATERIALIZED VIEW mvw_dashboard_repair_priority AS
SELECT * FROM pothole_repair_priority((SELECT max(date) FROM pothole_segments));

CREATE UNIQUE INDEX ux_mvw_dashboard_repair_priority ON mvw_dashboard_repair_priority (s_id);
