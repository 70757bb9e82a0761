/**
 * What a stage attempt does with its remote driver when the attempt is cancelled.
 *
 * The driver costs a cluster's worth of money, but killing it throws away the stage's work, and a retry of
 * the same run re-attaches to a live driver. So the driver dies with the attempt only when the run itself
 * asked to cancel the step, or when the run is closed (finished, terminated, reset away from). Everything
 * else ends only the attempt: the server lost track of it (NOT_FOUND after a heartbeat timeout, typically
 * while the Temporal server was unreachable), it timed out locally, was paused or reset as an activity, or
 * the worker is shutting down. Whether the run is closed is asked of Temporal, never inferred; when Temporal
 * cannot answer, the driver is left to the next attempt, stop_spark or the cluster watchdog.
 */
import type { ActivityCancellationDetails } from '@temporalio/common';
import { errorMessage } from '../activity-support';

export interface DriverCancellationVerdict {
  kill: boolean;
  /** Why, for the log. */
  why: string;
}

/** The cancellation as the activity sees it: its details, and the reason the SDK's CancelledFailure carries. */
export interface AttemptCancellation {
  details?: Pick<ActivityCancellationDetails, 'cancelRequested' | 'workerShutdown'> &
    Partial<ActivityCancellationDetails>;
  /** CancelledFailure message: CANCELLED, NOT_FOUND, TIMED_OUT, WORKER_SHUTDOWN, PAUSED, RESET… */
  reason?: string;
}

export async function decideDriverOnCancellation(
  cancellation: AttemptCancellation,
  runIsOpen: () => Promise<boolean>,
): Promise<DriverCancellationVerdict> {
  const { details, reason = '' } = cancellation;
  if (details?.cancelRequested || reason === 'CANCELLED') {
    return { kill: true, why: 'the run asked to cancel this step' };
  }
  if (details?.workerShutdown || reason === 'WORKER_SHUTDOWN') {
    return { kill: false, why: 'the worker is shutting down; the next attempt re-attaches to the driver' };
  }
  const ended = describeEnd(cancellation);
  let open: boolean;
  try {
    open = await runIsOpen();
  } catch (err) {
    return {
      kill: false,
      why:
        `${ended}, and Temporal could not say whether the run is still open (${errorMessage(err)}); ` +
        'leaving the driver to the next attempt, stop_spark or the cluster watchdog',
    };
  }
  return open
    ? { kill: false, why: `${ended} but the run is still open; the next attempt re-attaches to the driver` }
    : { kill: true, why: `${ended} and the run is closed (finished, terminated or reset away from)` };
}

function describeEnd({ details, reason }: AttemptCancellation): string {
  if (details?.timedOut) return 'the attempt timed out';
  if (details?.reset) return 'the activity was reset';
  if (details?.paused) return 'the activity was paused';
  if (details?.notFound) return 'the server no longer knows this attempt';
  return `the attempt was cancelled (${reason || 'no reason given'})`;
}
