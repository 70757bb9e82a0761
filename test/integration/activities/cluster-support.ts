/**
 * Shared setup of the cluster-side integration tests: the local stack's settings and clients, EC2
 * instances created in moto for one test (tagged, stopped, terminated afterwards), and running an
 * activity in a real activity context (MockActivityEnvironment) while recording its heartbeats.
 */
import crypto from 'node:crypto';
import {
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceStopped,
} from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import type { Info } from '@temporalio/activity';
import { ActivityCancellationDetails } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogLevel } from '@temporalio/worker';
import { loadConfig } from '../../../src/config';
import { CLUSTER_TAG, ROLE_TAG } from '../../../src/activities/cluster';
import type { StepInput } from '../../../src/shared/types';
import { createEc2Client, createS3Client } from '../../../src/activities/aws-clients';

export type Env = Record<string, string | undefined>;

export { stackEnv } from '../../support/stack';

export const unique = (label: string) =>
  `${label}-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;

export function ec2ClientFor(env: Env): EC2Client {
  return createEc2Client(loadConfig(['aws'], env).aws);
}

export function s3ClientFor(env: Env): S3Client {
  return createS3Client(loadConfig(['aws'], env).aws);
}

export interface TestCluster {
  name: string;
  masterId: string;
  workerIds: string[];
  /** Env overrides selecting this cluster by instance IDs. */
  byIds: Env;
  /** Env overrides selecting this cluster by tags. */
  byTags: Env;
  terminate(): Promise<void>;
}

/** A master and `workers` workers in moto, tagged like a real cluster, left stopped (as between nightly runs). */
export async function createTestCluster(ec2: EC2Client, workers = 2): Promise<TestCluster> {
  const name = unique('test-cluster');
  const run = async (role: 'master' | 'worker', count: number) => {
    const r = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0c9c942bd7bf113a2',
        InstanceType: 'm5.xlarge',
        MinCount: count,
        MaxCount: count,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: CLUSTER_TAG, Value: name },
              { Key: ROLE_TAG, Value: role },
              { Key: 'Name', Value: `${name}-${role}` },
            ],
          },
        ],
      }),
    );
    return r.Instances!.map((i) => i.InstanceId!);
  };
  const [masterId] = await run('master', 1);
  const workerIds = await run('worker', workers);
  const all = [masterId!, ...workerIds];
  await ec2.send(new StopInstancesCommand({ InstanceIds: all }));
  await waitUntilInstanceStopped(
    { client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { InstanceIds: all },
  );
  return {
    name,
    masterId: masterId!,
    workerIds,
    byIds: {
      MASTER_INSTANCE_ID: masterId,
      WORKER_INSTANCE_IDS: workerIds.join(','),
      CLUSTER_NAME: undefined,
    },
    byTags: { CLUSTER_NAME: name, MASTER_INSTANCE_ID: undefined },
    async terminate() {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: all })).catch(() => undefined);
    },
  };
}

export const stepInput = (batchDate: string, workflowId = unique('wf')): StepInput => ({
  batchDate,
  workflowId,
  runId: crypto.randomUUID(),
});

/** A real activity context: heartbeats are recorded, cancel() delivers a cancellation like the worker does. */
export class ActivityHarness {
  readonly env: MockActivityEnvironment;
  readonly heartbeats: unknown[] = [];
  constructor(info: Partial<Info> = {}) {
    // Activity logs (driver output…) are noise in test output; TEST_LOG_LEVEL=INFO shows them.
    const level = (process.env.TEST_LOG_LEVEL ?? 'ERROR') as LogLevel;
    this.env = new MockActivityEnvironment(
      { heartbeatTimeoutMs: 30_000, ...info },
      { logger: new DefaultLogger(level) },
    );
    this.env.on('heartbeat', (d: unknown) => this.heartbeats.push(d));
  }
  run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
    return this.env.run(fn, ...args);
  }
  /** The workflow asked for cancellation. */
  cancel(): void {
    this.env.cancel('CANCELLED', new ActivityCancellationDetails({ cancelRequested: true }));
  }
  /** The worker is going away (its process is stopping): the activity must leave remote work running. */
  shutdownWorker(): void {
    this.env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
  }
  async waitForHeartbeat(pred: (d: unknown) => boolean, timeoutMs = 60_000): Promise<unknown> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.heartbeats.find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > end)
        throw new Error(
          `no matching heartbeat in ${timeoutMs} ms: ${JSON.stringify(this.heartbeats.slice(-3))}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Quick timings for moto, whose instances change state at once. */
export const FAST_TIMING = {
  waiterMinDelaySeconds: 1,
  waiterMaxDelaySeconds: 2,
  waiterMaxWaitSeconds: 60,
  sshReadyTimeoutMs: 30_000,
  heartbeatIntervalMs: 1_000,
};
