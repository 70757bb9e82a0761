/**
 * start_cluster, stop_cluster: the EC2 instances of the Spark cluster (1 master + N workers).
 */
import { log } from '@temporalio/activity';
import type { StartClusterResult, StepInput } from '../../shared/types';
import type { ClusterDeps } from './instances';
import { ensureClusterRunning } from './start';
import { stopClusterInstances, type StopClusterInput, type StopClusterResult } from './stop';

export * from './instances';
export * from './start';
export * from './stop';

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
   * Stops every instance that may be the cluster's and waits until stopped. Idempotent: already stopped =
   * success; terminated or vanished instances are named in the result (`lost`) and the others stopped all the
   * same. Throttling, network and server errors are retryable; missing permissions are not (ClusterStopForbidden).
   */
  async function stop_cluster(input: StopClusterInput): Promise<StopClusterResult> {
    return stopClusterInstances(deps, {
      label: `stop_cluster for ${input.batchDate}`,
      started: input.instanceIds,
    });
  }

  return { start_cluster, stop_cluster };
}
