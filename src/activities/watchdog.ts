/**
 * The watchdog's activities: find a cluster left running with no run holding it (a terminated run, a crash of
 * everything), and stop it. Built from the same EC2, SSH and Temporal clients as the steps, reusing
 * describeCluster and stop_cluster's stopping; the decision itself is a pure function (decideWatchdog).
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import { log, metricMeter } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AwsConfig, ClusterConfig, SparkConfig, SshConfig, WatchdogConfig } from '../config';
import { clusterInstancesSeen } from './metrics';
import {
  lockStateQuery,
  lockWorkflowIdFor,
  releaseLockSignal,
  type ClusterUsers,
  type LockRequester,
} from '../shared/lock-protocol';
import { cancellationSignal, errorMessage } from './activity-support';
import {
  findStopCandidates,
  sshAddress,
  stopClusterInstances,
  type ClusterInstance,
  type ClusterTiming,
} from './cluster';
import type { RemoteShell } from './remote';
import { killAllDriversScript } from './spark';
import { findClusterUsers } from './temporal';

export interface WatchdogInstance {
  id: string;
  role: 'master' | 'worker';
  state: string;
  launchTime?: string;
  /** Tagged WATCHDOG_KEEP_TAG (any value but "false"): reported, never stopped. */
  keep: boolean;
}

/** What the cluster lock says, with runs that have closed already discounted. */
export interface LockView {
  /** The workflow id of the open run that holds the lock, if any (never the watchdog's own run). */
  heldBy?: string;
  /** The run that held the lock last and when it stopped holding it (released, or its run closed). */
  lastHeldBy?: string;
  lastHeldUntil?: string;
  /** The lock names a holder whose run has closed: the lock is to be released on its behalf. */
  closedHolder?: LockRequester;
}

export interface WatchdogPlan {
  /** Running instances to stop: not kept, and unused for longer than the grace period. */
  stop: WatchdogInstance[];
  /** Running instances tagged to be kept. */
  kept: WatchdogInstance[];
  /** Since when the cluster counts as unused: its last start, or the lock's last holder, whichever is later. */
  idleSince?: string;
  /** Why nothing is stopped, or what is. */
  reason: string;
}

const RUNNING = new Set(['pending', 'running']);

export const isKept = (tags: Record<string, string> | undefined, keepTag: string): boolean =>
  tags !== undefined && keepTag in tags && tags[keepTag] !== 'false';

/**
 * What to stop: the running, untagged instances when no open run holds the cluster lock and the cluster has
 * been unused (since its instances started, or since the lock was last held, whichever is later) for longer
 * than the grace period.
 */
export function decideWatchdog(p: {
  instances: WatchdogInstance[];
  lock: LockView;
  /** What the open runs say: one that holds the cluster, or cannot be asked, keeps it running. */
  users: ClusterUsers;
  now: Date;
  graceSeconds: number;
}): WatchdogPlan {
  const running = p.instances.filter((i) => RUNNING.has(i.state));
  const kept = running.filter((i) => i.keep);
  const candidates = running.filter((i) => !i.keep);
  if (candidates.length === 0) {
    return { stop: [], kept, reason: kept.length ? 'only instances tagged to keep run' : 'nothing runs' };
  }
  if (p.lock.heldBy) return { stop: [], kept, reason: `in use by ${p.lock.heldBy}` };
  // Whatever the lock says (it may have been lost and started afresh), a run that holds the cluster keeps it.
  const holders = p.users.holding.map((r) => r.workflowId);
  if (holders.length)
    return { stop: [], kept, reason: `in use by ${holders.join(', ')} (by its own account)` };
  const unknown = p.users.unknown.map((r) => r.workflowId);
  if (unknown.length) {
    return {
      stop: [],
      kept,
      reason: `${unknown.join(', ')} could not be asked whether it holds the cluster`,
    };
  }
  const lastHeld = p.lock.lastHeldUntil ? Date.parse(p.lock.lastHeldUntil) : 0;
  const sinceOf = (i: WatchdogInstance) =>
    Math.max(i.launchTime ? Date.parse(i.launchTime) : p.now.getTime(), lastHeld);
  const graceMs = p.graceSeconds * 1000;
  const stop = candidates.filter((i) => p.now.getTime() - sinceOf(i) >= graceMs);
  const idleSince = new Date(Math.max(...candidates.map(sinceOf))).toISOString();
  if (stop.length === 0) {
    return {
      stop,
      kept,
      idleSince,
      reason: `unused since ${idleSince}, within the ${p.graceSeconds} s grace`,
    };
  }
  return {
    stop,
    kept,
    idleSince: new Date(Math.min(...stop.map(sinceOf))).toISOString(),
    reason: `running with no run holding the cluster for over ${p.graceSeconds} s`,
  };
}

export interface WatchdogDeps {
  ec2: EC2Client;
  ssh: RemoteShell;
  client: Client;
  /** The pipeline's task queue: its cluster lock is the one the watchdog reads and takes. */
  taskQueue: string;
  config: {
    cluster: ClusterConfig;
    ssh: SshConfig;
    aws: AwsConfig;
    spark: SparkConfig;
    watchdog: WatchdogConfig;
  };
  timing?: Partial<ClusterTiming>;
}

export interface WatchdogSurvey {
  plan: WatchdogPlan;
  lock: LockView;
  users: ClusterUsers;
}

export function createWatchdogActivities(deps: WatchdogDeps) {
  const { client, config } = deps;
  const lockWorkflowId = lockWorkflowIdFor(deps.taskQueue);
  const same = (a: LockRequester | undefined, b: LockRequester | undefined) =>
    !!a && !!b && a.workflowId === b.workflowId && a.runId === b.runId;

  /** The lock's holder, discounting the watchdog's own run and runs that closed (named as closedHolder). */
  async function readLock(self?: LockRequester): Promise<LockView> {
    const lock = client.workflow.getHandle(lockWorkflowId);
    const running = await lock.describe().then(
      (d) => d.status.name === 'RUNNING',
      (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      },
    );
    // No lock workflow: nobody holds the cluster (a run asks it before starting the cluster).
    if (!running) return {};
    const state = await lock.query(lockStateQuery);
    const holder = state.holder;
    if (holder && !same(holder, self)) {
      const closedAt = await closeTime(holder.workflowId);
      if (closedAt === undefined) return { heldBy: holder.workflowId };
      // The holder's run closed without releasing (terminated, timed out).
      return { lastHeldBy: holder.workflowId, lastHeldUntil: closedAt.toISOString(), closedHolder: holder };
    }
    if (!state.lastHolder || state.lastReleasedAt === undefined) return {};
    // A holder released by the lock's liveness check (or by this watchdog) stopped holding when its run closed.
    const closedAt = await closeTime(state.lastHolder.workflowId);
    const until = Math.min(state.lastReleasedAt, closedAt?.getTime() ?? Infinity);
    return { lastHeldBy: state.lastHolder.workflowId, lastHeldUntil: new Date(until).toISOString() };
  }

  /**
   * When the workflow id's last run closed; undefined while it has an open run. By id, not run id: a reset
   * replaces the run that holds the cluster and keeps the id.
   */
  async function closeTime(workflowId: string): Promise<Date | undefined> {
    const d = await client.workflow
      .getHandle(workflowId)
      .describe()
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
    if (d?.status.name === 'RUNNING') return undefined;
    return d?.closeTime ?? new Date(0);
  }

  /** Reads the instances, the lock and the open runs' own accounts, and decides; changes nothing. */
  async function survey(self?: LockRequester): Promise<WatchdogSurvey> {
    const keepTag = config.watchdog.WATCHDOG_KEEP_TAG;
    // Every instance that may be the cluster's, whatever its shape (a terminated worker must not blind it).
    const instances = (await findStopCandidates(deps)).instances.map(
      (i: ClusterInstance): WatchdogInstance => ({
        id: i.id,
        role: i.role,
        state: i.state,
        launchTime: i.launchTime,
        keep: isKept(i.tags, keepTag),
      }),
    );
    clusterInstancesSeen(
      metricMeter,
      instances.filter((i) => RUNNING.has(i.state)),
      Date.now(),
    );
    const lock = await readLock(self);
    const users = await findClusterUsers(client, deps.taskQueue);
    const plan = decideWatchdog({
      instances,
      lock,
      users,
      now: new Date(),
      graceSeconds: config.watchdog.WATCHDOG_GRACE_SECONDS,
    });
    log.info(`watchdog: ${plan.reason}`);
    return { plan, lock, users };
  }

  /** Releases the lock on behalf of a holder whose run closed, so the lock need not wait for its liveness check. */
  async function releaseLockOfClosedRun(holder: LockRequester): Promise<void> {
    await client.workflow.getHandle(lockWorkflowId).signal(releaseLockSignal, holder);
    log.warn(`released the cluster lock held by ${holder.workflowId}, whose run is closed`);
  }

  return {
    /** The cluster's instances, the lock's holder and the open runs' accounts, and what to stop. Read only. */
    async survey_cluster_use(input: { self?: LockRequester } = {}): Promise<WatchdogSurvey> {
      return survey(input.self);
    },

    async release_lock_of_closed_run(holder: LockRequester): Promise<void> {
      await releaseLockOfClosedRun(holder);
    },

    /** The two above in one, as watchdog rounds recorded before they were split call it. */
    async watchdog_survey(input: { self?: LockRequester } = {}): Promise<WatchdogSurvey> {
      const s = await survey(input.self);
      if (s.lock.closedHolder) await releaseLockOfClosedRun(s.lock.closedHolder).catch(() => undefined);
      return s;
    },

    /**
     * Kills Spark drivers left on the master (when it is to be stopped and answers over SSH), then stops the
     * given instances and waits until they are stopped.
     */
    async watchdog_stop(input: {
      instanceIds: string[];
    }): Promise<{ stopped: string[]; driversKilled: string[] }> {
      const ids = new Set(input.instanceIds);
      const master = (await findStopCandidates(deps)).instances.find((i) => i.role === 'master');
      const driversKilled: string[] = [];
      if (master && ids.has(master.id) && master.state === 'running' && master.privateIp) {
        const host = sshAddress(config.ssh, master.privateIp);
        try {
          const r = await deps.ssh.run(
            host,
            killAllDriversScript({ jobDir: config.spark.SPARK_JOB_DIR, graceSeconds: 10 }),
            { signal: cancellationSignal(), timeoutMs: 2 * 60_000 },
          );
          for (const line of r.stdout.split('\n')) {
            if (line.startsWith('KILLED ')) driversKilled.push(line.slice('KILLED '.length));
          }
        } catch (err) {
          // Stopping the instance ends its drivers too; the SSH step only makes it tidy.
          log.warn(`watchdog: could not reach the master over SSH to kill drivers: ${errorMessage(err)}`);
        }
      }
      const result = await stopClusterInstances(deps, { label: 'watchdog', only: (i) => ids.has(i.id) });
      return { stopped: result.stopped, driversKilled };
    },
  };
}

export type WatchdogActivities = ReturnType<typeof createWatchdogActivities>;
