/**
 * Activities that talk to the Temporal service itself: the cluster lock's signal-with-start and liveness checks,
 * and the worker-side settings the workflow needs (it cannot read the environment).
 */
import { log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { ClusterPrices } from '../cost/run-cost';
import {
  CLUSTER_RUN_TYPES,
  clusterUseQuery,
  LOCK_WORKFLOW_TYPE,
  lockStateQuery,
  requestLockSignal,
  type ClusterUsers,
  type LockRequest,
  type LockRequester,
} from '../shared/lock-protocol';
import { errorMessage } from './activity-support';

export interface PipelineSettings {
  /** Task queue of the serving steps (load_to_rdb, refresh_views, send_email_report); undefined = the same queue. */
  servingTaskQueue?: string;
  /** CLEANUP_ALERT_AFTER_FAILURES (optional: histories recorded before the setting existed lack it). */
  cleanupAlertAfterFailures?: number;
  /** CLEANUP_RETRY_MAX_INTERVAL_SECONDS. */
  cleanupRetryMaxIntervalSeconds?: number;
  /** SERVING_RETRY_WINDOW_SECONDS; absent in runs recorded before the setting existed. */
  servingRetryWindowSeconds?: number;
  /** Dates per cluster session of a backfill (BACKFILL_DATES_PER_SESSION). */
  backfillDatesPerSession?: number;
  /**
   * Present when the nightly run loads the citizens' complaints after load_to_rdb (COMPLAINTS_NIGHTLY): the last
   * `lookbackDays` days ending on the batch date (COMPLAINTS_LOOKBACK_DAYS). The service key stays on the worker.
   */
  complaints?: { lookbackDays: number };
  /**
   * CLUSTER_MASTER_HOURLY_USD and CLUSTER_WORKER_HOURLY_USD when each run starts: recorded in the run's history, so
   * its cost replays unchanged and a schedule never keeps an old price. Absent in runs recorded before them.
   */
  clusterPrices?: ClusterPrices;
  /**
   * SPARK_STAGE_TIMEOUT_MINUTES: the Spark stages' activity timeouts follow it. Absent in runs recorded before it
   * was recorded (they keep 3 hours an attempt).
   */
  sparkStageTimeoutMinutes?: number;
}

/**
 * Whether that run of a workflow is still open (with an empty runId: whether the workflow id has an open run).
 * False once it has closed (completed, failed, cancelled, terminated, reset away from, continued as new) or the
 * server no longer knows it; throws when the server cannot be asked (within `timeoutMs` when given).
 */
export async function isRunOpen(
  client: Client,
  run: { workflowId: string; runId: string },
  timeoutMs?: number,
): Promise<boolean> {
  const describe = () => client.workflow.getHandle(run.workflowId, run.runId || undefined).describe();
  try {
    const d = await (timeoutMs === undefined
      ? describe()
      : client.withDeadline(Date.now() + timeoutMs, describe));
    return d.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** How long one open run may take to answer clusterUseQuery before it counts as unknown. */
const USE_QUERY_TIMEOUT_MS = 10_000;

/** A query the run has no handler for yet: it has not asked for the cluster (or was recorded before the query). */
const notAnswering = (err: unknown) =>
  /did not register a handler|QueryNotRegistered/i.test(errorMessage(err));

/**
 * The open runs of the task queue's cluster-using types, each asked whether it holds the cluster. A run without
 * the handler has not asked for the cluster; one that does not answer (no worker, a failing workflow task) may
 * hold it and is listed as unknown.
 */
export async function findClusterUsers(client: Client, taskQueue: string): Promise<ClusterUsers> {
  const types = CLUSTER_RUN_TYPES.map((t) => `'${t}'`).join(', ');
  const users: ClusterUsers = { holding: [], unknown: [] };
  for await (const w of client.workflow.list({
    query: `TaskQueue = '${taskQueue}' AND WorkflowType IN (${types}) AND ExecutionStatus = 'Running'`,
  })) {
    const run = { workflowId: w.workflowId, runId: w.runId };
    try {
      const use = await client.withDeadline(Date.now() + USE_QUERY_TIMEOUT_MS, () =>
        client.workflow.getHandle(w.workflowId, w.runId).query(clusterUseQuery),
      );
      if (use.holds) users.holding.push(run);
    } catch (err) {
      if (notAnswering(err)) continue;
      log.warn(`could not ask ${w.workflowId} whether it holds the cluster: ${errorMessage(err)}`);
      users.unknown.push(run);
    }
  }
  return users;
}

export function createTemporalActivities(deps: {
  client: Client;
  taskQueue: string;
  settings: PipelineSettings;
}) {
  const { client, taskQueue, settings } = deps;
  return {
    async pipeline_settings(): Promise<PipelineSettings> {
      return settings;
    },

    /** Queues the requester at the lock (starting the lock workflow when none runs); returns who holds it now. */
    async request_cluster_lock(r: LockRequest & { lockWorkflowId: string }): Promise<{ holder?: string }> {
      const { lockWorkflowId: _, ...requester } = r;
      const handle = await client.workflow.signalWithStart(LOCK_WORKFLOW_TYPE, {
        workflowId: r.lockWorkflowId,
        taskQueue,
        args: [{ queue: [] }],
        signal: requestLockSignal,
        signalArgs: [requester],
      });
      const state = await handle.query(lockStateQuery).catch(() => undefined);
      const holder = state?.holder;
      return { holder: holder && holder.workflowId !== r.workflowId ? holder.workflowId : undefined };
    },

    /** Whether that run (with an empty runId: the workflow id's open run) is still open. */
    async is_workflow_running(w: LockRequester): Promise<boolean> {
      return isRunOpen(client, w);
    },

    /** The open pipeline and backfill runs of this task queue that hold the cluster, by their own account. */
    async find_cluster_users(): Promise<ClusterUsers> {
      return findClusterUsers(client, taskQueue);
    },
  };
}
