/**
 * start_cluster's heart: every cluster instance running and the master accepting SSH. Instead of the original
 * fixed 30-second sleep it waits with the SDK waiter and then probes the master actively: an SSH handshake (with
 * host-key verification) must succeed.
 */
import {
  StartInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
} from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { ClusterConfig } from '../../config';
import type { ClusterInfo, StartClusterResult } from '../../shared/types';
import { cancellationSignal, errorMessage, sleep, withHeartbeat } from '../activity-support';
import { HostKeyVerificationError, type RemoteShell } from '../remote';
import {
  DEFAULT_CLUSTER_TIMING,
  describeCluster,
  GONE,
  sshAddress,
  type ClusterDeps,
  type ClusterInstance,
} from './instances';

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
async function waitForSsh(
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
