/**
 * start_cluster, stop_cluster: the EC2 instances of the Spark cluster (1 master + N workers).
 *
 * Instances come from MASTER_/WORKERn_INSTANCE_ID(S), or are found by the tags pothole:cluster=<CLUSTER_NAME>
 * and pothole:role=master|worker. Private IPs always come from DescribeInstances.
 * Instead of the original fixed 30-second sleep, start_cluster waits with the SDK waiter and then probes
 * the master actively: an SSH handshake (with host-key verification) must succeed.
 */
import {
  DescribeInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  type EC2Client,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { AwsConfig, ClusterConfig, SshConfig } from '../config';
import type { ClusterInfo, StartClusterResult, StepInput } from '../types';
import { cancellationSignal, currentContext, errorMessage, sleep, withHeartbeat } from './activity-support';
import { HostKeyVerificationError, type RemoteShell } from './remote';

export const CLUSTER_TAG = 'pothole:cluster';
export const ROLE_TAG = 'pothole:role';

export interface ClusterTiming {
  /** SDK waiter polling (seconds). */
  waiterMinDelaySeconds: number;
  waiterMaxDelaySeconds: number;
  /** How long instances may take to reach running/stopped. */
  waiterMaxWaitSeconds: number;
  /** How long the master may take to accept SSH after it is running. */
  sshReadyTimeoutMs: number;
  heartbeatIntervalMs: number;
}

export const DEFAULT_CLUSTER_TIMING: ClusterTiming = {
  waiterMinDelaySeconds: 5,
  waiterMaxDelaySeconds: 15,
  waiterMaxWaitSeconds: 600,
  sshReadyTimeoutMs: 300_000,
  heartbeatIntervalMs: 5_000,
};

export interface ClusterDeps {
  ec2: EC2Client;
  ssh: RemoteShell;
  config: { cluster: ClusterConfig; ssh: SshConfig; aws: AwsConfig };
  timing?: Partial<ClusterTiming>;
}

export interface StopClusterResult {
  /** Instances this call stopped. */
  stopped: string[];
  alreadyStopped: string[];
  seconds: number;
}

export interface ClusterInstance {
  id: string;
  role: 'master' | 'worker';
  state: string;
  privateIp?: string;
  /** When the instance was last started (ISO 8601). */
  launchTime?: string;
  tags?: Record<string, string>;
}

/** Where SSH reaches a node: SSH_HOST when set (single-host clusters, tunnels), else its private IP. */
export function sshAddress(ssh: SshConfig, privateIp: string): string {
  return ssh.SSH_HOST ?? privateIp;
}

const GONE = new Set(['terminated', 'shutting-down']);

function toClusterInstance(i: Instance, role: 'master' | 'worker'): ClusterInstance {
  return {
    id: i.InstanceId!,
    role,
    state: i.State?.Name ?? 'unknown',
    privateIp: i.PrivateIpAddress,
    launchTime: i.LaunchTime?.toISOString(),
    tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
  };
}

async function describeAll(ec2: EC2Client, input: { InstanceIds?: string[]; Filters?: Filter[] }) {
  const out: Instance[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(new DescribeInstancesCommand({ ...input, NextToken: token }));
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

const isNotFound = (err: unknown) =>
  /InvalidInstanceID\.(NotFound|Malformed)/.test((err as { name?: string }).name ?? '') ||
  /InvalidInstanceID\.(NotFound|Malformed)/.test(errorMessage(err));

/** The cluster's instances with their current state, from configured IDs or from tags. */
export async function describeCluster(deps: {
  ec2: EC2Client;
  config: { cluster: ClusterConfig; aws: AwsConfig };
}): Promise<ClusterInstance[]> {
  const { ec2 } = deps;
  const cfg = deps.config.cluster;
  if (cfg.masterInstanceId) {
    const ids = [cfg.masterInstanceId, ...cfg.workerInstanceIds];
    let found: Instance[];
    try {
      found = await describeAll(ec2, { InstanceIds: ids });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Find out exactly which configured IDs do not exist.
      const missing: string[] = [];
      for (const id of ids) {
        try {
          await describeAll(ec2, { InstanceIds: [id] });
        } catch (e) {
          if (isNotFound(e)) missing.push(id);
          else throw e;
        }
      }
      throw ApplicationFailure.nonRetryable(
        `EC2 instance(s) ${missing.join(', ') || ids.join(', ')} do not exist in ${deps.config.aws.AWS_REGION}: ` +
          'fix MASTER_INSTANCE_ID / WORKERn_INSTANCE_ID (or use CLUSTER_NAME tags)',
        'ClusterInstanceNotFound',
      );
    }
    const byId = new Map(found.map((i) => [i.InstanceId, i]));
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length) {
      throw ApplicationFailure.nonRetryable(
        `EC2 instance(s) ${missing.join(', ')} not found: fix MASTER_INSTANCE_ID / WORKERn_INSTANCE_ID`,
        'ClusterInstanceNotFound',
      );
    }
    return ids.map((id, n) => toClusterInstance(byId.get(id)!, n === 0 ? 'master' : 'worker'));
  }

  const name = cfg.clusterName!;
  const tagged = await describeAll(ec2, { Filters: [{ Name: `tag:${CLUSTER_TAG}`, Values: [name] }] });
  const roleOf = (i: Instance) => i.Tags?.find((t) => t.Key === ROLE_TAG)?.Value;
  const live = tagged.filter((i) => !GONE.has(i.State?.Name ?? ''));
  const gone = tagged.filter((i) => GONE.has(i.State?.Name ?? '')).map((i) => i.InstanceId);
  const goneNote = gone.length ? ` (terminated, ignored: ${gone.join(', ')})` : '';
  const masters = live.filter((i) => roleOf(i) === 'master');
  const workers = live.filter((i) => roleOf(i) === 'worker');
  const untagged = live.filter((i) => roleOf(i) !== 'master' && roleOf(i) !== 'worker');
  if (untagged.length) {
    // Also called outside activities (`pothole doctor`), where there is no activity logger.
    currentContext()?.log.warn(
      `instances tagged ${CLUSTER_TAG}=${name} without ${ROLE_TAG}=master|worker are ignored: ` +
        untagged.map((i) => i.InstanceId).join(', '),
    );
  }
  if (masters.length !== 1) {
    throw ApplicationFailure.nonRetryable(
      `cluster ${name}: expected exactly one instance tagged ${CLUSTER_TAG}=${name}, ${ROLE_TAG}=master, found ` +
        `${masters.length}${masters.length ? ` (${masters.map((m) => m.InstanceId).join(', ')})` : ''}${goneNote}. ` +
        'Fix the tags (or set MASTER_INSTANCE_ID).',
      'ClusterInstanceNotFound',
    );
  }
  if (workers.length === 0 || (cfg.expectedWorkers !== undefined && workers.length !== cfg.expectedWorkers)) {
    throw ApplicationFailure.nonRetryable(
      `cluster ${name}: expected ${cfg.expectedWorkers ?? 'at least 1'} worker instance(s) tagged ` +
        `${ROLE_TAG}=worker, found ${workers.length}${workers.length ? ` (${workers.map((w) => w.InstanceId).join(', ')})` : ''}` +
        `${goneNote}. Fix the tags or EXPECTED_WORKER_COUNT.`,
      'ClusterInstanceNotFound',
    );
  }
  const byId = (a: Instance, b: Instance) => (a.InstanceId! < b.InstanceId! ? -1 : 1);
  return [
    toClusterInstance(masters[0]!, 'master'),
    ...workers.sort(byId).map((w) => toClusterInstance(w, 'worker')),
  ];
}

function failIfGone(instances: ClusterInstance[]): void {
  const gone = instances.filter((i) => GONE.has(i.state));
  if (gone.length) {
    throw ApplicationFailure.nonRetryable(
      `cluster instance(s) ${gone.map((i) => `${i.id} (${i.role}, ${i.state})`).join(', ')} ` +
        'can never start again: replace them and update the instance IDs or tags',
      'ClusterInstanceTerminated',
    );
  }
}

function toClusterInfo(instances: ClusterInstance[], config: ClusterConfig): ClusterInfo {
  const master = instances.find((i) => i.role === 'master')!;
  const workers = instances.filter((i) => i.role === 'worker');
  const noIp = instances.filter((i) => !i.privateIp);
  if (noIp.length) {
    throw new Error(`running instance(s) without a private IP yet: ${noIp.map((i) => i.id).join(', ')}`);
  }
  if (config.masterPrivateIp && config.masterPrivateIp !== master.privateIp) {
    log.warn(
      `MASTER_PRIVATE_IP=${config.masterPrivateIp} differs from the master's actual private IP ` +
        `${master.privateIp}; using the actual one (the variable is no longer needed)`,
    );
  }
  return {
    masterInstanceId: master.id,
    workerInstanceIds: workers.map((w) => w.id),
    masterPrivateIp: master.privateIp!,
    workerPrivateIps: workers.map((w) => w.privateIp!),
  };
}

/** Retries an SSH handshake with the master (backoff 1 s → 10 s) until it succeeds or the deadline passes. */
export async function waitForSsh(
  ssh: RemoteShell,
  address: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ attempts: number; seconds: number }> {
  const start = Date.now();
  let delay = 1_000;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      await ssh.probe(address, { timeoutMs: Math.min(20_000, Math.max(5_000, timeoutMs)), signal });
      return { attempts, seconds: (Date.now() - start) / 1000 };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof HostKeyVerificationError) {
        throw ApplicationFailure.nonRetryable(err.message, 'HostKeyVerificationFailed');
      }
      const left = start + timeoutMs - Date.now();
      if (left <= 0) {
        throw ApplicationFailure.retryable(
          `the master is running but SSH to ${address}:${ssh.port} did not succeed within ` +
            `${Math.round(timeoutMs / 1000)} s (${attempts} attempts); last error: ${errorMessage(err)}`,
          'SshNotReady',
        );
      }
      log.info(`SSH to ${address} not ready yet (attempt ${attempts}): ${errorMessage(err)}`);
      await sleep(Math.min(delay, left), signal);
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

/**
 * Makes sure every cluster instance is running (and, when `probe`, that the master accepts SSH).
 * Cheap when they already run: one DescribeInstances. Steps that need the cluster call it first, so
 * a workflow reset to any of them still finds a cluster.
 */
export async function ensureClusterRunning(
  deps: ClusterDeps,
  options: { probe?: boolean } = {},
): Promise<StartClusterResult> {
  const timing = { ...DEFAULT_CLUSTER_TIMING, ...deps.timing };
  const signal = cancellationSignal();
  const { ec2 } = deps;
  let instances = await describeCluster(deps);
  failIfGone(instances);
  const ids = instances.map((i) => i.id);
  let phase = 'checking instances';
  const details = () => ({ phase, instances: instances.map((i) => `${i.id}:${i.state}`) });
  const waiter = (maxWaitSeconds = timing.waiterMaxWaitSeconds) => ({
    client: ec2,
    minDelay: timing.waiterMinDelaySeconds,
    maxDelay: timing.waiterMaxDelaySeconds,
    maxWaitTime: maxWaitSeconds,
    abortSignal: signal,
  });

  const allRunning = instances.every((i) => i.state === 'running' && i.privateIp);
  const started: string[] = [];
  if (!allRunning) {
    await withHeartbeat(
      details,
      async () => {
        const stopping = instances.filter((i) => i.state === 'stopping').map((i) => i.id);
        if (stopping.length) {
          phase = `waiting for ${stopping.join(', ')} to finish stopping before starting them again`;
          log.info(phase);
          await waitUntilInstanceStopped(waiter(), { InstanceIds: stopping });
          instances = await describeCluster(deps);
          failIfGone(instances);
        }
        const stopped = instances.filter((i) => i.state === 'stopped').map((i) => i.id);
        if (stopped.length) {
          phase = `starting ${stopped.join(', ')}`;
          log.info(phase);
          await ec2.send(new StartInstancesCommand({ InstanceIds: stopped }), { abortSignal: signal });
          started.push(...stopped);
        }
        phase = `waiting until ${ids.length} instance(s) are running`;
        try {
          await waitUntilInstanceRunning(waiter(), { InstanceIds: ids });
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          const now = await describeCluster(deps);
          failIfGone(now);
          const notRunning = now.filter((i) => i.state !== 'running');
          throw ApplicationFailure.retryable(
            `cluster instances did not reach running within ${timing.waiterMaxWaitSeconds} s: ` +
              `${notRunning.map((i) => `${i.id} is ${i.state}`).join(', ') || errorMessage(err)}`,
            'ClusterStartTimeout',
          );
        }
        instances = await describeCluster(deps);
      },
      timing.heartbeatIntervalMs,
    );
  }
  const info = toClusterInfo(instances, deps.config.cluster);

  if (options.probe || !allRunning) {
    const address = sshAddress(deps.config.ssh, info.masterPrivateIp);
    phase = `waiting for SSH on the master (${address})`;
    const probe = await withHeartbeat(
      details,
      () => waitForSsh(deps.ssh, address, timing.sshReadyTimeoutMs, signal),
      timing.heartbeatIntervalMs,
    );
    log.info(
      `master ${info.masterInstanceId} accepts SSH at ${address} (after ${probe.attempts} attempt(s))`,
    );
  }
  if (!allRunning) log.info(`cluster running; started ${started.length ? started.join(', ') : 'nothing'}`);
  return { ...info, started };
}

/**
 * Stops the cluster's instances (those `only` picks, or all) and waits until they are stopped: the heart of
 * stop_cluster, shared with the watchdog. Pending instances are let reach running first; terminated ones skipped.
 */
export async function stopClusterInstances(
  deps: ClusterDeps,
  options: { label: string; only?: (i: ClusterInstance) => boolean },
): Promise<StopClusterResult> {
  const timing = { ...DEFAULT_CLUSTER_TIMING, ...deps.timing };
  const chosen = options.only ?? (() => true);
  const started = Date.now();
  const signal = cancellationSignal();
  const { ec2 } = deps;
  let instances = (await describeCluster(deps)).filter(chosen);
  const waiter = {
    client: ec2,
    minDelay: timing.waiterMinDelaySeconds,
    maxDelay: timing.waiterMaxDelaySeconds,
    maxWaitTime: timing.waiterMaxWaitSeconds,
    abortSignal: signal,
  };
  let phase = 'checking instances';
  const details = () => ({ phase, instances: instances.map((i) => `${i.id}:${i.state}`) });
  const gone = instances.filter((i) => GONE.has(i.state));
  if (gone.length) log.warn(`not stopping terminated instance(s): ${gone.map((i) => i.id).join(', ')}`);
  const alreadyStopped = instances.filter((i) => i.state === 'stopped').map((i) => i.id);
  const toStop: string[] = [];

  await withHeartbeat(
    details,
    async () => {
      // A pending instance cannot be stopped yet (IncorrectInstanceState): let it reach running first.
      const pending = instances.filter((i) => i.state === 'pending').map((i) => i.id);
      if (pending.length) {
        phase = `waiting for pending ${pending.join(', ')} before stopping`;
        await waitUntilInstanceRunning(waiter, { InstanceIds: pending });
        instances = (await describeCluster(deps)).filter(chosen);
      }
      toStop.push(...instances.filter((i) => i.state === 'running').map((i) => i.id));
      if (toStop.length) {
        phase = `stopping ${toStop.join(', ')}`;
        log.info(`${options.label}: ${phase}`);
        await ec2.send(new StopInstancesCommand({ InstanceIds: toStop }), { abortSignal: signal });
      }
      const waitFor = instances.filter((i) => !GONE.has(i.state) && i.state !== 'stopped').map((i) => i.id);
      if (waitFor.length) {
        phase = `waiting until ${waitFor.join(', ')} are stopped`;
        await waitUntilInstanceStopped(waiter, { InstanceIds: waitFor });
      }
    },
    timing.heartbeatIntervalMs,
  );
  const result: StopClusterResult = {
    stopped: toStop,
    alreadyStopped,
    seconds: (Date.now() - started) / 1000,
  };
  log.info(
    toStop.length
      ? `cluster stopped (${toStop.join(', ')}) in ${result.seconds.toFixed(1)} s`
      : 'cluster was already stopped',
  );
  return result;
}

export function createClusterActivities(deps: ClusterDeps) {
  /**
   * Starts master and workers (skipping running ones), waits until running, then until the master
   * accepts SSH. Idempotent. Suggested options: startToCloseTimeout 15 min, heartbeatTimeout 30 s,
   * retry up to 3 attempts (10 s → 1 min) for EC2 throttling or slow boots; missing or terminated
   * instances and host-key failures are non-retryable.
   */
  async function start_cluster(input: StepInput): Promise<StartClusterResult> {
    log.info(`start_cluster for ${input.batchDate}`);
    return ensureClusterRunning(deps, { probe: true });
  }

  /**
   * Stops every cluster instance and waits until stopped. Idempotent: already stopped = success;
   * terminated instances cost nothing and are skipped. Suggested options: startToCloseTimeout 15 min,
   * heartbeatTimeout 30 s, retries with backoff (up to ~10 attempts): a cluster left running is the
   * costliest failure.
   */
  async function stop_cluster(input: StepInput): Promise<StopClusterResult> {
    return stopClusterInstances(deps, { label: `stop_cluster for ${input.batchDate}` });
  }

  return { start_cluster, stop_cluster };
}
