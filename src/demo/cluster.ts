/**
 * The demo's "EC2 cluster": one master and N workers in the EC2 emulator, tagged the way start_cluster finds
 * them (pothole:cluster=<name>, pothole:role=master|worker) and left stopped, as a cluster is between runs.
 * On the local stack every node is the one SSH host (SSH_HOST), so only the instances' states matter.
 */
import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  waitUntilInstanceStopped,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { CLUSTER_TAG, ROLE_TAG } from '../activities/cluster';

export interface DemoCluster {
  name: string;
  masterInstanceId: string;
  workerInstanceIds: string[];
}

async function tagged(ec2: EC2Client, name: string): Promise<Instance[]> {
  const out = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${CLUSTER_TAG}`, Values: [name] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
  );
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

const roleOf = (i: Instance) => i.Tags?.find((t) => t.Key === ROLE_TAG)?.Value;

/** Creates what is missing (idempotent, new instances stopped) and returns the cluster's instance ids. */
export async function ensureDemoCluster(ec2: EC2Client, name: string, workers: number): Promise<DemoCluster> {
  const existing = await tagged(ec2, name);
  const masters = existing.filter((i) => roleOf(i) === 'master');
  const workerInstances = existing.filter((i) => roleOf(i) === 'worker');
  const launch = async (role: 'master' | 'worker', count: number) => {
    if (count <= 0) return [];
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b', // any image id: the emulator does not boot it
        InstanceType: role === 'master' ? 'm5.xlarge' : 'r5.2xlarge',
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
    return out.Instances ?? [];
  };
  const newMasters = await launch('master', 1 - masters.length);
  const newWorkers = await launch('worker', workers - workerInstances.length);
  masters.push(...newMasters);
  workerInstances.push(...newWorkers);
  const launched = [...newMasters, ...newWorkers];
  // New instances come up running; a cluster between runs is stopped. Instances that already existed are left
  // as they are: a run in progress may be using them.
  const fresh = launched.map((i) => i.InstanceId!);
  if (fresh.length) {
    await ec2.send(new StopInstancesCommand({ InstanceIds: fresh }));
    await waitUntilInstanceStopped({ client: ec2, maxWaitTime: 120 }, { InstanceIds: fresh });
  }
  const ids = [...masters.slice(0, 1), ...workerInstances.slice(0, workers)].map((i) => i.InstanceId!);
  return { name, masterInstanceId: ids[0]!, workerInstanceIds: ids.slice(1) };
}

/** Current state of each instance, e.g. { 'i-0abc': 'stopped' }. */
export async function instanceStates(ec2: EC2Client, ids: string[]): Promise<Record<string, string>> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  const states: Record<string, string> = {};
  for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
    states[i.InstanceId!] = i.State?.Name ?? 'unknown';
  }
  return states;
}
