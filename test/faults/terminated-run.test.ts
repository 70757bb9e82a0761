/**
 * A terminated run's cluster is stopped by the watchdog. Termination skips the run's cleanup, so without the
 * watchdog every instance would stay up for good. Through a real worker process, the CLI's schedules, the EC2
 * emulator (behind a recording proxy), SSH and Spark on the local stack, with WATCHDOG_INTERVAL_SECONDS=10 and
 * WATCHDOG_GRACE_SECONDS=15: while the run holds the cluster the watchdog never stops it; once the run is
 * terminated during run_stage1 the instances are stopped within interval + grace, the stage1 driver is gone,
 * and Slack is told which instances were stopped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { workflowIdFor } from '../../src/shared/steps';
import type { WatchdogResult } from '../../src/workflows/watchdog';
import {
  describeProcesses,
  PipelineWorld,
  processesMatching as sparkProcesses,
  waitUntil,
} from '../support/e2e';
import { keepHistory } from '../support/histories';

const INTERVAL = 10;
const GRACE = 15;
const MARGIN = 20;
const date = '2026-05-01';
const world = new PipelineWorld('watchdog');
const { recorder } = world;
const slack: { text: string; at: number }[] = [];
const slackServer = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    slack.push({ ...(JSON.parse(body) as { text: string }), at: Date.now() });
    res.end('ok');
  });
});

const states = () => world.states();
const pothole = (...args: string[]) => world.pothole(...args);

/** The watchdog rounds that ended since `since`, with what they decided (and their handles). */
async function watchdogRounds(since: number): Promise<(WatchdogResult & { handle: WorkflowHandle })[]> {
  const out: (WatchdogResult & { handle: WorkflowHandle })[] = [];
  for await (const w of world.client.workflow.list({
    query: `TaskQueue = '${world.taskQueue}' AND WorkflowType = 'potholeWatchdog' AND ExecutionStatus = 'Completed'`,
  })) {
    if (w.startTime.getTime() < since) continue;
    const handle = world.client.workflow.getHandle(w.workflowId, w.runId);
    out.push({ ...((await handle.result()) as WatchdogResult), handle });
  }
  return out;
}

before(async () => {
  await new Promise<void>((r) => slackServer.listen(0, '127.0.0.1', r));
  await world.setUp({
    dates: [date],
    env: {
      SLACK_WEBHOOK_URL: `http://127.0.0.1:${(slackServer.address() as AddressInfo).port}/hook`,
      WATCHDOG_INTERVAL_SECONDS: String(INTERVAL),
      WATCHDOG_GRACE_SECONDS: String(GRACE),
    },
  });
  await pothole('schedule', 'delete');
  const created = await pothole('schedule', 'create');
  assert.equal(created.status, 0, created.stderr);
});

after(async () => {
  await pothole('schedule', 'delete');
  // Terminated like the run under test: no cleanup runs, the Spark daemons of the local stack are stopped here.
  await world.terminateOpen('test finished');
  await world.tearDown();
  const sbin = path.join(world.base.SPARK_HOME!, 'sbin');
  spawnSync(path.join(sbin, 'stop-all.sh'), { stdio: 'ignore' });
  spawnSync(path.join(sbin, 'stop-history-server.sh'), { stdio: 'ignore' });
  slackServer.closeAllConnections();
  slackServer.close();
});

describe('the watchdog', () => {
  it('leaves a cluster alone while a run holds it, and stops it once the run is terminated during run_stage1', async () => {
    const since = Date.now();
    // start_cluster's StartInstances answers late: the run holds the cluster, its instances run, for longer
    // than interval + grace.
    recorder.holdResponses.set('StartInstances', (INTERVAL + GRACE + 10) * 1000);
    assert.equal((await pothole('run', date)).status, 0);
    const handle = world.client.workflow.getHandle(workflowIdFor(date));
    await waitUntil('StartInstances', () => recorder.actions(since).includes('StartInstances'));
    const holdingFrom = Date.now();
    await waitUntil(
      'the run to be in run_stage1',
      async () => (await world.stepStatus(handle, 'run_stage1')) === 'running',
      300_000,
    );
    recorder.holdResponses.clear();
    const app = `pothole-stage1-${date}`;
    await waitUntil('the stage1 driver', () => sparkProcesses(app).length > 0, 120_000);

    // While the run held the cluster, the watchdog looked and left it alone.
    const held = await watchdogRounds(holdingFrom);
    console.log(
      `watchdog rounds while the run held the cluster: ${held.length}`,
      held.map((r) => r.reason),
    );
    assert.ok(held.length >= 2, `at least two rounds ran while the run held the cluster: ${held.length}`);
    assert.ok(held.some((r) => r.reason.includes(`in use by ${workflowIdFor(date)}`)));
    assert.ok(held.every((r) => r.stopped.length === 0));
    assert.ok(!recorder.actions(since).includes('StopInstances'), recorder.actions(since).join(','));
    assert.deepEqual(await states(), ['running', 'running', 'running']);

    // Terminated: no cleanup runs. The watchdog stops the cluster.
    const terminatedAt = Date.now();
    await handle.terminate('a fault: terminated during run_stage1');
    await waitUntil(
      'the instances to be stopped',
      async () => (await states()).every((s) => s === 'stopped'),
      (INTERVAL + GRACE + MARGIN + 30) * 1000,
    );
    const seconds = (Date.now() - terminatedAt) / 1000;
    console.log(
      `instances stopped ${seconds.toFixed(1)} s after the run was terminated (limit ${INTERVAL + GRACE + MARGIN} s)`,
    );
    assert.ok(seconds <= INTERVAL + GRACE + MARGIN, `stopped after ${seconds} s`);
    const driver = sparkProcesses(`org.apache.spark.deploy.SparkSubmit.*${app}`);
    assert.deepEqual(driver, [], `no stage1 driver left: ${describeProcesses(driver)}`);
    // The SSH session that followed the driver's log notices within seconds and ends too.
    await waitUntil('nothing of the stage1 driver left', () => sparkProcesses(app).length === 0, 15_000);

    const stops = recorder.calls.filter((c) => c.action === 'StopInstances' && c.at >= terminatedAt);
    assert.deepEqual(
      stops.flatMap((c) => c.instanceIds).sort(),
      [world.cluster.masterInstanceId, ...world.cluster.workerInstanceIds].sort(),
    );
    const alert = await waitUntil(
      'the Slack alert',
      () => slack.find((m) => /Watchdog stopped/.test(m.text)),
      30_000,
    );
    console.log(alert.text);
    for (const id of [world.cluster.masterInstanceId, ...world.cluster.workerInstanceIds])
      assert.match(alert.text, new RegExp(id));
    assert.match(alert.text, new RegExp(`Last held by:\\* ${workflowIdFor(date)}`));
    const stopping = (await watchdogRounds(terminatedAt)).find((r) => r.stopped.length > 0);
    if (stopping) await keepHistory(stopping.handle, 'watchdog-stopped-a-terminated-runs-cluster');
  });
});
