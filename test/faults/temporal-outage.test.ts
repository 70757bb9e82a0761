/**
 * The Temporal server goes away while a Spark stage runs, longer than the stage's heartbeat timeout, and comes
 * back with its state: the stage is not started again (the driver of the run keeps running, the next attempt
 * re-attaches to it), and the run completes. Then the completed run is reset to just before run_stage2: the new
 * run finds the cluster stopped, brings it up, completes, and leaves every instance stopped.
 *
 * Real worker process, CLI, Temporal dev server (SQLite state), EC2 emulator behind a recording proxy, SSH and
 * the standalone Spark cluster. It stops the shared Temporal server, so it runs alone (the suite runs one file at a time).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workflowIdFor } from '../../src/shared/steps';
import {
  PipelineWorld,
  driverDir,
  waitForDriver,
  processAlive,
  processesMatching as sparkProcesses,
  sparkApplications,
  waitUntil,
} from '../support/e2e';
import { restoreStackInBackground, stackPidFile } from '../support/services';

const TEMPORAL_PID_FILE = stackPidFile('temporal.pid');
/** run_stage1's heartbeat timeout is 30 s (src/workflows/activities.ts): the outage outlasts it. */
const OUTAGE_MS = 45_000;

const date = '2026-06-17';
const world = new PipelineWorld('temporal-outage');
const slowStart = {
  // Stage1's SparkContext waits 60 s for a third executor core that the two 1-core workers never offer, so the
  // stage1 driver is still running when the server comes back (the demo job alone takes less than the outage).
  // Only stage1 waits: stage2 asks for the same cores but starts with what it is given.
  SPARK_TOTAL_EXECUTOR_CORES: '3',
  SPARK_STAGE1_CONF:
    'spark.scheduler.minRegisteredResourcesRatio=1.0,spark.scheduler.maxRegisteredResourcesWaitingTime=60s',
};
const readFile = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : undefined);

const temporalPid = () => readFile(TEMPORAL_PID_FILE);
const temporalUp = () => {
  const pid = temporalPid();
  return pid !== undefined && processAlive(pid);
};

const stackUp = restoreStackInBackground;

async function temporalAnswers(): Promise<boolean> {
  try {
    await world.client.withDeadline(Date.now() + 3_000, () => world.client.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

let runId = '';
let since = 0;

before(() => world.setUp({ dates: [date], env: slowStart }));

after(async () => {
  if (!temporalUp()) await stackUp();
  await waitUntil('the Temporal server answers again', temporalAnswers, 60_000);
  await world.tearDown();
});

describe('a Temporal outage during run_stage1, then a reset of the completed run', () => {
  it('an outage longer than the heartbeat timeout neither restarts nor kills the stage1 driver', async () => {
    since = Date.now();
    assert.equal((await world.pothole('run', date)).status, 0);
    const handle = world.client.workflow.getHandle(workflowIdFor(date));
    runId = (await handle.describe()).runId;
    await waitUntil(
      'run_stage1 running',
      async () => (await world.stepStatus(handle, 'run_stage1')) === 'running',
    );
    const owner = `${workflowIdFor(date)} ${runId}`;
    const driverPid = await waitForDriver(world.base, date, 'stage1', owner);
    // Every pid the stage1 folder ever names during the run.
    const pidsSeen = new Set([driverPid]);
    const sampler = setInterval(() => {
      const pid = readFile(path.join(driverDir(world.base, date, 'stage1'), 'pid'));
      if (pid) pidsSeen.add(pid);
    }, 500);

    let outageSeconds: number;
    let driverAliveAfterOutage: boolean;
    try {
      const serverPid = temporalPid()!;
      const stoppedAt = Date.now();
      process.kill(Number(serverPid), 'SIGTERM');
      await waitUntil('the Temporal server stopped', () => !processAlive(serverPid), 30_000).catch(() =>
        process.kill(Number(serverPid), 'SIGKILL'),
      );
      await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + OUTAGE_MS - Date.now())));
      assert.equal(await stackUp(), 0, 'stack/up.sh brought Temporal back');
      await waitUntil('the Temporal server answers again', temporalAnswers, 60_000);
      outageSeconds = (Date.now() - stoppedAt) / 1000;
      driverAliveAfterOutage = processAlive(driverPid);

      await handle.result();
    } finally {
      clearInterval(sampler);
    }
    const stage1Apps = sparkApplications(`pothole-stage1-${date}`, since);
    const stage2Apps = sparkApplications(`pothole-stage2-${date}`, since);
    const history = (await handle.fetchHistory()).events!;
    const stage1Scheduled = history.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'run_stage1',
    )!;
    const stage1Attempt = history.find(
      (e) =>
        Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(stage1Scheduled.eventId),
    )?.activityTaskStartedEventAttributes?.attempt;
    console.log(
      `temporal outage: ${outageSeconds.toFixed(1)} s; stage1 driver pid before ${driverPid}, ` +
        `pids seen during the run ${[...pidsSeen].join(',')}; driver alive when the server was back: ` +
        `${driverAliveAfterOutage}; run_stage1 completed on attempt ${stage1Attempt}; ` +
        `Spark applications: stage1 ${stage1Apps}, stage2 ${stage2Apps}`,
    );
    for (const line of world.workerLog.split('\n').filter((l) => /driver session/.test(l)))
      console.log(`worker: ${line.slice(0, 300)}`);

    assert.ok(outageSeconds * 1000 >= OUTAGE_MS, `the outage lasted ${outageSeconds} s`);
    assert.ok(driverAliveAfterOutage, 'the stage1 driver was still running when the server came back');
    assert.deepEqual([...pidsSeen], [driverPid], 'the stage1 driver was never replaced');
    assert.equal(stage1Apps, 1, 'one stage1 application');
    assert.equal(stage2Apps, 1, 'one stage2 application');
    assert.equal((await handle.describe()).status.name, 'COMPLETED');
    assert.deepEqual(await world.states(), ['stopped', 'stopped', 'stopped']);
  });

  it('the completed run reset to just before run_stage2 starts the stopped cluster again and stops it', async () => {
    assert.ok(runId, 'the first test completed a run');
    // The same worker: its slow start is stage1's own, and the new run runs stage2 only.
    const workflowId = workflowIdFor(date);
    const old = world.client.workflow.getHandle(workflowId, runId);
    const events = (await old.fetchHistory()).events!;
    const stage2 = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'run_stage2',
    )!;
    const resetPoint = events
      .filter((e) => e.workflowTaskCompletedEventAttributes && Number(e.eventId) < Number(stage2.eventId))
      .at(-1)!;
    assert.deepEqual(await world.states(), ['stopped', 'stopped', 'stopped'], 'the cluster is stopped');
    const resetAt = Date.now();
    const { runId: newRunId } = await world.client.workflowService.resetWorkflowExecution({
      namespace: world.config.temporal.TEMPORAL_NAMESPACE,
      workflowExecution: { workflowId, runId },
      reason: 'rerun stage2 after a fault test',
      workflowTaskFinishEventId: resetPoint.eventId,
      requestId: crypto.randomUUID(),
    });
    const fresh = world.client.workflow.getHandle(workflowId, newRunId!);
    await fresh.result();
    const seconds = (Date.now() - resetAt) / 1000;
    const calls = world.recorder.actions(resetAt);
    const stage1Apps = sparkApplications(`pothole-stage1-${date}`, since);
    const stage2Apps = sparkApplications(`pothole-stage2-${date}`, since);
    console.log(
      `reset to event ${resetPoint.eventId} (before run_stage2 at ${stage2.eventId}): the new run completed in ` +
        `${seconds.toFixed(1)} s; EC2 calls ${calls.filter((a) => a !== 'DescribeInstances').join(',')}; ` +
        `Spark applications since the first run: stage1 ${stage1Apps}, stage2 ${stage2Apps}`,
    );
    assert.equal((await fresh.describe()).status.name, 'COMPLETED');
    assert.ok(calls.includes('StartInstances'), 'the new run started the cluster again');
    assert.ok(calls.lastIndexOf('StopInstances') > calls.indexOf('StartInstances'), 'and stopped it');
    assert.equal(stage1Apps, 1, 'stage1 did not run again');
    assert.equal(stage2Apps, 2, 'stage2 ran once more');
    assert.deepEqual(sparkProcesses(`pothole-stage2-${date}`), [], 'no driver left');
    assert.deepEqual(await world.states(), ['stopped', 'stopped', 'stopped']);
  });
});
