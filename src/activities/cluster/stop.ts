/**
 * stop_cluster's heart, shared with the watchdog: stop every instance that may be the cluster's and wait until
 * they are stopped. Stopping never depends on the cluster having the right shape: a terminated worker or a
 * configured id that no longer exists is named in the result, and the others are stopped all the same.
 */
import {
  StopInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
} from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import { lostInstanceLabels } from '../../shared/cleanup-outcome';
import { cancellationSignal, errorMessage, withHeartbeat } from '../activity-support';
import type { StepInput } from '../../shared/types';
import {
  DEFAULT_CLUSTER_TIMING,
  findStopCandidates,
  type ClusterDeps,
  type ClusterInstance,
  type LostInstance,
} from './instances';

/** "i-1 (terminated), i-2 (not found)" */
const describeLost = (lost: LostInstance[]): string => lostInstanceLabels(lost).join(', ');

export interface StopClusterInput extends StepInput {
  /** The instances start_cluster reported in this run: stopped even if they no longer carry the cluster's tags. */
  instanceIds?: string[];
}

export interface StopClusterResult {
  /** Instances this call stopped. */
  stopped: string[];
  alreadyStopped: string[];
  /** Instances that may have been the cluster's and are gone (terminated, or their id no longer exists). */
  lost?: LostInstance[];
  seconds: number;
}

/** EC2 errors no retry can fix: the credentials or their permissions. */
const PERMANENT =
  /^(UnauthorizedOperation|AuthFailure|InvalidClientTokenId|SignatureDoesNotMatch|OptInRequired|Blocked|AccessDenied\w*)$/;

/** An EC2 error no retry can fix becomes a non-retryable failure that says so; others are rethrown as they are. */
export function classifyStopError(err: unknown, what: string): unknown {
  const name = (err as { name?: string }).name ?? '';
  if (!PERMANENT.test(name)) return err;
  return ApplicationFailure.nonRetryable(
    `${what}: ${name}: ${errorMessage(err)}. No retry can fix this: give the worker's credentials ` +
      'ec2:DescribeInstances and ec2:StopInstances on the cluster (the watchdog keeps trying and alerting)',
    'ClusterStopForbidden',
  );
}

/**
 * Stops the cluster's instances (those `only` picks, or all) and waits until they are stopped: the heart of
 * stop_cluster, shared with the watchdog. Pending instances are let reach running first; terminated ones skipped.
 */
export async function stopClusterInstances(
  deps: ClusterDeps,
  options: { label: string; only?: (i: ClusterInstance) => boolean; started?: string[] },
): Promise<StopClusterResult> {
  try {
    return await stopCandidates(deps, options);
  } catch (err) {
    throw classifyStopError(err, `${options.label} could not stop the cluster`);
  }
}

async function stopCandidates(
  deps: ClusterDeps,
  options: { label: string; only?: (i: ClusterInstance) => boolean; started?: string[] },
): Promise<StopClusterResult> {
  const timing = { ...DEFAULT_CLUSTER_TIMING, ...deps.timing };
  const chosen = options.only ?? (() => true);
  const started = Date.now();
  const signal = cancellationSignal();
  const { ec2 } = deps;
  const candidates = () => findStopCandidates(deps, options.started);
  const first = await candidates();
  let instances = first.instances.filter(chosen);
  const lost = first.lost;
  const waiter = {
    client: ec2,
    minDelay: timing.waiterMinDelaySeconds,
    maxDelay: timing.waiterMaxDelaySeconds,
    maxWaitTime: timing.waiterMaxWaitSeconds,
    abortSignal: signal,
  };
  let phase = 'checking instances';
  const details = () => ({ phase, instances: instances.map((i) => `${i.id}:${i.state}`) });
  if (lost.length) log.warn(`${options.label}: lost instance(s), nothing to stop: ${describeLost(lost)}`);
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
        instances = (await candidates()).instances.filter(chosen);
      }
      toStop.push(...instances.filter((i) => i.state === 'running').map((i) => i.id));
      if (toStop.length) {
        phase = `stopping ${toStop.join(', ')}`;
        log.info(`${options.label}: ${phase}`);
        await ec2.send(new StopInstancesCommand({ InstanceIds: toStop }), { abortSignal: signal });
      }
      const waitFor = instances.filter((i) => i.state !== 'stopped').map((i) => i.id);
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
    ...(lost.length ? { lost } : {}),
    seconds: (Date.now() - started) / 1000,
  };
  log.info(
    toStop.length
      ? `cluster stopped (${toStop.join(', ')}) in ${result.seconds.toFixed(1)} s`
      : 'cluster was already stopped',
  );
  return result;
}
