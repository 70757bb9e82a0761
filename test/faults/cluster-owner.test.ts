/**
 * The cluster has one owner whatever part is lost. The lock workflow is terminated while date A runs Stage1, the
 * watchdog runs every 30 s with a 60 s grace, and date B is started meanwhile; later A is reset to just before
 * run_stage2 while B still waits. Who uses the cluster is then told by the open runs themselves: the lock started
 * afresh (by the watchdog's request) learns that A holds it, the watchdog stops nothing under A, B waits until A
 * (its reset run) has stopped the cluster, and every stage runs exactly one Spark application. Then, while B runs
 * Stage1, one of the cluster's worker instances is terminated in EC2: B ends within minutes, its cleanup stops
 * the other instances and names the lost one (result, Slack, `pothole status`).
 *
 * Real worker process, CLI and schedules, Temporal, the EC2 emulator behind a recording proxy, SSH and Spark;
 * the stages are held (test/fixtures/spark/held_main.py) so that the faults land while they run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { lockStateQuery, lockWorkflowIdFor } from '../../src/shared/lock-protocol';
import { workflowIdFor } from '../../src/shared/steps';
import type { WatchdogResult } from '../../src/workflows/watchdog';
import { PipelineWorld, processesMatching, sparkApplications, waitUntil } from '../support/e2e';
import { deployHeldStages } from '../support/held-stages';
import { keepHistory } from '../support/histories';
import { SlackSink } from '../support/slack-sink';

const INTERVAL = 30;
const GRACE = 60;
const A = '2026-08-03';
const B = '2026-08-04';
const world = new PipelineWorld('cluster-owner');
const slack = new SlackSink();
const pothole = (...args: string[]) => world.pothole(...args);

/** The handles of the last watchdogRounds() call's rounds. */
let roundHandles: WorkflowHandle[] = [];

/** The watchdog rounds that ended since `since`, with what they decided. */
async function watchdogRounds(since: number): Promise<WatchdogResult[]> {
  const out: WatchdogResult[] = [];
  roundHandles = [];
  for await (const w of world.client.workflow.list({
    query: `TaskQueue = '${world.taskQueue}' AND WorkflowType = 'potholeWatchdog' AND ExecutionStatus = 'Completed'`,
  })) {
    if (w.startTime.getTime() < since) continue;
    const handle = world.client.workflow.getHandle(w.workflowId, w.runId);
    roundHandles.push(handle);
    out.push((await handle.result()) as WatchdogResult);
  }
  return out;
}

/** The lock workflow's runs: the one terminated as a fault, and the one started afresh after it. */
async function lockRuns(): Promise<{ handle: WorkflowHandle; name: string }[]> {
  const out: { handle: WorkflowHandle; name: string }[] = [];
  for await (const w of world.client.workflow.list({
    query: `WorkflowId = '${lockWorkflowIdFor(world.taskQueue)}'`,
  })) {
    const handle = world.client.workflow.getHandle(w.workflowId, w.runId);
    out.push({
      handle,
      name: w.status.name === 'TERMINATED' ? 'lock-terminated-while-held' : 'lock-rebuilt-from-open-runs',
    });
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

/** When the run was granted the cluster (its lockGranted signals, ms since the epoch). */
const grantTimes = async (run: WorkflowHandle): Promise<number[]> =>
  ((await run.fetchHistory()).events ?? [])
    .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'lockGranted')
    .map((e) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6));

const holderNow = async () =>
  (await world.client.workflow.getHandle(lockWorkflowIdFor(world.taskQueue)).query(lockStateQuery)).holder
    ?.workflowId;

before(async () => {
  // A's Stage1 long enough to inject a fault while it runs; A's first Stage2 long enough to reset A while it runs
  // (the reset run's Stage2 is not held). B's Stage1 lasts long enough unheld.
  const held = await deployHeldStages({
    stage1: { seconds: 15, dates: [A] },
    stage2: { seconds: 20, dates: [A], once: true },
  });
  await slack.start();
  await world.setUp({
    dates: [A, B],
    env: {
      ...held,
      SLACK_WEBHOOK_URL: slack.url(),
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
  await slack.stop();
  if (processesMatching('org.apache.spark.deploy.(master|worker)').length) {
    spawnSync(path.join(world.base.SPARK_HOME!, 'sbin', 'stop-all.sh'), { stdio: 'ignore' });
  }
});

describe('one owner for the cluster, whatever part is lost', () => {
  let since = 0;
  let lostAt = 0;
  let aClosedAt = 0;

  it('the lock terminated during run_stage1, the holder reset before run_stage2: the run keeps its cluster, the watchdog and the waiting date keep off', async () => {
    since = Date.now();
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
    lostAt = Date.now();
    await world.client.workflow
      .getHandle(lockWorkflowIdFor(world.taskQueue))
      .terminate('a fault: the lock workflow is lost');
    assert.equal((await pothole('run', B)).status, 0);
    const b = world.client.workflow.getHandle(workflowIdFor(B));
    await waitUntil(
      'a watchdog round after the lock was lost',
      async () => (await watchdogRounds(lostAt)).length >= 1,
      90_000,
    );
    const afterLoss = await holderNow();
    console.log(`after the lock was lost: the lock started afresh names ${afterLoss} as holder`);
    assert.equal(afterLoss, workflowIdFor(A));
    assert.equal(await world.stepStatus(b, 'start_cluster'), 'pending', 'B waits for the cluster');
    assert.deepEqual(await grantTimes(b), [], 'B was not granted the cluster');

    // Fault 2: A is reset to just before run_stage2 while B waits.
    await waitUntil(
      'A in run_stage2',
      async () => (await world.stepStatus(a, 'run_stage2')) === 'running',
      300_000,
    );
    const resetRun = await resetToBeforeRunStage2(a);
    const afterReset = await holderNow();
    console.log(`after A was reset (new run ${resetRun}): the lock names ${afterReset} as holder`);
    assert.equal(afterReset, workflowIdFor(A));

    const aFresh = world.client.workflow.getHandle(workflowIdFor(A), resetRun);
    await aFresh.result();
    aClosedAt = (await aFresh.describe()).closeTime!.getTime();
    await keepHistory(aFresh, 'pipeline-reset-before-run_stage2');
    assert.equal((await world.stepStatus(b, 'run_stage1')) === 'done', false, 'B has not run Stage1 yet');

    const rounds = await watchdogRounds(lostAt);
    await keepHistory(roundHandles.at(-1)!, 'watchdog-in-use-by-own-account');
    console.log(
      `watchdog rounds since the lock was lost (latest first): ${rounds.length}`,
      rounds.map((r) => r.reason),
    );
    assert.ok(rounds.length >= 2, `at least two rounds ran: ${rounds.length}`);
    assert.ok(
      rounds.every((r) => r.stopped.length === 0),
      'the watchdog stopped nothing',
    );

    const calls = world.recorder.calls.filter((c) => c.at >= since);
    const stops = calls.filter((c) => c.action === 'StopInstances');
    assert.equal(stops.length, 1, 'one stop, by A (its reset run), none by the watchdog');
    assert.ok(stops[0]!.at <= aClosedAt, 'A stopped the cluster itself');
    const bGranted = await grantTimes(b);
    assert.equal(bGranted.length, 1, 'B was granted the cluster once');
    assert.ok(bGranted[0]! >= stops[0]!.at, 'B was granted the cluster only after A had stopped it');
    console.log(
      `A's reset run closed ${((aClosedAt - lostAt) / 1000).toFixed(0)} s after the lock was lost; it stopped the ` +
        `cluster ${((aClosedAt - stops[0]!.at) / 1000).toFixed(1)} s before it closed`,
    );
    assert.equal(sparkApplications(`pothole-stage1-${A}`, since), 1, 'one application of stage1 for A');
    assert.equal(sparkApplications(`pothole-stage2-${A}`, since), 1, 'one application of stage2 for A');
  });

  it('a worker instance terminated in EC2 while the waiting date runs Stage1: the run ends within minutes, the other instances are stopped, the lost one is named', async () => {
    const b = world.client.workflow.getHandle(workflowIdFor(B));
    await waitUntil(
      'B in run_stage1',
      async () => (await world.stepStatus(b, 'run_stage1')) === 'running',
      300_000,
    );
    // Its driver has registered with the cluster: the instance goes while Stage1 runs on it, not before.
    await waitUntil(
      "B's Stage1 application started",
      () => sparkApplications(`pothole-stage1-${B}`, since) > 0,
      120_000,
    );
    const starts = world.recorder.calls.filter((c) => c.at >= since && c.action === 'StartInstances');
    const bStart = starts.at(-1)!;
    assert.ok(bStart.at > aClosedAt - 60_000 && starts.length === 2, 'B started the cluster once, after A');

    const lost = world.cluster.workerInstanceIds[1]!;
    const terminatedAt = Date.now();
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [lost] }));
    const closed = await b.result().then(
      () => 'completed',
      (err: unknown) =>
        `failed: ${err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err)}`,
    );
    const seconds = ((await b.describe()).closeTime!.getTime() - terminatedAt) / 1000;
    console.log(`B ${closed.split('\n')[0]} ${seconds.toFixed(0)} s after ${lost} was terminated`);
    assert.ok(seconds < 300, `B ended within minutes: ${seconds} s`);

    await keepHistory(b, 'pipeline-worker-instance-terminated');
    for (const run of await lockRuns()) await keepHistory(run.handle, run.name);
    const states = await world.states();
    console.log('instances (master, workers):', states);
    assert.deepEqual(states, ['stopped', 'stopped', 'terminated']);
    const progress = await world.progress(b);
    console.log(`B's cleanup: ${JSON.stringify(progress?.cleanup)}`);
    assert.deepEqual(progress?.cleanup?.lostInstances, [`${lost} (terminated)`]);

    const message = await waitUntil('the Slack message about B', () =>
      slack.messages.find((m) => m.text.includes(B) && /Pothole pipeline (failed|succeeded)/.test(m.text)),
    );
    console.log(message.text);
    assert.match(message.text, new RegExp(`lost \\(nothing to stop\\): ${lost} \\(terminated\\)`));
    const status = await pothole('status', B);
    assert.match(status.stdout, new RegExp(`${lost} \\(terminated\\)`), status.stdout);

    const apps = Object.fromEntries(
      [A, B].flatMap((d) =>
        ['stage1', 'stage2'].map((s) => [`${s} ${d}`, sparkApplications(`pothole-${s}-${d}`, since)]),
      ),
    );
    console.log('Spark applications per stage:', apps);
    assert.equal(apps[`stage1 ${B}`], 1, 'one application of stage1 for B');
    assert.ok(apps[`stage2 ${B}`]! <= 1, 'never two of stage2');
  });
});
