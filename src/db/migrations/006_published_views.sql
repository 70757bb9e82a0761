-- The dashboards' three relations keep their names, columns (names, order, types) and contents, but are no
-- longer materialized views. At national scale (4M segments a day) REFRESH ... CONCURRENTLY costs a diff of the
-- whole view against its new content (over 4 minutes for the three even when nothing changed), and the latest
-- day's rows change entirely every day, so the diff never pays. Instead refresh_views (src/db/dashboard-views.ts)
-- publishes a snapshot:
--   * the heatmap's and the repair priority's rows of the latest day are built once into fresh tables (a
--     "generation"), indexed, then ATTACHed to the partitioned tables below: readers never wait for the build,
--     and ATTACH does not wait for readers either (it takes SHARE UPDATE EXCLUSIVE on the parent);
--   * dashboard_snapshot names the published generation and its day, switched in the same transaction as the
--     ATTACHes, so the three views change together;
--   * the weekly stats, the latest day and the 6 before it as they are in pothole_segments, are a plain view
--     bounded by that day: a copy of 28M rows would cost more to build than it saves to read.
-- Old generations are dropped by later refreshes when no reader holds them.

CREATE TABLE IF NOT EXISTS dashboard_snapshot (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  generation bigint NOT NULL,
  date date,
  published_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE IF NOT EXISTS dashboard_generation_seq;

DROP MATERIALIZED VIEW IF EXISTS mvw_dashboard_heatmap;
DROP MATERIALIZED VIEW IF EXISTS mvw_dashboard_weekly_stats;
DROP MATERIALIZED VIEW IF EXISTS mvw_dashboard_repair_priority;

CREATE TABLE dashboard_heatmap_rows (
  generation bigint NOT NULL,
  date date,
  s_id varchar(50) COLLATE "C",
  road_name varchar(200),
  district varchar(100),
  centroid_lon double precision,
  centroid_lat double precision,
  total_count integer,
  impact_count integer,
  risk_rate numeric
) PARTITION BY LIST (generation);

CREATE UNIQUE INDEX ux_dashboard_heatmap_rows ON dashboard_heatmap_rows (generation, s_id);

-- pothole_repair_priority() returns its text columns without a length: the view always showed them so.
CREATE TABLE dashboard_priority_rows (
  generation bigint NOT NULL,
  date date,
  s_id varchar COLLATE "C",
  road_name varchar,
  district varchar,
  centroid_lat double precision,
  centroid_lon double precision,
  total_traffic integer,
  total_impacts integer,
  complaint_count integer,
  priority_score bigint,
  priority_rank bigint
) PARTITION BY LIST (generation);

CREATE UNIQUE INDEX ux_dashboard_priority_rows ON dashboard_priority_rows (generation, s_id);
-- The dashboard's list reads page by page in rank order.
CREATE INDEX idx_dashboard_priority_rows_rank ON dashboard_priority_rows (generation, priority_rank, s_id);

-- The heatmap's rows of one day, beside pothole_repair_priority() (002): what refresh_views publishes.
CREATE OR REPLACE FUNCTION pothole_heatmap(p_date date)
RETURNS TABLE (
  date date,
  s_id varchar(50),
  road_name varchar(200),
  district varchar(100),
  centroid_lon double precision,
  centroid_lat double precision,
  total_count integer,
  impact_count integer,
  risk_rate numeric
)
LANGUAGE sql STABLE
AS $$
  SELECT p.date, p.s_id, a.road_name, a.district, p.centroid_lon, p.centroid_lat, p.total_count, p.impact_count,
         CASE WHEN p.total_count > 0 THEN round(p.impact_count::numeric / p.total_count * 100, 2) ELSE 0 END
  FROM pothole_segments p
  LEFT JOIN segment_address a ON a.s_id = p.s_id
  WHERE p.date = p_date
$$;

CREATE VIEW mvw_dashboard_heatmap AS
SELECT date, s_id, road_name, district, centroid_lon, centroid_lat, total_count, impact_count, risk_rate
FROM dashboard_heatmap_rows
WHERE generation = (SELECT generation FROM dashboard_snapshot);

CREATE VIEW mvw_dashboard_weekly_stats AS
SELECT p.date, extract(isodow FROM p.date) AS dow_num, to_char(p.date, 'Day') AS day_of_week,
       p.s_id, a.road_name, p.total_count, p.impact_count
FROM pothole_segments p
LEFT JOIN segment_address a ON a.s_id = p.s_id
WHERE p.date BETWEEN (SELECT date - 6 FROM dashboard_snapshot) AND (SELECT date FROM dashboard_snapshot);

CREATE VIEW mvw_dashboard_repair_priority AS
SELECT date, s_id, road_name, district, centroid_lat, centroid_lon, total_traffic, total_impacts,
       complaint_count, priority_score, priority_rank
FROM dashboard_priority_rows
WHERE generation = (SELECT generation FROM dashboard_snapshot);

-- The first generation, from the data already loaded: the views read as before right after the upgrade.
CREATE TABLE dashboard_heatmap_rows_g1 PARTITION OF dashboard_heatmap_rows FOR VALUES IN (1);
CREATE TABLE dashboard_priority_rows_g1 PARTITION OF dashboard_priority_rows FOR VALUES IN (1);
SELECT setval('dashboard_generation_seq', 1);
-- The day as a constant, so only its partition is read (a join to the snapshot row would scan every day).
DO $$
DECLARE
  latest date := (SELECT max(date) FROM pothole_segments);
BEGIN
  INSERT INTO dashboard_snapshot (generation, date) VALUES (1, latest);
  EXECUTE format('INSERT INTO dashboard_heatmap_rows SELECT 1, h.* FROM pothole_heatmap(%L::date) h', latest);
  EXECUTE format('INSERT INTO dashboard_priority_rows SELECT 1, r.* FROM pothole_repair_priority(%L::date) r', latest);
END
$$;
