/**
 * Workflows for tests of the cluster lock: the lock itself, and a run that holds the cluster for a while
 * through the same acquire/release the pipeline uses.
 */
import {
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { Activities } from '../../src/activities';
import { lockGrantedSignal, lockWorkflowIdFor, releaseLockSignal } from '../../src/shared/lock-protocol';
import { acquireClusterLock } from '../../src/workflows/cluster-lock';

export { clusterLock } from '../../src/workflows/cluster-lock';

const { request_cluster_lock } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

export interface Holding {
  grantedAt: number;
  releasedAt: number;
}

export async function holdClusterLock(holdFor: Duration): Promise<Holding> {
  const release = await acquireClusterLock(request_cluster_lock, () => undefined);
  const grantedAt = Date.now();
  await sleep(holdFor);
  const releasedAt = Date.now();
  await release();
  return { grantedAt, releasedAt };
}

/**
 * A run whose first grant is lost on the way (its handler drops it): it asks again as a waiter would, and
 * returns how many grants it saw once one gets through, then releases.
 */
export async function missFirstGrant(): Promise<number> {
  const { workflowId, runId, taskQueue } = workflowInfo();
  const lockWorkflowId = lockWorkflowIdFor(taskQueue);
  let grants = 0;
  setHandler(lockGrantedSignal, () => void grants++);
  await request_cluster_lock({ workflowId, runId, lockWorkflowId });
  await condition(() => grants > 0);
  const seen = grants;
  grants = 0; // the grant never reached the run
  while (!(await condition(() => grants > 0, '10 minutes'))) {
    await request_cluster_lock({ workflowId, runId, lockWorkflowId, again: true });
  }
  await getExternalWorkflowHandle(lockWorkflowId).signal(releaseLockSignal, { workflowId, runId });
  return seen + grants;
}
