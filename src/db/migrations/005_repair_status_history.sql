-- Repair status changes made on the dashboard: the current status keeps its note and who set it, and every
-- change is kept as history (from, to, when, note, by whom). A segment without a row is 미보수.
-- The note limit is also checked by the dashboard (src/dashboard/status.ts) so a long note is refused
-- with a message naming it rather than a constraint violation.

ALTER TABLE segment_repair_status
  ADD COLUMN IF NOT EXISTS note text CHECK (note IS NULL OR char_length(note) <= 500),
  ADD COLUMN IF NOT EXISTS updated_by text;

CREATE TABLE IF NOT EXISTS segment_repair_status_history (
  id bigserial PRIMARY KEY,
  s_id varchar(50) COLLATE "C" NOT NULL,
  from_status varchar(20) NOT NULL CHECK (from_status IN ('미보수', '보수중', '보수완료')),
  to_status varchar(20) NOT NULL CHECK (to_status IN ('미보수', '보수중', '보수완료')),
  note text CHECK (note IS NULL OR char_length(note) <= 500),
  changed_by text,
  changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_segment_repair_status_history_s_id
  ON segment_repair_status_history (s_id, changed_at DESC);

-- The dashboard's repair-priority list reads the view page by page in rank order. A refresh keeps the index;
-- a migration that builds the view again must create it again.
CREATE INDEX IF NOT EXISTS idx_mvw_dashboard_repair_priority_rank
  ON mvw_dashboard_repair_priority (priority_rank, s_id);
