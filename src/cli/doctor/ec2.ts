/**
 * Check 3: every cluster instance exists, and the credentials may start and stop them. Permissions are asked
 * with DryRun requests: EC2 answers DryRunOperation when the call would have succeeded and
 * UnauthorizedOperation when it is not allowed; nothing is started or stopped. The local stack's moto answers
 * DryRun requests the same way (DryRunOperation, without checking permissions).
 */
import { StartInstancesCommand, StopInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import type { ClusterInstance } from '../../activities/cluster';
import { ok, problem, skipped, type Check, type CheckResult } from './check';
import { CREDENTIALS_FIX, credentialProblem, shortAwsMessage } from './aws-errors';

const INSTANCES = 'cluster instances';
const PERMISSIONS = 'cluster start/stop permission';
const GONE = new Set(['terminated', 'shutting-down']);

export type DryRunVerdict =
  | { status: 'permitted' }
  | { status: 'denied'; reason: string }
  /** The endpoint carried the request out: it does not honour DryRun. */
  | { status: 'performed' };

/** What the answer to a DryRun request means; `answer` is the error it threw (undefined: it succeeded). */
export function dryRunVerdict(answer: unknown): DryRunVerdict {
  if (answer === undefined) return { status: 'performed' };
  const name = (answer as { name?: string }).name;
  if (name === 'DryRunOperation') return { status: 'permitted' };
  if (credentialProblem(answer)) return { status: 'denied', reason: shortAwsMessage(answer) };
  throw answer;
}

async function dryRun(send: () => Promise<unknown>): Promise<DryRunVerdict> {
  return dryRunVerdict(
    await send().then(
      () => undefined,
      (err: unknown) => err ?? new Error('unknown error'),
    ),
  );
}

const describeInstance = (i: ClusterInstance) => `${i.id} (${i.role}, ${i.state})`;

export const clusterCheck: Check = {
  name: INSTANCES,
  needs: ['aws', 'cluster'],
  unreachableFix: 'check AWS_REGION and AWS_ENDPOINT_URL, and that EC2 can be reached from here',
  async run(ctx, signal) {
    let instances: ClusterInstance[];
    try {
      instances = await ctx.cluster();
    } catch (err) {
      const notDescribed = skipped(PERMISSIONS, 'the instances could not be described');
      if (err instanceof ApplicationFailure && err.type === 'ClusterInstanceNotFound') {
        return [
          problem(
            INSTANCES,
            err.message,
            'correct MASTER_INSTANCE_ID / WORKER1..4_INSTANCE_ID / WORKER_INSTANCE_IDS, or the instances’ ' +
              'pothole:cluster and pothole:role tags when CLUSTER_NAME is used',
          ),
          notDescribed,
        ];
      }
      if (credentialProblem(err)) {
        return [
          problem(INSTANCES, `DescribeInstances refused: ${shortAwsMessage(err)}`, CREDENTIALS_FIX),
          notDescribed,
        ];
      }
      throw err;
    }
    const gone = instances.filter((i) => GONE.has(i.state));
    const usable = instances.filter((i) => !GONE.has(i.state));
    const found =
      gone.length > 0
        ? problem(
            INSTANCES,
            `${gone.map(describeInstance).join(', ')} can never start again`,
            'replace the terminated instances and update the instance IDs (or tags)',
          )
        : ok(INSTANCES, instances.map(describeInstance).join(', '));
    if (usable.length === 0) return [found, skipped(PERMISSIONS, 'no instance that could start')];
    return [found, await checkPermissions(ctx.ec2(), usable, signal)];
  },
};

async function checkPermissions(
  ec2: EC2Client,
  instances: ClusterInstance[],
  signal: AbortSignal,
): Promise<CheckResult> {
  const ids = instances.map((i) => i.id);
  const fix =
    'allow ec2:StartInstances and ec2:StopInstances on the cluster instances for these credentials ' +
    '(README: Pointing it at real AWS)';
  const start = await dryRun(() =>
    ec2.send(new StartInstancesCommand({ InstanceIds: ids, DryRun: true }), { abortSignal: signal }),
  );
  if (start.status === 'performed') {
    // An endpoint that ignores DryRun has just started the instances for real: stop those that were stopped.
    const wereStopped = instances.filter((i) => i.state === 'stopped').map((i) => i.id);
    if (wereStopped.length > 0) {
      await ec2.send(new StopInstancesCommand({ InstanceIds: wereStopped }), { abortSignal: signal });
    }
    return problem(
      PERMISSIONS,
      `the EC2 endpoint ignored DryRun and started the instances` +
        (wereStopped.length ? `; ${wereStopped.join(', ')} were stopped again` : ''),
      'permissions cannot be checked against this endpoint: check the IAM policy by hand',
    );
  }
  if (start.status === 'denied') {
    return problem(PERMISSIONS, `these credentials may not start the instances: ${start.reason}`, fix);
  }
  const stop = await dryRun(() =>
    ec2.send(new StopInstancesCommand({ InstanceIds: ids, DryRun: true }), { abortSignal: signal }),
  );
  if (stop.status === 'performed') {
    const wereRunning = instances.filter((i) => i.state === 'running').map((i) => i.id);
    return problem(
      PERMISSIONS,
      `the EC2 endpoint ignored DryRun and stopped the instances` +
        (wereRunning.length ? ` (${wereRunning.join(', ')} were running)` : ''),
      'permissions cannot be checked against this endpoint: check the IAM policy by hand, and start the ' +
        'instances again if a run was using them',
    );
  }
  if (stop.status === 'denied') {
    return problem(PERMISSIONS, `these credentials may not stop the instances: ${stop.reason}`, fix);
  }
  return ok(PERMISSIONS, `StartInstances and StopInstances permitted for ${ids.length} instance(s) (DryRun)`);
}
