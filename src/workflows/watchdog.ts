/**
 * potholeWatchdog: one round of the Schedule pothole-watchdog. A terminated run (or a crash of everything) skips
 * the cleanup and leaves the cluster running; this stops it once no open run has held the cluster lock for longer
 * than WATCHDOG_GRACE_SECONDS. It takes the cluster lock itself before touching anything, so a run that holds
 * the cluster is never disturbed, by construction: if the lock is not free soon, it does nothing this round.
 */
import { CancellationScope, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { failureMessage } from './progress';
import type { Activities } from '../activities';
import type { WatchdogActivities, WatchdogPlan, WatchdogSurvey } from '../activities/watchdog';
import type { LockRequester } from '../shared/lock-protocol';
import { tryClusterLock } from './cluster-lock';
import { watchdogStopped } from './metrics';

export interface WatchdogResult {
  stopped: string[];
  kept: string[];
  reason: string;
}

const { survey_cluster_use, release_lock_of_closed_run, watchdog_survey } =
  proxyActivities<WatchdogActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
  });
const { watchdog_stop } = proxyActivities<WatchdogActivities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 5 },
});
const { request_cluster_lock, notify_slack } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumAttempts: 5 },
});

/** How long a round waits for the cluster lock before leaving the cluster to whoever is about to use it. */
const LOCK_WAIT = '1 minute';

const nothing = (plan: WatchdogPlan): WatchdogResult => ({
  stopped: [],
  kept: plan.kept.map((i) => i.id),
  reason: plan.reason,
});

/**
 * Reads what runs and holds (survey_cluster_use), then releases the lock of a holder whose run closed. Rounds
 * recorded before the two were split replay their single watchdog_survey.
 */
async function survey(readThenAct: boolean, self?: LockRequester): Promise<WatchdogSurvey> {
  if (!readThenAct) return watchdog_survey({ self });
  const s = await survey_cluster_use({ self });
  if (s.lock.closedHolder) await release_lock_of_closed_run(s.lock.closedHolder).catch(() => undefined);
  return s;
}

export async function potholeWatchdog(): Promise<WatchdogResult> {
  const readThenAct = patched('watchdog-read-then-act');
  const first = await survey(readThenAct);
  if (first.plan.stop.length === 0) return nothing(first.plan);

  const release = await tryClusterLock(request_cluster_lock, LOCK_WAIT);
  if (!release)
    return { ...nothing(first.plan), reason: 'the cluster lock was not free: a run uses the cluster' };
  const { workflowId, runId } = workflowInfo();
  let stopped: { stopped: string[]; driversKilled: string[] };
  let plan: WatchdogPlan;
  let lastHeld = first.lock;
  try {
    // Holding the lock, look again: what was idle may have been taken and released since.
    const again = await survey(readThenAct, { workflowId, runId });
    plan = again.plan;
    if (again.lock.lastHeldBy) lastHeld = again.lock;
    if (plan.stop.length === 0) return nothing(plan);
    const instanceIds = plan.stop.map((i) => i.id);
    try {
      stopped = await watchdog_stop({ instanceIds });
    } catch (err) {
      // Every round that cannot stop what it should (an error no retry fixes: missing permissions) says so.
      if (patched('watchdog-alerts-failed-stop')) await alertFailedStop(instanceIds, err);
      throw err;
    }
    watchdogStopped(stopped.stopped.length);
  } finally {
    await CancellationScope.nonCancellable(release);
  }

  const describe = (i: WatchdogPlan['stop'][number]) => ({
    id: i.id,
    role: i.role,
    launchTime: i.launchTime,
  });
  await notify_slack({
    kind: 'watchdog',
    batchDate: new Date().toISOString().slice(0, 10),
    workflowId,
    runId,
    watchdog: {
      stopped: plan.stop.filter((i) => stopped.stopped.includes(i.id)).map(describe),
      kept: plan.kept.map(describe),
      idleSince: plan.idleSince,
      lastHeldBy: lastHeld.lastHeldBy,
      lastHeldUntil: lastHeld.lastHeldUntil,
      driversKilled: stopped.driversKilled,
    },
  }).catch(() => undefined);
  return { stopped: stopped.stopped, kept: plan.kept.map((i) => i.id), reason: plan.reason };
}

/** Slack hears that the watchdog could not stop instances it should have, with the error. */
async function alertFailedStop(instanceIds: string[], err: unknown): Promise<void> {
  const { workflowId, runId } = workflowInfo();
  await notify_slack({
    kind: 'cleanup-failing',
    batchDate: new Date().toISOString().slice(0, 10),
    workflowId,
    runId,
    cleanup: {
      status: 'left-to-watchdog',
      attempts: 1,
      instances: instanceIds,
      stoppedInstances: [],
      lastError: failureMessage(err),
    },
  }).catch(() => undefined);
}
