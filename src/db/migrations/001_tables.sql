-- Serving schema read by the dashboards: keep table and column names stable.
-- Segment ids are identifiers, not words: they compare byte-wise (COLLATE "C") everywhere, which makes
-- sorting and index builds on them markedly cheaper than a linguistic collation.

-- Fact table, one row per segment and day. Range-partitioned by DAY: a (re)load builds the day's
-- partition as a fresh, indexed table and swaps it in (see src/activities/load.ts), which is several
-- times cheaper than deleting and re-inserting a day inside a monthly partition with five indexes.
-- Partitions are created by the load itself, so a new month never needs a hand-made partition.
CREATE TABLE IF NOT EXISTS pothole_segments (
  s_id varchar(50) COLLATE "C" NOT NULL,
  centroid_lon double precision,
  centroid_lat double precision,
  date date NOT NULL,
  impact_count integer NOT NULL DEFAULT 0,
  total_count integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (s_id, date)
) PARTITION BY RANGE (date);

CREATE INDEX IF NOT EXISTS idx_pothole_segments_date ON pothole_segments (date DESC);
CREATE INDEX IF NOT EXISTS idx_pothole_segments_s_id ON pothole_segments (s_id);
CREATE INDEX IF NOT EXISTS idx_pothole_segments_date_s_id ON pothole_segments (date DESC, s_id);
CREATE INDEX IF NOT EXISTS idx_pothole_segments_impact ON pothole_segments (impact_count DESC);

CREATE TABLE IF NOT EXISTS segment_address (
  s_id varchar(50) COLLATE "C" PRIMARY KEY,
  road_name varchar(200),
  district varchar(100),
  centroid_lon double precision,
  centroid_lat double precision,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS segment_road_grade (
  s_id varchar(50) COLLATE "C" PRIMARY KEY,
  link_id varchar(50),
  road_grade integer CHECK (road_grade BETWEEN 1 AND 5)
);

CREATE TABLE IF NOT EXISTS segment_repair_status (
  s_id varchar(50) COLLATE "C" PRIMARY KEY,
  repair_status varchar(20) NOT NULL DEFAULT '미보수'
    CHECK (repair_status IN ('미보수', '보수중', '보수완료')),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS pothole_complaints (
  id serial PRIMARY KEY,
  create_dt date,
  event_lat double precision,
  event_lon double precision,
  nearest_s_id varchar(50) COLLATE "C",
  distance_m double precision,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (create_dt, event_lat, event_lon)
);

CREATE INDEX IF NOT EXISTS idx_pothole_complaints_nearest_s_id ON pothole_complaints (nearest_s_id);
CREATE INDEX IF NOT EXISTS idx_pothole_complaints_create_dt ON pothole_complaints (create_dt DESC);
