/**
 * Activity stubs with the timeouts and retry policy each step deserves.
 * Business errors (missing data, bad configuration, a failed Spark job) are thrown non-retryable by the
 * activities themselves; what is retried here is infrastructure trouble (a dropped SSH connection, a throttled API).
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PipelineSettings } from '../activities/temporal';

const quickChecks = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 5 },
});

/** Cluster and Spark steps heartbeat; a lost worker is noticed within the heartbeat timeout. */
const clusterSteps = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  // Cancellation reaches an activity with its next heartbeat, sent at most every 80 % of this.
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 4 },
  // Cancellation waits for the activity to finish cancelling (a killed driver, an aborted start) before cleanup.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** The attempts' timeout of runs whose recorded settings predate SPARK_STAGE_TIMEOUT_MINUTES. */
const RECORDED_STAGE_ATTEMPT = '3 hours';
/** Room beyond the stage's own limit for an attempt to launch the driver, kill it at the limit and say so. */
const STAGE_KILL_MARGIN_MINUTES = 10;

/**
 * run_stage1 and run_stage2. The stage ends itself at SPARK_STAGE_TIMEOUT_MINUTES after its driver started (killing
 * the driver, SparkStageTimeout), so each attempt is given that limit plus a margin; a retry re-attaches to the
 * running driver instead of starting a second one, and the driver's limit does not restart with it.
 */
export function sparkJobActivities(settings: PipelineSettings) {
  const minutes = settings.sparkStageTimeoutMinutes;
  const jobs = proxyActivities<Activities>({
    startToCloseTimeout:
      minutes === undefined ? RECORDED_STAGE_ATTEMPT : (minutes + STAGE_KILL_MARGIN_MINUTES) * 60_000,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  return { run_stage1: jobs.run_stage1, run_stage2: jobs.run_stage2 };
}

/**
 * Cleanup runs in a non-cancellable scope. stop_spark gets a few quick attempts: stopping the instances ends Spark
 * anyway. stop_cluster is attempted once per call: the workflow itself retries it until it succeeds, so that each
 * failed attempt is visible and alerted on (see cleanup.ts).
 */
const cleanupSpark = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

const cleanupCluster = proxyActivities<Activities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

const notifications = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
});

const lockRequests = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumAttempts: 10 },
});

/** SERVING_RETRY_WINDOW_SECONDS's default, also for runs recorded before the setting existed. */
const DEFAULT_SERVING_RETRY_WINDOW_SECONDS = 1800;

/** Longest healthy attempt of each serving step; load_to_rdb and refresh_views heartbeat. */
const SERVING_ATTEMPT_SECONDS = { load_to_rdb: 3600, refresh_views: 3600, send_email_report: 300 } as const;
type ServingStep = keyof typeof SERVING_ATTEMPT_SECONDS;

/**
 * The serving steps run after the cluster is stopped, so an outage of PostgreSQL or the SMTP server is
 * waited out: attempts are unlimited, backing off to one a minute, for the retry window
 * (SERVING_RETRY_WINDOW_SECONDS) measured from the step's first attempt (scheduleToCloseTimeout). The
 * window bounds the whole step, healthy attempts included, so an attempt never runs past it: each attempt
 * gets its own startToCloseTimeout or what is left of the window, whichever is shorter. Errors retrying
 * cannot fix (bad Stage2 data, a refused login) are non-retryable and fail the step at once.
 * The steps may run on their own task queue (SERVING_TASK_QUEUE), on the database host.
 */
export function servingActivities(settings: PipelineSettings) {
  const windowSeconds = settings.servingRetryWindowSeconds ?? DEFAULT_SERVING_RETRY_WINDOW_SECONDS;
  const proxy = (step: ServingStep) =>
    proxyActivities<Activities>({
      ...(settings.servingTaskQueue ? { taskQueue: settings.servingTaskQueue } : {}),
      scheduleToCloseTimeout: windowSeconds * 1000,
      startToCloseTimeout: Math.min(SERVING_ATTEMPT_SECONDS[step], windowSeconds) * 1000,
      ...(step === 'send_email_report' ? {} : { heartbeatTimeout: '2 minutes' }),
      // No maximumAttempts: unlimited, bounded by scheduleToCloseTimeout.
      retry: { initialInterval: '5 seconds', backoffCoefficient: 1.5, maximumInterval: '1 minute' },
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    })[step];
  const withinWindow =
    <A extends unknown[], R>(step: ServingStep, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        throw windowExhausted(err, step, windowSeconds) ?? err;
      }
    };
  return {
    load_to_rdb: withinWindow('load_to_rdb', proxy('load_to_rdb') as Activities['load_to_rdb']),
    load_complaints: proxyActivities<Activities>({
      ...(settings.servingTaskQueue ? { taskQueue: settings.servingTaskQueue } : {}),
      ...OPTIONAL_COMPLAINTS_STEP,
    }).load_complaints,
    refresh_views: withinWindow('refresh_views', proxy('refresh_views') as Activities['refresh_views']),
    send_email_report: withinWindow(
      'send_email_report',
      proxy('send_email_report') as Activities['send_email_report'],
    ),
  };
}

/**
 * load_complaints is optional: a few attempts (the API client already retries each page) within a bounded time,
 * so a portal outage costs the night minutes at most; its failure is a warning, the serving steps go on.
 */
const OPTIONAL_COMPLAINTS_STEP = {
  scheduleToCloseTimeout: '30 minutes',
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
} as const;

/**
 * With unlimited attempts a serving step fails only on a non-retryable error, a cancellation, or the end
 * of its window. For the last, one message an operator can act on: which step, how long it retried, and
 * the last attempt's error (which names the database or SMTP server, never a password).
 */
function windowExhausted(
  err: unknown,
  step: ServingStep,
  windowSeconds: number,
): ApplicationFailure | undefined {
  if (!(err instanceof ActivityFailure) || isCancellation(err)) return undefined;
  let cause: unknown = err.cause;
  if (cause instanceof ApplicationFailure && cause.nonRetryable) return undefined;
  let still = '';
  if (cause instanceof TimeoutFailure) {
    still = cause.cause ? '' : ` (its last attempt was still running: ${cause.message})`;
    cause = cause.cause ?? cause;
  }
  const last = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return ApplicationFailure.nonRetryable(
    `${step} still failing after its ${windowSeconds} s retry window (SERVING_RETRY_WINDOW_SECONDS)${still}: ${last}`,
    'ServingRetryWindowExceeded',
  );
}

export const acts = {
  check_s3_input: quickChecks.check_s3_input,
  check_s3_stage1_out: quickChecks.check_s3_stage1_out,
  check_s3_stage2_out: quickChecks.check_s3_stage2_out,
  start_cluster: clusterSteps.start_cluster,
  start_spark: clusterSteps.start_spark,
  download_code: clusterSteps.download_code,
  install_deps: clusterSteps.install_deps,
  stop_spark: cleanupSpark.stop_spark,
  stop_cluster: cleanupCluster.stop_cluster,
  notify_slack: notifications.notify_slack,
  request_cluster_lock: lockRequests.request_cluster_lock,
  is_workflow_running: lockRequests.is_workflow_running,
};
