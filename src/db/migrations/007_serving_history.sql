-- A year at national scale (src/db/serving-history/): whether a repair held, a monthly roll-up that outlives the
-- day partitions, and ready answers the dashboard reads right after a refresh.

-- Did the repair hold? One row per repair: a change to 보수완료 in segment_repair_status_history. refresh_views
-- compares the impact rate (impacts per 100 passes) over the check_days days after the repair with as many days
-- before it, once after_traffic reaches REPAIR_CHECK_MIN_TRAFFIC:
--   확인중     not enough traffic yet;
--   효과 확인  the rate fell by at least REPAIR_EFFECT_MIN_DROP per cent;
--   재발       it did not: the rate is back above that threshold.
-- The repair day itself counts on neither side. A later status change of the segment (back to 미보수) ends the
-- check (ended_at); a check whose after-window has passed is final and no longer recomputed.
CREATE TABLE IF NOT EXISTS segment_repair_checks (
  repair_id bigint PRIMARY KEY,
  s_id varchar(50) COLLATE "C" NOT NULL,
  repaired_on date NOT NULL,
  check_days integer NOT NULL CHECK (check_days > 0),
  verdict varchar(10) NOT NULL DEFAULT '확인중' CHECK (verdict IN ('확인중', '효과 확인', '재발')),
  before_traffic bigint NOT NULL DEFAULT 0,
  before_impacts bigint NOT NULL DEFAULT 0,
  after_traffic bigint NOT NULL DEFAULT 0,
  after_impacts bigint NOT NULL DEFAULT 0,
  -- Days with data on each side, out of check_days.
  before_days integer NOT NULL DEFAULT 0,
  after_days integer NOT NULL DEFAULT 0,
  -- The latest loaded day when the verdict last changed: the report lists the week's new verdicts by it.
  decided_on date,
  final boolean NOT NULL DEFAULT false,
  ended_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_segment_repair_checks_open ON segment_repair_checks (s_id) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_segment_repair_checks_decided ON segment_repair_checks (decided_on)
  WHERE ended_at IS NULL;

-- The check the dashboard and the report show for a segment: its latest repair's, while the status stays 보수완료.
CREATE OR REPLACE VIEW segment_repair_check_current AS
SELECT DISTINCT ON (s_id)
       s_id, repair_id, repaired_on, check_days, verdict, before_traffic, before_impacts, before_days,
       after_traffic, after_impacts, after_days, decided_on, final,
       CASE WHEN before_traffic > 0 THEN round(before_impacts::numeric / before_traffic * 100, 2) END AS before_rate,
       CASE WHEN after_traffic > 0 THEN round(after_impacts::numeric / after_traffic * 100, 2) END AS after_rate
FROM segment_repair_checks
WHERE ended_at IS NULL
ORDER BY s_id, repair_id DESC;

-- The monthly roll-up: per segment and month, refreshed by refresh_views for the loaded day's month. It is what is
-- left of a day once SERVING_KEEP_DAYS retires its partition, and what the 12-month trends read.
CREATE TABLE IF NOT EXISTS pothole_segment_monthly (
  month date NOT NULL CHECK (extract(day FROM month) = 1),
  s_id varchar(50) COLLATE "C" NOT NULL,
  impacts bigint NOT NULL,
  traffic bigint NOT NULL,
  days_seen integer NOT NULL,
  PRIMARY KEY (month, s_id)
);

CREATE INDEX IF NOT EXISTS idx_pothole_segment_monthly_s_id ON pothole_segment_monthly (s_id, month);

-- One row per rolled-up month: the days it counts (a day is retired only once it is in here) and the network's
-- totals. A month is final once one of its days was retired: rebuilt from what is left, it would count less.
CREATE TABLE IF NOT EXISTS pothole_monthly_rollups (
  month date PRIMARY KEY CHECK (extract(day FROM month) = 1),
  days date[] NOT NULL DEFAULT '{}',
  segments bigint NOT NULL DEFAULT 0,
  impacts bigint NOT NULL DEFAULT 0,
  traffic bigint NOT NULL DEFAULT 0,
  final boolean NOT NULL DEFAULT false,
  rolled_up_at timestamptz NOT NULL DEFAULT now()
);

-- Answers the dashboard would otherwise compute on its first request after a refresh (the map's columns, the
-- trends, the districts), computed by refresh_views for the generation it publishes.
CREATE TABLE IF NOT EXISTS dashboard_answers (
  generation bigint NOT NULL,
  name text NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (generation, name)
);

-- The latest loaded day (before p_before, when given), from the newest day partition down: a year of partitions
-- costs what a month did, where max(date) over the parent plans and probes every partition.
CREATE OR REPLACE FUNCTION pothole_latest_day(p_before date DEFAULT NULL)
RETURNS date
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  part regclass;
  latest date;
BEGIN
  FOR part IN
    SELECT i.inhrelid::regclass
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'pothole_segments'::regclass AND NOT i.inhdetachpending
     -- "FOR VALUES FROM ('2026-02-12') TO (…)": by its first day, newest first.
     ORDER BY pg_get_expr(c.relpartbound, c.oid) DESC
  LOOP
    IF p_before IS NULL THEN
      EXECUTE format('SELECT max(date) FROM %s', part) INTO latest;
    ELSE
      EXECUTE format('SELECT max(date) FROM %s WHERE date < $1', part) INTO latest USING p_before;
    END IF;
    IF latest IS NOT NULL THEN
      RETURN latest;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;
