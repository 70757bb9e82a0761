/**
 * The cluster's cleanup under faults, on the local stack with a real worker process, real SSH and the EC2 emulator
 * behind a recording proxy:
 * - when download_code fails while install_deps is still busy, install_deps is cancelled and finished before the
 *   cleanup, so nothing starts the cluster again after it was stopped;
 * - when EC2 cannot be reached during the cleanup, stop_cluster is retried until it succeeds, `pothole status` shows
 *   the failed attempts, Slack hears that the instances may be running, and the run's own message says how the
 *   cluster ended.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stepsFromHistory } from '../../src/runs/history';
import { workflowIdFor } from '../../src/shared/steps';
import { PipelineWorld, waitUntil } from '../support/e2e';
import { SlackSink } from '../support/slack-sink';

const world = new PipelineWorld('cleanup');
const slack = new SlackSink();
const dates = { sibling: '2026-05-01', outage: '2026-05-02' };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-cleanup-'));
/** A stage folder nobody uploaded code to: download_code fails at once, non-retryably. */
const noCode = { S3_CODE_PREFIX: `no-code-here-${process.pid}` };

/** Spark daemons a failed stop_spark leaves on the one local host (on EC2 stopping the instances ends them). */
function stopLocalSpark(): void {
  spawnSync(path.join(world.base.SPARK_HOME!, 'sbin/stop-all.sh'), { stdio: 'ignore' });
}

before(async () => {
  await slack.start();
  await world.setUp({ dates: Object.values(dates), startWorker: false });
});

after(async () => {
  await world.tearDown();
  await slack.stop();
  stopLocalSpark();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('cleanup under faults', () => {
  it('a failing download_code cancels a busy install_deps before the cleanup: the cluster stays stopped', async () => {
    // install_deps on a slow network: pip takes 20 s, then fails (retryably).
    const slowPython = path.join(tmp, 'slow-python');
    fs.writeFileSync(slowPython, '#!/bin/sh\nsleep 20\necho "pip: network unreachable" >&2\nexit 1\n', {
      mode: 0o755,
    });
    await world.startWorker({ ...noCode, SPARK_PYTHON: slowPython });
    try {
      const since = Date.now();
      const r = await world.pothole('run', dates.sibling, '--wait');
      assert.notEqual(r.status, 0, r.stdout);
      assert.match(r.stdout + r.stderr, /no Spark job code under s3:\/\//);
      const handle = world.client.workflow.getHandle(workflowIdFor(dates.sibling));
      const progress = (await world.progress(handle))!;
      const step = (name: string) => progress.steps.find((s) => s.step === name)!;
      // install_deps ended (cancelled, or failed on its own with the cancellation pending) before the cleanup,
      // after one attempt: no retry once its sibling had failed.
      assert.ok(['skipped', 'failed'].includes(step('install_deps').status), step('install_deps').status);
      assert.ok(
        step('install_deps').endedAt! <= step('stop_spark').startedAt!,
        JSON.stringify(progress.steps),
      );
      const attempts = stepsFromHistory((await handle.fetchHistory()).events ?? []).find(
        (s) => s.step === 'install_deps',
      )?.attempt;
      assert.equal(attempts ?? 1, 1);
      assert.equal(progress.cleanup?.status, 'stopped');

      // 60 s from install_deps' start: long enough for its pip (20 s) and its first retry (10 s later, another
      // 20 s) had it not been cancelled.
      const watchUntil = Date.parse(step('install_deps').startedAt!) + 60_000;
      await new Promise((r) => setTimeout(r, Math.max(0, watchUntil - Date.now())));
      const ec2 = world.recorder.calls.filter(
        (c) => c.at >= since && (c.action === 'StartInstances' || c.action === 'StopInstances'),
      );
      const firstStop = ec2.findIndex((c) => c.action === 'StopInstances');
      assert.ok(firstStop >= 0, 'the cluster was stopped');
      const startsAfterStop = ec2.slice(firstStop).filter((c) => c.action === 'StartInstances');
      console.log(
        `EC2 calls during the run and until 60 s after install_deps started: ${ec2.map((c) => c.action).join(', ')}; ` +
          `StartInstances after the first StopInstances: ${startsAfterStop.length}`,
      );
      assert.equal(startsAfterStop.length, 0);
      assert.deepEqual(await world.states(), ['stopped', 'stopped', 'stopped']);
    } finally {
      await world.stopWorker();
    }
  });

  it('an EC2 outage during the cleanup: stop_cluster retried until it succeeds, visible, alerted, reported', async () => {
    await world.startWorker({
      ...noCode,
      CLEANUP_ALERT_AFTER_FAILURES: '2',
      CLEANUP_RETRY_MAX_INTERVAL_SECONDS: '5',
      SLACK_WEBHOOK_URL: slack.url(),
    });
    try {
      slack.messages = [];
      assert.equal((await world.pothole('run', dates.outage)).status, 0);
      const handle = world.client.workflow.getHandle(workflowIdFor(dates.outage));
      await waitUntil(
        'start_cluster done',
        async () => (await world.stepStatus(handle, 'start_cluster')) === 'done',
      );
      await waitUntil(
        'download_code failed',
        async () => (await world.stepStatus(handle, 'download_code')) === 'failed',
      );
      await world.recorder.outage();
      const outageAt = Date.now();

      const alert = await waitUntil(
        'the Slack alert',
        () => slack.messages.find((m) => /may be running/.test(m.text)),
        180_000,
      );
      const instances = [world.cluster.masterInstanceId, ...world.cluster.workerInstanceIds];
      for (const id of instances) assert.ok(alert.text.includes(id), `the alert names ${id}: ${alert.text}`);
      assert.match(alert.text, /stop_cluster failed 2 time\(s\)/);
      assert.match(alert.text, /ECONNREFUSED/);
      assert.deepEqual(
        await world.states(),
        ['running', 'running', 'running'],
        'the outage kept them running',
      );

      const status = await world.pothole('status', dates.outage);
      assert.equal(status.status, 0, status.stderr);
      assert.match(
        status.stdout,
        /cluster: NOT STOPPED YET: .* may be running; stop_cluster failed \d+ time/,
      );
      assert.match(status.stdout, /stop_cluster\s+running.*attempt \d+ failed, retrying in \d+ s/);
      assert.ok(
        !slack.messages.some((m) => /Pothole pipeline (failed|succeeded)/.test(m.text)),
        'no verdict yet',
      );

      await world.recorder.start();
      await waitUntil('the run to close', async () => (await handle.describe()).status.name !== 'RUNNING');
      console.log(`EC2 unreachable for ${((Date.now() - outageAt) / 1000).toFixed(0)} s during the cleanup`);
      assert.equal((await handle.describe()).status.name, 'FAILED');
      assert.deepEqual(await world.states(), ['stopped', 'stopped', 'stopped']);

      const verdict = await waitUntil('the run message', () =>
        slack.messages.find((m) => /Pothole pipeline failed/.test(m.text)),
      );
      assert.match(verdict.text, /\*Step:\* download_code/);
      assert.match(verdict.text, /\*Cluster:\* stopped i-.* after \d+ attempts/);
      const after = await world.pothole('status', dates.outage, '--json');
      const json = JSON.parse(after.stdout.trim().split('\n').at(-1)!) as {
        cleanup: { status: string; attempts: number };
      };
      assert.equal(json.cleanup.status, 'stopped');
      assert.ok(json.cleanup.attempts >= 3, `attempts: ${json.cleanup.attempts}`);
      console.log(
        `stop_cluster attempts: ${json.cleanup.attempts}; Slack messages: ${slack.messages.length}`,
      );
    } finally {
      await world.recorder.start();
      await world.stopWorker();
    }
  });
});
