/**
 * The cleanup every run owes the team paying for the instances: stop_spark, then stop_cluster until it succeeds.
 *
 * stop_cluster is retried here, in the workflow, rather than by Temporal's retry policy alone: each failed attempt
 * then shows in the `progress` query (and `pothole status`), and after a few failures Slack hears that the instances
 * may be running, while the retries go on (capped interval, no attempt limit).
 */
import { ActivityFailure, ApplicationFailure, patched, sleep } from '@temporalio/workflow';
import type { PipelineSettings } from '../activities/temporal';
import { lostInstanceLabels } from '../shared/cleanup-outcome';
import type { CleanupOutcome, NotifyInput, StepInput } from '../shared/types';
import { acts } from './activities';
import { cleanupFailed } from './metrics';
import { failureMessage, type Progress } from './progress';

export interface CleanupTiming {
  /** Failed stop_cluster attempts before Slack is told the instances may be running. */
  alertAfterFailures: number;
  /** The longest wait between two stop_cluster attempts. */
  maxIntervalSeconds: number;
}

/** The worker's CLEANUP_* settings; runs recorded before the settings existed get the defaults. */
export function cleanupTiming(settings: PipelineSettings): CleanupTiming {
  return {
    alertAfterFailures: settings.cleanupAlertAfterFailures ?? 3,
    maxIntervalSeconds: settings.cleanupRetryMaxIntervalSeconds ?? 120,
  };
}

/** Runs stop_spark then stop_cluster; returns once every instance is stopped. Call it in a non-cancellable scope. */
export async function stopSparkAndCluster(
  progress: Progress,
  run: StepInput,
  timing: CleanupTiming,
  /** The cluster's instances as start_cluster reported them, for the alert (empty when unknown). */
  instances: string[],
  alert: (input: NotifyInput) => Promise<void>,
): Promise<CleanupOutcome> {
  const outcome: CleanupOutcome = { status: 'stopping', attempts: 0, instances, stoppedInstances: [] };
  progress.state.cleanup = outcome;

  // A failing stop_spark never prevents stop_cluster: stopping the instances ends Spark too.
  await progress
    .run('stop_spark', () => acts.stop_spark(run))
    .catch((err: unknown) => {
      outcome.sparkError = failureMessage(err);
    });

  const entry = progress.get('stop_cluster');
  let delaySeconds = Math.min(10, timing.maxIntervalSeconds);
  for (;;) {
    outcome.attempts++;
    entry.attempt = outcome.attempts;
    try {
      const stopped = await progress.run(
        'stop_cluster',
        () => acts.stop_cluster({ ...run, instanceIds: instances }),
        (r) =>
          `${r.stopped.length} instance(s) stopped` +
          (outcome.attempts > 1 ? ` after ${outcome.attempts} attempts` : '') +
          (r.lost?.length ? `; lost: ${lostInstanceLabels(r.lost).join(', ')}` : ''),
      );
      Object.assign(outcome, { status: 'stopped', stoppedInstances: stopped.stopped });
      if (stopped.lost?.length) outcome.lostInstances = lostInstanceLabels(stopped.lost);
      progress.state.clusterUp = false;
      return outcome;
    } catch (err) {
      outcome.lastError = failureMessage(err);
      cleanupFailed();
      // An error no retry can fix (missing permissions): the run gives the cluster up, with an alert, so that it
      // does not hold the cluster (and every following night) for good; the watchdog keeps trying and alerting.
      // Runs recorded before such errors were told apart replay their endless retries.
      if (isPermanent(err) && patched('cleanup-permanent-errors-to-watchdog')) {
        Object.assign(entry, { status: 'failed', detail: `no retry can fix this: ${outcome.lastError}` });
        outcome.status = 'left-to-watchdog';
        await alert({ kind: 'cleanup-failing', ...run, step: 'stop_cluster', cleanup: { ...outcome } });
        return outcome;
      }
      Object.assign(entry, {
        status: 'running',
        endedAt: undefined,
        detail: `attempt ${outcome.attempts} failed, retrying in ${delaySeconds} s: ${outcome.lastError}`,
      });
      if (outcome.attempts === timing.alertAfterFailures) {
        await alert({ kind: 'cleanup-failing', ...run, step: 'stop_cluster', cleanup: { ...outcome } });
      }
      await sleep(delaySeconds * 1000);
      delaySeconds = Math.min(delaySeconds * 2, timing.maxIntervalSeconds);
    }
  }
}

/** A stop_cluster failure marked non-retryable by the activity (ClusterStopForbidden). */
const isPermanent = (err: unknown): boolean =>
  err instanceof ActivityFailure &&
  err.cause instanceof ApplicationFailure &&
  err.cause.nonRetryable === true;
