/**
 * The cluster has one owner whatever part of the lock is lost. The lock workflow is terminated while date A runs
 * Stage1, the watchdog runs every 30 s with a 60 s grace, and date B is started meanwhile; later A is reset to
 * just before run_stage2 while B still waits. Who uses the cluster is then told by the open runs themselves: the
 * lock started afresh (by the watchdog's request) learns that A holds it, the watchdog stops nothing under A, B
 * waits until A (its reset run) has stopped the cluster, and every stage runs exactly one Spark application.
 *
 * Real worker process, CLI and schedules, Temporal, the EC2 emulator behind a recording proxy, SSH and Spark;
 * the stages are held (test/fixtures/spark/held_main.py) so that the faults land while they run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { lockStateQuery, lockWorkflowIdFor } from '../../src/lock-protocol';
import { workflowIdFor } from '../../src/steps';
import type { WatchdogResult } from '../../src/workflows/watchdog';
import { PipelineWorld, processesMatching, sparkApplications, waitUntil } from '../support/e2e';
import { deployHeldStages } from '../support/held-stages';

const INTERVAL = 30;
const GRACE = 60;
const HOLD_STAGE1 = 75;
const HOLD_STAGE2 = 25;
const A = '2026-08-03';
const B = '2026-08-04';
const world = new PipelineWorld('cluster-owner');
const pothole = (...args: string[]) => world.pothole(...args);

/** The watchdog rounds that ended since `since`, with what they decided. */
async function watchdogRounds(since: number): Promise<WatchdogResult[]> {
  const out: WatchdogResult[] = [];
  for await (const w of world.client.workflow.list({
    query: `TaskQueue = '${world.taskQueue}' AND WorkflowType = 'potholeWatchdog' AND ExecutionStatus = 'Completed'`,
  })) {
    if (w.startTime.getTime() < since) continue;
    out.push((await world.client.workflow.getHandle(w.workflowId, w.runId).result()) as WatchdogResult);
  }
  return out;
}

/** Resets the run to the workflow task that scheduled run_stage2 (the run then schedules it again). */
async function resetToBeforeRunStage2(handle: WorkflowHandle): Promise<string> {
  const { runId } = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.findIndex(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'run_stage2',
  );
  assert.ok(scheduled > 0, 'run_stage2 was scheduled');
  const completed = events
    .slice(0, scheduled)
    .reverse()
    .find((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  const reset = await world.client.workflowService.resetWorkflowExecution({
    namespace: world.config.temporal.TEMPORAL_NAMESPACE,
    workflowExecution: { workflowId: handle.workflowId, runId },
    reason: 'a fault: reset to just before run_stage2',
    workflowTaskFinishEventId: completed!.eventId,
    requestId: randomUUID(),
  });
  return reset.runId!;
}

const holderNow = async () =>
  (await world.client.workflow.getHandle(lockWorkflowIdFor(world.taskQueue)).query(lockStateQuery)).holder
    ?.workflowId;

before(async () => {
  const held = await deployHeldStages({ stage1: HOLD_STAGE1, stage2: HOLD_STAGE2 });
  await world.setUp({
    dates: [A, B],
    env: {
      ...held,
      WATCHDOG_INTERVAL_SECONDS: String(INTERVAL),
      WATCHDOG_GRACE_SECONDS: String(GRACE),
      SPARK_HISTORY_SERVER: 'false',
    },
  });
  await pothole('schedule', 'delete');
  const created = await pothole('schedule', 'create');
  assert.equal(created.status, 0, created.stderr);
});

after(async () => {
  await pothole('schedule', 'delete');
  await world.tearDown();
  if (processesMatching('org.apache.spark.deploy.(master|worker)').length) {
    spawnSync(path.join(world.base.SPARK_HOME!, 'sbin', 'stop-all.sh'), { stdio: 'ignore' });
  }
});

describe('one owner for the cluster', () => {
  it('the lock terminated during run_stage1 and the holder reset before run_stage2: the run keeps its cluster, the watchdog and the waiting date keep off', async () => {
    const since = Date.now();
    assert.equal((await pothole('run', A)).status, 0);
    const a = world.client.workflow.getHandle(workflowIdFor(A));
    await waitUntil(
      'A in run_stage1',
      async () => (await world.stepStatus(a, 'run_stage1')) === 'running',
      300_000,
    );
    await waitUntil(
      'the stage1 driver of A',
      () => processesMatching(`held_main.py.*${A}`).length > 0,
      60_000,
    );

    // Fault 1: the lock workflow is lost while A holds the cluster; B asks for it meanwhile.
    const lostAt = Date.now();
    await world.client.workflow
      .getHandle(lockWorkflowIdFor(world.taskQueue))
      .terminate('a fault: the lock workflow is lost');
    assert.equal((await pothole('run', B)).status, 0);
    const b = world.client.workflow.getHandle(workflowIdFor(B));
    await waitUntil(
      'two watchdog rounds after the lock was lost',
      async () => (await watchdogRounds(lostAt)).length >= 2,
      120_000,
    );
    const afterLoss = await holderNow();
    console.log(`after the lock was lost: the lock started afresh names ${afterLoss} as holder`);
    assert.equal(afterLoss, workflowIdFor(A));
    assert.equal(await world.stepStatus(b, 'start_cluster'), 'pending', 'B waits for the cluster');

    // Fault 2: A is reset to just before run_stage2 while B waits.
    await waitUntil(
      'A in run_stage2',
      async () => (await world.stepStatus(a, 'run_stage2')) === 'running',
      300_000,
    );
    const resetRun = await resetToBeforeRunStage2(a);
    const afterReset = await holderNow();
    console.log(`after A was reset (new run ${resetRun}): the lock names ${afterReset} as holder`);

    const aFresh = world.client.workflow.getHandle(workflowIdFor(A), resetRun);
    await aFresh.result();
    const aClosedAt = (await aFresh.describe()).closeTime!.getTime();
    await b.result();

    const rounds = await watchdogRounds(lostAt);
    console.log(
      `watchdog rounds after the lock was lost: ${rounds.length}`,
      rounds.map((r) => r.reason),
    );
    assert.ok(
      rounds.every((r) => r.stopped.length === 0),
      'the watchdog stopped nothing',
    );

    const calls = world.recorder.calls.filter((c) => c.at >= since);
    const starts = calls.filter((c) => c.action === 'StartInstances');
    const stops = calls.filter((c) => c.action === 'StopInstances');
    console.log(
      'EC2 calls:',
      [...starts, ...stops]
        .sort((x, y) => x.at - y.at)
        .map((c) => `${c.action} +${((c.at - since) / 1000).toFixed(0)} s`),
    );
    assert.equal(stops.length, 2, 'one stop by A (its reset run) and one by B, none by the watchdog');
    assert.ok(stops[0]!.at <= aClosedAt, 'A stopped the cluster itself');
    const bStart = starts.at(-1)!;
    assert.ok(bStart.at > stops[0]!.at, 'B started the cluster only after A stopped it');
    console.log(
      `A's reset run closed ${((aClosedAt - lostAt) / 1000).toFixed(0)} s after the lock was lost; ` +
        `B started the cluster ${((bStart.at - stops[0]!.at) / 1000).toFixed(1)} s after A stopped it`,
    );

    const apps = Object.fromEntries(
      [A, B].flatMap((d) =>
        ['stage1', 'stage2'].map((s) => [`${s} ${d}`, sparkApplications(`pothole-${s}-${d}`, since)]),
      ),
    );
    console.log('Spark applications per stage:', apps);
    for (const [stage, count] of Object.entries(apps)) assert.equal(count, 1, `one application of ${stage}`);
    assert.deepEqual(await world.states(), ['stopped', 'stopped', 'stopped']);
  });
});
