/**
 * The cluster's EC2 instances (1 master + N workers): from MASTER_/WORKERn_INSTANCE_ID(S), or found by the tags
 * pothole:cluster=<CLUSTER_NAME> and pothole:role=master|worker. Private IPs always come from DescribeInstances.
 *
 * Two readings: describeCluster wants the cluster's exact shape (to start it and run Spark on it);
 * findStopCandidates wants every instance that may be the cluster's, whatever its shape (to stop them).
 */
import { DescribeInstancesCommand, type EC2Client, type Filter, type Instance } from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import type { AwsConfig, ClusterConfig, SshConfig } from '../../config';
import { currentContext, errorMessage } from '../activity-support';
import type { RemoteShell } from '../remote';

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

export const GONE = new Set(['terminated', 'shutting-down']);

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

/** An instance that may have been the cluster's and can no longer be stopped (nor started). */
export interface LostInstance {
  id: string;
  /** `not found` when EC2 no longer knows the id (a configured id that vanished). */
  state: 'not found' | 'terminated' | 'shutting-down';
}

/** Whether each id exists: the found instances, and the ids EC2 does not know. */
async function describeIds(ec2: EC2Client, ids: string[]): Promise<{ found: Instance[]; missing: string[] }> {
  if (ids.length === 0) return { found: [], missing: [] };
  try {
    const found = await describeAll(ec2, { InstanceIds: ids });
    const seen = new Set(found.map((i) => i.InstanceId));
    return { found, missing: ids.filter((id) => !seen.has(id)) };
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  // One unknown id fails the whole call: ask one by one.
  const found: Instance[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    try {
      found.push(...(await describeAll(ec2, { InstanceIds: [id] })));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      missing.push(id);
    }
  }
  return { found, missing };
}

/**
 * Every instance that may be the cluster's, whatever shape the cluster is in: the configured ids that exist,
 * every instance tagged with the cluster's name (any role), and the instances `started` names (those
 * start_cluster started in this run). The ones that can never run again are listed apart as lost.
 */
export async function findStopCandidates(
  deps: { ec2: EC2Client; config: { cluster: ClusterConfig } },
  started: string[] = [],
): Promise<{ instances: ClusterInstance[]; lost: LostInstance[] }> {
  const cfg = deps.config.cluster;
  const configured = cfg.masterInstanceId ? [cfg.masterInstanceId, ...cfg.workerInstanceIds] : [];
  const ids = [...new Set([...configured, ...started])];
  const { found, missing } = await describeIds(deps.ec2, ids);
  const tagged = cfg.clusterName
    ? await describeAll(deps.ec2, { Filters: [{ Name: `tag:${CLUSTER_TAG}`, Values: [cfg.clusterName] }] })
    : [];
  const byId = new Map<string, Instance>();
  for (const i of [...found, ...tagged]) if (i.InstanceId) byId.set(i.InstanceId, i);
  const roleOf = (i: Instance): 'master' | 'worker' =>
    i.InstanceId === cfg.masterInstanceId || i.Tags?.some((t) => t.Key === ROLE_TAG && t.Value === 'master')
      ? 'master'
      : 'worker';
  const all = [...byId.values()].map((i) => toClusterInstance(i, roleOf(i)));
  const lost: LostInstance[] = [
    ...missing.map((id) => ({ id, state: 'not found' as const })),
    ...all
      .filter((i) => GONE.has(i.state))
      .map((i) => ({ id: i.id, state: i.state as 'terminated' | 'shutting-down' })),
  ];
  return { instances: all.filter((i) => !GONE.has(i.state)), lost };
}
