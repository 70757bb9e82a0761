/** notify_slack against a local HTTP endpoint that records what a Slack incoming webhook would receive. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../../src/config';
import { createSlackActivities } from '../../../src/activities/slack';
import type { NotifyInput } from '../../../src/shared/types';
import { ActivityHarness } from './cluster-support';

interface Received {
  path: string;
  contentType?: string;
  body: { text: string };
}
const received: Received[] = [];
let status = 200;
let delayMs = 0;
let server: http.Server;
let base: string;

before(async () => {
  server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString('utf8')));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(data),
      });
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status === 200 ? 'ok' : 'invalid_payload');
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const slack = (env: Record<string, string>, timeoutMs?: number) =>
  createSlackActivities({
    config: loadConfig(['slack', 'temporal'], { TEMPORAL_UI_URL: 'http://127.0.0.1:8233', ...env }),
    timeoutMs,
  }).notify_slack;

const failure: NotifyInput = {
  kind: 'failure',
  batchDate: '2026-02-12',
  workflowId: 'pothole-pipeline-2026-02-12',
  runId: '5b3f0c1e-0000-4000-8000-000000000001',
  step: 'run_stage1',
  attempt: 2,
  error: 'stage1 for 2026-02-12 failed: spark-submit exited with status 1',
};

test('a failure posts step, date, attempt, error and the Temporal UI link to the webhook', async () => {
  received.length = 0;
  status = 200;
  const r = await new ActivityHarness().run(
    slack({ SLACK_WEBHOOK_URL: `${base}/services/T/B/secret` }),
    failure,
  );
  assert.deepEqual(r, { sent: true });
  assert.equal(received.length, 1);
  const [msg] = received;
  assert.equal(msg!.path, '/services/T/B/secret');
  assert.match(msg!.contentType ?? '', /application\/json/);
  assert.match(msg!.body.text, /failed\* for 2026-02-12/);
  assert.match(msg!.body.text, /run_stage1 \(attempt 2\)/);
  assert.match(msg!.body.text, /spark-submit exited with status 1/);
  assert.ok(
    msg!.body.text.includes(
      'http://127.0.0.1:8233/namespaces/default/workflows/pothole-pipeline-2026-02-12/5b3f0c1e-0000-4000-8000-000000000001/history',
    ),
  );
});

test('a success posts date, duration, rows loaded and quality warnings', async () => {
  received.length = 0;
  status = 200;
  await new ActivityHarness().run(slack({ SLACK_WEBHOOK_URL: `${base}/hook` }), {
    kind: 'success',
    batchDate: '2026-02-12',
    workflowId: 'w',
    runId: 'r',
    durationSeconds: 1830,
    rowsLoaded: 4321,
    quality: {
      impactExceedsTotal: 3,
      emptySegmentId: 0,
      previousRowCount: 4000,
      rowCountChange: 0.08,
      warnings: ['3 rows have impact_count > total_count'],
    },
  });
  assert.equal(received.length, 1);
  assert.match(received[0]!.body.text, /succeeded\* for 2026-02-12/);
  assert.match(received[0]!.body.text, /30m 30s/);
  assert.match(received[0]!.body.text, /4,321/);
  assert.match(received[0]!.body.text, /3 rows have impact_count &gt; total_count/);
});

test('without SLACK_WEBHOOK_URL nothing is sent', async () => {
  received.length = 0;
  const r = await new ActivityHarness().run(slack({}), failure);
  assert.deepEqual(r, { sent: false, reason: 'SLACK_WEBHOOK_URL is not set' });
  assert.equal(received.length, 0);
});

test('a Slack error is swallowed and reported in the result, never thrown', async () => {
  received.length = 0;
  status = 500;
  const r = await new ActivityHarness().run(slack({ SLACK_WEBHOOK_URL: `${base}/hook` }), failure);
  assert.equal(r.sent, false);
  assert.match(r.reason ?? '', /Slack answered 500: invalid_payload/);
  status = 200;
});

test('an unreachable or slow webhook is swallowed too, without leaking the URL', async () => {
  const closed = await new ActivityHarness().run(
    slack({ SLACK_WEBHOOK_URL: 'http://127.0.0.1:1/services/T/B/very-secret' }),
    failure,
  );
  assert.equal(closed.sent, false);
  assert.doesNotMatch(closed.reason ?? '', /very-secret/);
  delayMs = 2_000;
  const slow = await new ActivityHarness().run(slack({ SLACK_WEBHOOK_URL: `${base}/hook` }, 300), failure);
  delayMs = 0;
  assert.equal(slow.sent, false);
  assert.match(slow.reason ?? '', /timeout|aborted/i);
});
