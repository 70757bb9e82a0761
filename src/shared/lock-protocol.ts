/**
 * The cluster lock's protocol: the workflow ids, signals and queries through which runs, the lock workflow, the
 * watchdog's activities and the CLI talk about who uses the cluster. Definitions only (no workflow code), so that
 * activities import it instead of a workflow file.
 *
 * Who uses the cluster is decided from the open runs themselves, not only from the lock workflow's memory: every
 * run of a CLUSTER_RUN_TYPES type answers clusterUseQuery from the moment it is granted the cluster until its
 * cleanup is done, so a lock workflow that was lost (terminated, failed, its history deleted) can be rebuilt and
 * the watchdog never stops instances under a run that says it holds them.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** A run asking for the cluster. The holder is the workflow id's open run (a reset keeps the id, not the run id). */
export interface LockRequester {
  workflowId: string;
  runId: string;
}

export interface LockRequest extends LockRequester {
  /** Asked before and was not granted within LOCK_RECHECK: the lock workflow may have been started afresh. */
  again?: boolean;
  /** Already holds the cluster: re-asserts it, in case the lock workflow vanished and forgot. */
  holding?: boolean;
}

export interface LockState {
  holder?: LockRequester;
  queue: LockRequester[];
  /** When the holder was granted the lock (ms since the epoch). */
  heldSince?: number;
  /** When the lock was last released (ms since the epoch), and who held it then. */
  lastReleasedAt?: number;
  lastHolder?: LockRequester;
  /** Continue as new once the history has this many events (or when Temporal suggests it). */
  historyLimit?: number;
}

/** A run's own account of its use of the cluster (clusterUseQuery). */
export interface ClusterUse {
  /** Granted the cluster and not yet done with its cleanup. */
  holds: boolean;
  /** When it was granted the cluster (ms since the epoch). */
  since?: number;
}

/** The open runs of the lock's task queue that use the cluster, as they answered clusterUseQuery. */
export interface ClusterUsers {
  /** The runs that say they hold the cluster. */
  holding: LockRequester[];
  /** Open runs that could not be asked (they may hold it): never taken for idle. */
  unknown: LockRequester[];
}

export const requestLockSignal = defineSignal<[LockRequest]>('requestLock');
export const releaseLockSignal = defineSignal<[LockRequester]>('releaseLock');
export const lockGrantedSignal = defineSignal<[{ lockWorkflowId: string }]>('lockGranted');
export const lockStateQuery = defineQuery<LockState>('lockState');
export const clusterUseQuery = defineQuery<ClusterUse>('clusterUse');

/** The lock workflow's type, as the activity that starts it names it. */
export const LOCK_WORKFLOW_TYPE = 'clusterLock';
/** The workflow types whose runs use the cluster and answer clusterUseQuery. */
export const CLUSTER_RUN_TYPES = ['potholePipeline', 'potholeBackfill'] as const;

export const lockWorkflowIdFor = (taskQueue: string): string => `pothole-cluster-lock-${taskQueue}`;
