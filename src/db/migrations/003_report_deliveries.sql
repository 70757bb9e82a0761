-- Daily reports an SMTP server accepted, so a rerun of a date does not deliver the same report twice.
-- Written right after the server accepted the message; looked up by (batch date, Message-ID) before sending.
CREATE TABLE IF NOT EXISTS report_deliveries (
  batch_date date NOT NULL,
  message_id text NOT NULL,
  recipients text[] NOT NULL,
  accepted_at timestamptz NOT NULL DEFAULT now(),
  workflow_id text NOT NULL,
  run_id text NOT NULL,
  PRIMARY KEY (batch_date, message_id)
);
