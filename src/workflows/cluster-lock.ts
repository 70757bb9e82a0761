/**
 * One run per cluster. Whatever starts them (the schedule, the CLI, the UI, a backfill, the watchdog), runs take
 * turns on the cluster through a lock workflow driven by signals, after Temporal's mutex sample:
 * a run asks (signal-with-start through an activity), waits for its grant signal, and releases after its cleanup.
 * A waiter that is cancelled withdraws its request; a holder whose workflow id has no open run left (terminated,
 * timed out) is detected by a liveness check every minute. The holder is a workflow id's open run, not a run id:
 * a reset replaces the run and keeps the cluster.
 *
 * The lock cannot wedge nor fail: it continues as new before its history grows long (a holder of many hours adds a
 * liveness check a minute), carrying holder and queue; a check that cannot be answered counts as "still running";
 * and a lock workflow started afresh (the previous one lost: terminated, failed, its history deleted) first asks
 * the open runs whether they hold the cluster (lock-protocol's clusterUse) and takes the one that does as holder.
 * Should that fail, waiters ask again every LOCK_RECHECK and holders re-assert, and it waits for them.
 */
import {
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { Activities } from '../activities';
import {
  clusterUseQuery,
  lockGrantedSignal,
  lockStateQuery,
  lockWorkflowIdFor,
  releaseLockSignal,
  requestLockSignal,
  type LockRequest,
  type LockRequester,
  type LockState,
} from '../shared/lock-protocol';
import { lockWaited } from './metrics';

/** Events before the lock continues as new: a holder adds about 11 a minute, so about every 3 hours. */
const LOCK_HISTORY_LIMIT = 2_000;
/** How often a waiter asks again and a holder re-asserts. */
const LOCK_RECHECK: Duration = '10 minutes';
/** How long a lock workflow started afresh by a repeated request waits for a holder to re-assert. */
const REASSERT_GRACE: Duration = '11 minutes';
/** An idle lock workflow ends after this long; the next request starts a new one. */
const IDLE_END: Duration = '10 minutes';

/** A few quick attempts: a check that still fails counts as "unknown", which the lock never acts on. */
const { is_workflow_running, find_cluster_users } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

/** The lock itself. Ends when idle; the next request starts it again. */
export async function clusterLock(state: LockState = { queue: [] }): Promise<void> {
  const historyLimit = state.historyLimit ?? LOCK_HISTORY_LIMIT;
  const queue = [...state.queue];
  let { holder, heldSince, lastReleasedAt, lastHolder } = state;
  // A repeated request reaching a lock that started afresh means the previous lock workflow vanished: whoever
  // held the cluster then is given time to re-assert before anyone is granted it.
  let awaitHolders = false;
  const fresh = !workflowInfo().continuedFromExecutionRunId && !state.holder && state.queue.length === 0;
  let granted = 0;
  // Lock workflows recorded before it knew runs by their workflow id, asked the open runs when started afresh,
  // and outlived failing liveness checks replay as they ran.
  const fromOpenRuns = patched('cluster-lock-open-runs');
  // One workflow id has at most one open run; a reset replaces the run but keeps the id (and the cluster).
  const same = (a: LockRequester | undefined, b: LockRequester): boolean =>
    !!a && a.workflowId === b.workflowId && (fromOpenRuns || a.runId === b.runId);
  const runOf = (r: LockRequester): LockRequester => (fromOpenRuns ? { ...r, runId: '' } : r);

  const setHolder = (next: LockRequester | undefined) => {
    if (holder && !next) {
      lastReleasedAt = Date.now();
      lastHolder = holder;
    }
    holder = next;
    heldSince = next ? Date.now() : undefined;
  };
  // The holder asking as a waiter has not seen its grant: send it again rather than let both wait forever.
  const regrant = patched('cluster-lock-regrant');
  let grantUnseen = false;
  setHandler(requestLockSignal, (r) => {
    const who = { workflowId: r.workflowId, runId: r.runId };
    if (same(holder, who)) {
      if (!r.holding && regrant) grantUnseen = true;
      return;
    }
    if (queue.some((q) => same(q, who))) return;
    if (r.holding && !holder) {
      setHolder(who);
      return;
    }
    if (r.again && fresh && granted === 0 && !holder) awaitHolders = true;
    queue.push(who);
  });
  setHandler(releaseLockSignal, (r) => {
    if (same(holder, r)) setHolder(undefined);
    const i = queue.findIndex((q) => same(q, r));
    if (i >= 0) queue.splice(i, 1);
  });
  const grant = async (to: LockRequester): Promise<boolean> => {
    try {
      const run = runOf(to);
      await getExternalWorkflowHandle(run.workflowId, run.runId || undefined).signal(lockGrantedSignal, {
        lockWorkflowId: workflowInfo().workflowId,
      });
      return true;
    } catch {
      return false;
    }
  };
  setHandler(lockStateQuery, () => ({ holder, queue, heldSince, lastReleasedAt, lastHolder, historyLimit }));

  if (fresh && fromOpenRuns) {
    // Started afresh: the previous lock workflow may have been lost while a run held the cluster. The open runs
    // say whether they hold it; one that cannot be asked may, so it is given time to re-assert.
    const users = await find_cluster_users().catch(() => undefined);
    const holding = users?.holding[0];
    if (holding && !holder) setHolder({ workflowId: holding.workflowId, runId: holding.runId });
    if (!users || users.unknown.length > 0) awaitHolders = !holder;
  }

  for (;;) {
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength >= historyLimit) {
      // Signals that arrive meanwhile make the server retry this task with them applied: none is lost.
      await continueAsNew<typeof clusterLock>({
        holder,
        queue,
        heldSince,
        lastReleasedAt,
        lastHolder,
        historyLimit,
      });
    }
    if (!holder) {
      if (queue.length === 0) {
        if (!(await condition(() => queue.length > 0 || !!holder, IDLE_END))) return;
        continue;
      }
      if (awaitHolders) {
        awaitHolders = false;
        await condition(() => !!holder, REASSERT_GRACE);
        continue;
      }
      const next = queue.shift()!;
      setHolder(next);
      granted++;
      if (!(await grant(next))) {
        setHolder(undefined); // the requester is gone
        continue;
      }
    }
    const current = holder;
    if (!current) continue;
    const released = await condition(() => !same(holder, current) || grantUnseen, '1 minute');
    if (grantUnseen) {
      grantUnseen = false;
      if (same(holder, current) && !(await grant(current))) setHolder(undefined);
      continue;
    }
    if (released) continue;
    // An unanswered check means "still running": nothing the lock awaits may end it and lose holder and queue.
    const running = fromOpenRuns
      ? await is_workflow_running(runOf(current)).catch(() => true)
      : await is_workflow_running(current);
    if (!running && same(holder, current)) setHolder(undefined); // terminated or timed out without releasing
  }
}

export type LockRequestFn = (r: LockRequest & { lockWorkflowId: string }) => Promise<{ holder?: string }>;

/**
 * Waits for the cluster lock; returns a function that releases it (safe to call in a non-cancellable scope,
 * also when the lock was never granted: it then withdraws the request).
 */
export async function acquireClusterLock(
  request: LockRequestFn,
  /** Told what the run waits for while it waits (the holder's workflow id when known), then undefined. */
  onWaiting: (waitingFor: string | undefined) => void,
): Promise<() => Promise<void>> {
  return (await lockWithin(request, onWaiting))!;
}

/**
 * As acquireClusterLock, but gives up after `timeout`: then the request is withdrawn and the result is
 * undefined. A run that holds the lock is never overtaken.
 */
export async function tryClusterLock(
  request: LockRequestFn,
  timeout: Duration,
): Promise<(() => Promise<void>) | undefined> {
  return lockWithin(request, () => undefined, timeout);
}

async function lockWithin(
  request: LockRequestFn,
  onWaiting: (waitingFor: string | undefined) => void,
  timeout?: Duration,
): Promise<(() => Promise<void>) | undefined> {
  const info = workflowInfo();
  const me = { workflowId: info.workflowId, runId: info.runId };
  const lockWorkflowId = lockWorkflowIdFor(info.taskQueue);
  let granted = false;
  let grantedAt: number | undefined;
  let released = false;
  let reasserting: Promise<void> = Promise.resolve();
  setHandler(lockGrantedSignal, () => {
    granted = true;
    grantedAt ??= Date.now();
  });
  // The run's own account, asked by a lock workflow started afresh and by the watchdog: it holds the cluster from
  // its grant until its release (after its cleanup).
  setHandler(clusterUseQuery, () => ({ holds: granted && !released, since: grantedAt }));
  const release = async () => {
    released = true;
    // A re-assertion in flight must reach the lock before the release, or it would take the lock back.
    await reasserting;
    try {
      await getExternalWorkflowHandle(lockWorkflowId).signal(releaseLockSignal, me);
    } catch {
      // The lock workflow is gone: nothing is held.
    }
  };
  // Runs recorded before re-requests existed replay as they ran.
  const recheck = patched('cluster-lock-recheck');
  const askedAt = Date.now();
  try {
    const { holder } = await request({ ...me, lockWorkflowId });
    if (!granted) onWaiting(holder ? `cluster in use by ${holder}` : 'waiting for the cluster lock');
    if (timeout !== undefined) {
      if (!(await condition(() => granted, timeout))) {
        await CancellationScope.nonCancellable(release);
        return undefined;
      }
    } else if (recheck) {
      // Asking again is harmless (requests are idempotent) and starts a new lock workflow if it vanished.
      while (!(await condition(() => granted, LOCK_RECHECK))) {
        await request({ ...me, lockWorkflowId, again: true });
      }
    } else {
      await condition(() => granted);
    }
  } catch (err) {
    await CancellationScope.nonCancellable(release);
    throw err;
  }
  onWaiting(undefined);
  lockWaited((Date.now() - askedAt) / 1000);
  if (recheck) {
    // Until released, re-assert now and then, so that a lock workflow started afresh knows who holds it.
    reasserting = CancellationScope.nonCancellable(async () => {
      while (!(await condition(() => released, LOCK_RECHECK))) {
        await request({ ...me, lockWorkflowId, holding: true }).catch(() => undefined);
      }
    }).catch(() => undefined);
  }
  return release;
}
