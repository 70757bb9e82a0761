/**
 * Workflows for tests of the cluster lock: the lock itself, and a run that holds the cluster for a while
 * through the same acquire/release the pipeline uses.
 */
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { Activities } from '../../src/activities';
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
