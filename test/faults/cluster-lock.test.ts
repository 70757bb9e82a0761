/**
 * The cluster lock cannot wedge: a holder of many hours does not grow the lock's history without bound (the
 * lock continues as new, keeping holder and queue), and a lock workflow that vanishes (terminated) is started
 * again by its waiters, learns who holds the cluster from the holder itself, and still lets the runs take turns.
 * Hours pass in seconds on the time-skipping test server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { lockStateQuery, lockWorkflowIdFor, type LockState } from '../../src/shared/lock-protocol';
import { fakeActivities, Recorder } from '../support/fake-activities';
import type { Holding } from '../support/lock-workflows';
import { keepHistory } from '../support/histories';
import { startTcpProxy } from '../support/tcp-proxy';
import { startTimeSkipping } from '../support/time-skipping';

let env: TestWorkflowEnvironment;
const workers: { shutdown(): void; done: Promise<void> }[] = [];

before(async () => {
  env = await startTimeSkipping();
});
after(async () => {
  for (const w of workers) w.shutdown();
  // A worker still busy with a wedged run must not hold the file open: give the shutdown a minute.
  await Promise.race([
    Promise.all(workers.map((w) => w.done)),
    new Promise((r) => setTimeout(r, 60_000).unref()),
  ]);
  await env?.teardown();
});

/**
 * A worker on a task queue of its own, so each test has a lock of its own. `activityClient` is the Temporal client
 * the activities use (the lock's checks, the requests), when not the environment's own.
 */
async function lockWorld(name: string, activityClient: Client = env.client) {
  const taskQueue = `lock-${name}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: require.resolve('../support/lock-workflows'),
    activities: fakeActivities(new Recorder(), activityClient, taskQueue),
  });
  workers.push({ shutdown: () => worker.shutdown(), done: worker.run() });
  const lock = () => env.client.workflow.getHandle(lockWorkflowIdFor(taskQueue));
  const hold = (id: string, holdFor: string) =>
    env.client.workflow.start('holdClusterLock', {
      taskQueue,
      workflowId: `${taskQueue}-${id}`,
      args: [holdFor],
    });
  const lockState = () => lock().query(lockStateQuery);
  /**
   * A run's result, waited for at most `seconds` of real time: a lock that wedged fails the test at once
   * with what the lock and the runs looked like, instead of hanging the suite.
   */
  const resultOf = async (run: WorkflowHandle, seconds = 90): Promise<Holding> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void describeWedge(run).then(
          (d) => reject(new Error(`${run.workflowId} had no result after ${seconds} s: ${d}`)),
          reject,
        );
      }, seconds * 1000);
    });
    try {
      return (await Promise.race([run.result(), deadline])) as Holding;
    } finally {
      clearTimeout(timer);
    }
  };
  const describeWedge = async (run: WorkflowHandle): Promise<string> => {
    const state = await lockState().catch((err: unknown) => `no answer (${String(err)})`);
    const d = await run.describe().catch(() => undefined);
    const lockEvents =
      (
        await lock()
          .fetchHistory()
          .catch(() => undefined)
      )?.events ?? [];
    const lastEvents = lockEvents.slice(-8).map((e) => temporal.api.enums.v1.EventType[e.eventType ?? 0]);
    return (
      `lock state ${JSON.stringify(state)}; ${run.workflowId} ${d?.status.name ?? 'unknown'}, ` +
      `pending activities ${d?.raw.pendingActivities?.length ?? '?'}; lock's last events ${lastEvents.join(',')}`
    );
  };
  const until = async (what: string, ok: (s: LockState) => boolean) => {
    for (let i = 0; i < 200; i++) {
      const s = await lockState().catch(() => undefined);
      if (s && ok(s)) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting until ${what}; lock state ${JSON.stringify(await lockState())}`);
  };
  return { taskQueue, lock, hold, lockState, until, resultOf };
}

/** The runs of the lock workflow from its first, following continue-as-new. */
async function lockRuns(workflowId: string, firstRunId: string) {
  const runs: { runId: string; events: number; status: string }[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const handle: WorkflowHandle = env.client.workflow.getHandle(workflowId, runId);
    const events = (await handle.fetchHistory()).events ?? [];
    runs.push({ runId, events: events.length, status: (await handle.describe()).status.name });
    const next: string | null | undefined =
      events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    runId = next ?? undefined;
  }
  return runs;
}

describe('the cluster lock under faults', () => {
  it(
    'a holder of six hours: the lock continues as new with a bounded history and then grants the waiter',
    { timeout: 300_000 },
    async () => {
      const w = await lockWorld('long-holder');
      const historyLimit = 150;
      const lock = await env.client.workflow.start('clusterLock', {
        taskQueue: w.taskQueue,
        workflowId: lockWorkflowIdFor(w.taskQueue),
        args: [{ queue: [], historyLimit }],
      });
      const holder = await w.hold('holder', '6 hours');
      await w.until('the holder holds', (s) => s.holder?.workflowId === holder.workflowId);
      const waiter = await w.hold('waiter', '1 minute');
      await w.until('the waiter is queued', (s) => s.queue.some((q) => q.workflowId === waiter.workflowId));

      const waited = await w.resultOf(waiter);
      const held = await w.resultOf(holder);
      assert.ok(held.releasedAt - held.grantedAt >= 6 * 3600_000);
      assert.ok(waited.grantedAt >= held.releasedAt, 'the waiter was granted only after the holder released');

      const runs = await lockRuns(lock.workflowId, lock.firstExecutionRunId);
      const longest = Math.max(...runs.map((r) => r.events));
      console.log(
        `lock workflow: ${runs.length} runs over 6 h of holding, longest history ${longest} events`,
      );
      assert.ok(runs.length >= 10, `continued as new ${runs.length - 1} times`);
      assert.equal(runs[0]!.status, 'CONTINUED_AS_NEW');
      assert.ok(longest <= historyLimit + 40, `a run's history stays near the limit: ${longest} events`);
      await keepHistory(
        env.client.workflow.getHandle(lock.workflowId, runs[0]!.runId),
        'lock-continued-as-new',
      );
      await keepHistory(
        env.client.workflow.getHandle(lock.workflowId, runs.at(-1)!.runId),
        'lock-continued-granted-waiter',
      );
    },
  );

  it(
    'a terminated lock: the waiter asks again, the holder re-asserts, the runs still take turns, and a later release frees it',
    { timeout: 300_000 },
    async () => {
      const w = await lockWorld('vanished');
      const holder = await w.hold('holder', '2 hours');
      await w.until('the holder holds', (s) => s.holder?.workflowId === holder.workflowId);
      // The waiter asks 5 minutes after the holder was granted: its repeated request (every 10 minutes) then
      // reaches the new lock workflow before the holder's re-assertion does.
      await env.sleep('5 minutes');
      const waiter = await w.hold('waiter', '1 minute');
      await w.until('the waiter is queued', (s) => s.queue.some((q) => q.workflowId === waiter.workflowId));
      await env.sleep('6 minutes');
      const terminated = (await w.lock().describe()).runId;
      await w.lock().terminate('the lock workflow vanishes');

      const waited = await w.resultOf(waiter);
      const held = await w.resultOf(holder);
      assert.ok(waited.grantedAt >= held.releasedAt, 'the waiter never overtook the holder');
      const after = await w.lock().describe();
      assert.notEqual(after.runId, terminated, 'a new lock workflow was started by the repeated requests');
      await keepHistory(w.lock(), 'lock-started-afresh-awaited-reassertion');

      // The waiter's release left nothing behind: the next run is granted at once.
      const s = await w.lockState();
      assert.equal(s.holder, undefined);
      assert.deepEqual(s.queue, []);
      const start = await env.currentTimeMs();
      const third = await w.hold('third', '1 minute');
      const next = await w.resultOf(third);
      assert.ok(next.grantedAt - start < 60_000, `granted ${next.grantedAt - start} ms after asking`);
    },
  );

  it(
    'a holder whose grant was lost asks again and is granted again, instead of both waiting forever',
    { timeout: 300_000 },
    async () => {
      const w = await lockWorld('lost-grant');
      const run = await env.client.workflow.start('missFirstGrant', {
        taskQueue: w.taskQueue,
        workflowId: `${w.taskQueue}-run`,
      });
      const grants = (await Promise.race([
        run.result(),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('the run was never granted again')), 90_000).unref(),
        ),
      ])) as number;
      assert.equal(grants, 2, 'the lost grant, then the one sent again');
      const s = await w.lockState();
      assert.equal(s.holder, undefined, 'the release after the second grant freed the lock');
      await keepHistory(w.lock(), 'lock-regranted');
    },
  );

  it(
    "Temporal unreachable from the lock's liveness checks for ten minutes: the lock keeps holder and queue, then grants the waiter",
    { timeout: 300_000 },
    async () => {
      // The activities' only way to Temporal, cut and restored by the test.
      const [host, port] = env.address.split(':');
      const proxy = await startTcpProxy(host!, Number(port));
      // No client-side retries: each check fails at once, as every attempt would after its retries.
      const connection = await Connection.connect({ address: proxy.address, interceptors: [] });
      const w = await lockWorld('unreachable', new Client({ connection }));
      const holder = await w.hold('holder', '30 minutes');
      await w.until('the holder holds', (s) => s.holder?.workflowId === holder.workflowId);
      const waiter = await w.hold('waiter', '1 minute');
      await w.until('the waiter is queued', (s) => s.queue.some((q) => q.workflowId === waiter.workflowId));

      await proxy.cut();
      await env.sleep('10 minutes');
      const events = (await w.lock().fetchHistory()).events ?? [];
      const failed = events.filter(
        (e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
      ).length;
      const during = await w.lock().describe();
      const state = await w.lockState();
      console.log(
        `after 10 min with every liveness check failing (${failed} failed check activities): lock ` +
          `${during.status.name}, holder ${state.holder?.workflowId}, queue ${state.queue.map((q) => q.workflowId).join(', ')}`,
      );
      assert.ok(failed >= 5, `the checks failed: ${failed}`);
      assert.equal(during.status.name, 'RUNNING');
      assert.equal(state.holder?.workflowId, holder.workflowId);
      assert.deepEqual(
        state.queue.map((q) => q.workflowId),
        [waiter.workflowId],
      );

      await proxy.restore();
      const held = await w.resultOf(holder);
      const waited = await w.resultOf(waiter);
      assert.ok(waited.grantedAt >= held.releasedAt, 'the waiter was granted after the holder released');
      await connection.close();
    },
  );
});
