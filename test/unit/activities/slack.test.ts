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

const run = { batchDate: '2026-02-12', workflowId: 'pothole-pipeline-2026-02-12', runId: 'r1' };

test('every end-of-run message says what became of the cluster', () => {
  const stopped = {
    status: 'stopped' as const,
    attempts: 2,
    instances: ['i-m', 'i-w1'],
    stoppedInstances: ['i-m', 'i-w1'],
  };
  for (const kind of ['success', 'failure', 'cancelled'] as const) {
    const { text } = slackMessage({ kind, ...run, cleanup: stopped }, temporal);
    assert.match(text, /\*Cluster:\* stopped i-m, i-w1 after 2 attempts/, kind);
  }
  const { text } = slackMessage(
    { kind: 'failure', ...run, cleanup: { ...stopped, status: 'not-needed', attempts: 0, instances: [] } },
    temporal,
  );
  assert.match(text, /\*Cluster:\* not started by this run/);
});

test('a cancelled run is announced as cancelled, not as a failure', () => {
  const { text } = slackMessage({ kind: 'cancelled', ...run, durationSeconds: 125 }, temporal);
  assert.match(text, /cancelled\* for 2026-02-12/);
  assert.match(text, /Ran for:\* 2m 5s/);
  assert.doesNotMatch(text, /failed/);
});

test('a failing cleanup alert names the instances that may be running and the error', () => {
  const { text } = slackMessage(
    {
      kind: 'cleanup-failing',
      ...run,
      step: 'stop_cluster',
      cleanup: {
        status: 'stopping',
        attempts: 3,
        instances: ['i-0abc', 'i-0def'],
        stoppedInstances: [],
        lastError: 'connect ECONNREFUSED 10.0.0.1:443',
      },
    },
    temporal,
  );
  assert.match(text, /Instances i-0abc, i-0def may be running/);
  assert.match(text, /failed 3 time\(s\); it keeps retrying/);
  assert.match(text, /ECONNREFUSED 10\.0\.0\.1:443/);
});

test('a success message lists the warnings of optional steps that failed', () => {
  const warning = 'load_complaints failed (2026-02-06..2026-02-12): HTTP 503 <gateway>';
  const { text } = slackMessage(
    { kind: 'success', batchDate: '2026-02-12', workflowId: 'w', runId: 'r', warnings: [warning] },
    temporal,
  );
  assert.match(text, /succeeded\* for 2026-02-12/);
  assert.match(
    text,
    /\*Warnings:\*\n• load_complaints failed \(2026-02-06\.\.2026-02-12\): HTTP 503 &lt;gateway&gt;/,
  );
  const without = slackMessage(
    { kind: 'success', batchDate: '2026-02-12', workflowId: 'w', runId: 'r' },
    temporal,
  );
  assert.doesNotMatch(without.text, /Warnings/);
});

test('every end-of-run message says how long the cluster was up and what it cost', () => {
  for (const kind of ['success', 'failure', 'cancelled'] as const) {
    const { text } = slackMessage({ kind, ...run, clusterUpSeconds: 5415, clusterCostUsd: 4.2125 }, temporal);
    assert.match(text, /\*Cluster up:\* 1h 30m 15s · \*Cost:\* \$4\.21/, kind);
  }
  const unknown = slackMessage(
    { kind: 'failure', ...run, clusterUpSeconds: 40, clusterCostUsd: null },
    temporal,
  );
  assert.match(unknown.text, /\*Cluster up:\* 40s · \*Cost:\* -/);
  const older = slackMessage({ kind: 'success', ...run }, temporal);
  assert.doesNotMatch(older.text, /Cluster up/, 'a run recorded before costs says nothing about them');
});
