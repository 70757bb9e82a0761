/**
 * One run per cluster. Whatever starts them (the schedule, the CLI, the UI, a backfill), pipeline runs take turns
 * on the cluster through a lock workflow driven by signals, after Temporal's mutex sample:
 * a run asks (signal-with-start through an activity), waits for its grant signal, and releases after its cleanup.
 * A waiter that is cancelled withdraws its request; a holder that vanished without releasing (terminated, or
 * replaced by a reset) is detected by a liveness check every minute.
 */
import {
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface LockRequester {
  workflowId: string;
  runId: string;
}

export interface LockState {
  holder?: LockRequester;
  queue: LockRequester[];
}

export const requestLockSignal = defineSignal<[LockRequester]>('requestLock');
export const releaseLockSignal = defineSignal<[LockRequester]>('releaseLock');
export const lockGrantedSignal = defineSignal<[{ lockWorkflowId: string }]>('lockGranted');
export const lockStateQuery = defineQuery<LockState>('lockState');

export const lockWorkflowIdFor = (taskQueue: string): string => `pothole-cluster-lock-${taskQueue}`;

const { is_workflow_running } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

const same = (a: LockRequester | undefined, b: LockRequester): boolean =>
  !!a && a.workflowId === b.workflowId && a.runId === b.runId;

/** The lock itself. Ends when idle; the next request starts it again. */
export async function clusterLock(state: LockState = { queue: [] }): Promise<void> {
  const { holder: initialHolder, queue } = state;
  let holder = initialHolder;
  setHandler(requestLockSignal, (r) => {
    if (!same(holder, r) && !queue.some((q) => same(q, r))) queue.push(r);
  });
  setHandler(releaseLockSignal, (r) => {
    if (same(holder, r)) holder = undefined;
    const i = queue.findIndex((q) => same(q, r));
    if (i >= 0) queue.splice(i, 1);
  });
  setHandler(lockStateQuery, () => ({ holder, queue }));

  for (let grants = 0; grants < 100;) {
    if (!holder) {
      const next = queue.shift();
      if (!next) {
        // Idle for a while: end; a later request starts a fresh lock workflow.
        if (!(await condition(() => queue.length > 0, '10 minutes'))) return;
        continue;
      }
      holder = next;
      grants++;
      try {
        await getExternalWorkflowHandle(next.workflowId, next.runId).signal(lockGrantedSignal, {
          lockWorkflowId: workflowInfo().workflowId,
        });
      } catch {
        holder = undefined; // the requester is gone
        continue;
      }
    }
    const current = holder;
    const released = await condition(() => !same(holder, current), '1 minute');
    if (!released && !(await is_workflow_running(current))) {
      holder = undefined; // terminated or timed out without releasing
    }
  }
  await continueAsNew<typeof clusterLock>({ holder, queue });
}

/**
 * Waits for the cluster lock; returns a function that releases it (safe to call in a non-cancellable scope,
 * also when the lock was never granted: it then withdraws the request).
 */
export async function acquireClusterLock(
  request: (r: LockRequester & { lockWorkflowId: string }) => Promise<{ holder?: string }>,
  /** Told what the run waits for while it waits (the holder's workflow id when known), then undefined. */
  onWaiting: (waitingFor: string | undefined) => void,
): Promise<() => Promise<void>> {
  const info = workflowInfo();
  const me = { workflowId: info.workflowId, runId: info.runId };
  const lockWorkflowId = lockWorkflowIdFor(info.taskQueue);
  let granted = false;
  setHandler(lockGrantedSignal, () => {
    granted = true;
  });
  const release = async () => {
    try {
      await getExternalWorkflowHandle(lockWorkflowId).signal(releaseLockSignal, me);
    } catch {
      // The lock workflow is gone: nothing is held.
    }
  };
  try {
    const { holder } = await request({ ...me, lockWorkflowId });
    if (!granted) onWaiting(holder ? `cluster in use by ${holder}` : 'waiting for the cluster lock');
    await condition(() => granted);
  } catch (err) {
    await CancellationScope.nonCancellable(release);
    throw err;
  }
  onWaiting(undefined);
  return release;
}
