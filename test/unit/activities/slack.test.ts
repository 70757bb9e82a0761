import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config';
import { formatDuration, runUrl, slackMessage } from '../../../src/activities/slack';

const temporal = loadConfig(['temporal'], {
  TEMPORAL_UI_URL: 'http://temporal.example:8233/',
  TEMPORAL_NAMESPACE: 'prod',
}).temporal;

test('the run link points at the run history in the Temporal UI', () => {
  assert.equal(
    runUrl(temporal, 'pothole-pipeline-2026-02-12', 'abc-123'),
    'http://temporal.example:8233/namespaces/prod/workflows/pothole-pipeline-2026-02-12/abc-123/history',
  );
});

test('a failure message names step, date, attempt and error, and escapes Slack markup', () => {
  const { text } = slackMessage(
    {
      kind: 'failure',
      batchDate: '2026-02-12',
      workflowId: 'pothole-pipeline-2026-02-12',
      runId: 'r1',
      step: 'run_stage1',
      attempt: 3,
      error: 'spark-submit exited with 1: <boom> & more',
    },
    temporal,
  );
  assert.match(text, /failed\* for 2026-02-12/);
  assert.match(text, /\*Step:\* run_stage1 \(attempt 3\)/);
  assert.match(text, /spark-submit exited with 1: &lt;boom&gt; &amp; more/);
  assert.match(
    text,
    /<http:\/\/temporal\.example:8233\/namespaces\/prod\/workflows\/pothole-pipeline-2026-02-12\/r1\/history\|/,
  );
});

test('a success message gives duration, rows loaded and quality warnings', () => {
  const { text } = slackMessage(
    {
      kind: 'success',
      batchDate: '2026-02-12',
      workflowId: 'w',
      runId: 'r',
      durationSeconds: 3725,
      rowsLoaded: 12345,
      quality: {
        impactExceedsTotal: 0,
        emptySegmentId: 2,
        previousRowCount: 10000,
        rowCountChange: 0.23,
        warnings: ['2 rows without s_id were skipped'],
      },
    },
    temporal,
  );
  assert.match(text, /succeeded\* for 2026-02-12/);
  assert.match(text, /\*Duration:\* 1h 2m 5s/);
  assert.match(text, /\*Rows loaded:\* 12,345/);
  assert.match(text, /• 2 rows without s_id were skipped/);
});

test('durations read naturally', () => {
  assert.equal(formatDuration(5), '5s');
  assert.equal(formatDuration(65), '1m 5s');
  assert.equal(formatDuration(7200), '2h 0m 0s');
});
