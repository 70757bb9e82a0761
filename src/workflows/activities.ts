/**
 * Activity stubs with the timeouts and retry policy each step deserves.
 * Business errors (missing data, bad configuration, a failed Spark job) are thrown non-retryable by the
 * activities themselves; what is retried here is infrastructure trouble (a dropped SSH connection, a throttled API).
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

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

/** spark-submit runs long; a retry re-attaches to the running driver instead of starting a second one. */
const sparkJobs = proxyActivities<Activities>({
  startToCloseTimeout: '3 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

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

const servingOptions = {
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 4 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
} as const;

const notifications = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
});

const lockRequests = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumAttempts: 10 },
});

/** The serving steps may run on their own task queue (SERVING_TASK_QUEUE), on the database host. */
export function servingActivities(taskQueue: string | undefined) {
  return proxyActivities<Activities>(taskQueue ? { ...servingOptions, taskQueue } : servingOptions);
}

export const acts = {
  check_s3_input: quickChecks.check_s3_input,
  check_s3_stage1_out: quickChecks.check_s3_stage1_out,
  check_s3_stage2_out: quickChecks.check_s3_stage2_out,
  start_cluster: clusterSteps.start_cluster,
  start_spark: clusterSteps.start_spark,
  download_code: clusterSteps.download_code,
  install_deps: clusterSteps.install_deps,
  run_stage1: sparkJobs.run_stage1,
  run_stage2: sparkJobs.run_stage2,
  stop_spark: cleanupSpark.stop_spark,
  stop_cluster: cleanupCluster.stop_cluster,
  notify_slack: notifications.notify_slack,
  request_cluster_lock: lockRequests.request_cluster_lock,
  is_workflow_running: lockRequests.is_workflow_running,
};
