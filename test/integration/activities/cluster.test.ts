/** start_cluster / stop_cluster against moto's EC2 (through the AWS SDK) and the stack's real sshd. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../../../src/config';
import { createClusterActivities, ensureClusterRunning } from '../../../src/activities/cluster';
import { createSshExecutor } from '../../../src/activities/remote';
import {
  ActivityHarness,
  FAST_TIMING,
  createTestCluster,
  ec2ClientFor,
  stackEnv,
  stepInput,
  type Env,
  type TestCluster,
} from './cluster-support';

const env = stackEnv();
let ec2: EC2Client;
const clusters: TestCluster[] = [];
let scratch: string;

before(() => {
  ec2 = ec2ClientFor(env);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-test-'));
});
after(async () => {
  for (const c of clusters) await c.terminate();
  ec2.destroy();
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function newCluster(workers = 2) {
  const c = await createTestCluster(ec2, workers);
  clusters.push(c);
  return c;
}

function activities(overrides: Env) {
  const config = loadConfig(['cluster', 'ssh', 'aws'], { ...env, ...overrides });
  const deps = { ec2, ssh: createSshExecutor(config.ssh), config, timing: FAST_TIMING };
  return { deps, ...createClusterActivities(deps) };
}

async function states(ids: string[]): Promise<Record<string, string>> {
  const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  const out: Record<string, string> = {};
  for (const i of r.Reservations!.flatMap((x) => x.Instances!)) out[i.InstanceId!] = i.State!.Name!;
  return out;
}

const input = stepInput('2026-02-12');

test('start_cluster starts the stopped instances by ID, reports private IPs and probes SSH', async () => {
  const c = await newCluster();
  const { start_cluster } = activities(c.byIds);
  const h = new ActivityHarness();
  const r = await h.run(start_cluster, input);
  const all = [c.masterId, ...c.workerIds];
  assert.deepEqual(Object.values(await states(all)), ['running', 'running', 'running']);
  assert.equal(r.masterInstanceId, c.masterId);
  assert.deepEqual(r.workerInstanceIds, c.workerIds);
  assert.deepEqual([...r.started].sort(), [...all].sort());
  assert.match(r.masterPrivateIp, /^\d+\.\d+\.\d+\.\d+$/);
  assert.equal(r.workerPrivateIps.length, 2);
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [c.masterId] }));
  assert.equal(r.masterPrivateIp, described.Reservations![0]!.Instances![0]!.PrivateIpAddress);
  assert.ok(h.heartbeats.length > 0, 'it heartbeats while waiting');
});

test('start_cluster is idempotent: running instances are not started again', async () => {
  const c = await newCluster();
  const { start_cluster } = activities(c.byIds);
  await new ActivityHarness().run(start_cluster, input);
  const again = await new ActivityHarness().run(start_cluster, input);
  assert.deepEqual(again.started, []);
});

test('start_cluster finds instances by tag and starts only the stopped ones', async () => {
  const c = await newCluster(3);
  await ec2.send(new StartInstancesCommand({ InstanceIds: [c.workerIds[0]!] }));
  const { start_cluster } = activities(c.byTags);
  const r = await new ActivityHarness().run(start_cluster, input);
  assert.equal(r.masterInstanceId, c.masterId);
  assert.deepEqual([...r.workerInstanceIds].sort(), [...c.workerIds].sort());
  assert.deepEqual([...r.started].sort(), [c.masterId, c.workerIds[1]!, c.workerIds[2]!].sort());
});

test('a terminated worker fails start_cluster non-retryably, naming it', async () => {
  const c = await newCluster();
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [c.workerIds[1]!] }));
  const { start_cluster } = activities(c.byIds);
  await assert.rejects(new ActivityHarness().run(start_cluster, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, new RegExp(`${c.workerIds[1]} \\(worker, terminated\\)`));
    return true;
  });
  assert.equal((await states([c.masterId]))[c.masterId], 'stopped', 'nothing was started');
});

test('an instance ID that does not exist is named', async () => {
  const c = await newCluster();
  const { start_cluster } = activities({
    ...c.byIds,
    WORKER_INSTANCE_IDS: `${c.workerIds[0]},i-0000000000000dead`,
  });
  await assert.rejects(new ActivityHarness().run(start_cluster, input), /i-0000000000000dead do not exist/);
});

test('a tag lookup with fewer workers than EXPECTED_WORKER_COUNT fails naming what it found', async () => {
  const c = await newCluster(2);
  const { start_cluster } = activities({ ...c.byTags, EXPECTED_WORKER_COUNT: '4' });
  await assert.rejects(new ActivityHarness().run(start_cluster, input), /expected 4 worker.*found 2/);
});

test('an unknown master host key fails start_cluster non-retryably (the check is never skipped)', async () => {
  const c = await newCluster(1);
  const knownHosts = path.join(scratch, 'empty_known_hosts');
  fs.writeFileSync(knownHosts, '');
  const { start_cluster } = activities({ ...c.byIds, SSH_KNOWN_HOSTS_PATH: knownHosts });
  await assert.rejects(new ActivityHarness().run(start_cluster, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'HostKeyVerificationFailed');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /is not in/);
    return true;
  });
});

test('SSH that never answers fails start_cluster after the readiness deadline, retryably', async () => {
  const c = await newCluster(1);
  const config = loadConfig(['cluster', 'ssh', 'aws'], { ...env, ...c.byIds, SSH_PORT: '1' });
  const deps = {
    ec2,
    ssh: createSshExecutor(config.ssh),
    config,
    timing: { ...FAST_TIMING, sshReadyTimeoutMs: 2_500 },
  };
  const started = Date.now();
  await assert.rejects(
    new ActivityHarness().run(createClusterActivities(deps).start_cluster, input),
    (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'SshNotReady');
      assert.equal(err.nonRetryable, false);
      return true;
    },
  );
  assert.ok(Date.now() - started < 15_000);
});

test('stop_cluster stops every instance and is idempotent', async () => {
  const c = await newCluster();
  const { start_cluster, stop_cluster } = activities(c.byIds);
  await new ActivityHarness().run(start_cluster, input);
  const all = [c.masterId, ...c.workerIds];
  const first = await new ActivityHarness().run(stop_cluster, input);
  assert.deepEqual([...first.stopped].sort(), [...all].sort());
  assert.deepEqual(Object.values(await states(all)), ['stopped', 'stopped', 'stopped']);
  const second = await new ActivityHarness().run(stop_cluster, input);
  assert.deepEqual(second.stopped, []);
  assert.deepEqual([...second.alreadyStopped].sort(), [...all].sort());
});

test('stop_cluster skips a terminated instance and stops the rest', async () => {
  const c = await newCluster();
  await ec2.send(new StartInstancesCommand({ InstanceIds: [c.masterId, c.workerIds[0]!] }));
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [c.workerIds[1]!] }));
  const { stop_cluster } = activities(c.byIds);
  const r = await new ActivityHarness().run(stop_cluster, input);
  assert.deepEqual([...r.stopped].sort(), [c.masterId, c.workerIds[0]!].sort());
});

test('stop_cluster names a terminated instance as lost and stops the rest', async () => {
  const c = await newCluster();
  await ec2.send(new StartInstancesCommand({ InstanceIds: [c.masterId, ...c.workerIds] }));
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [c.workerIds[1]!] }));
  const { stop_cluster } = activities(c.byIds);
  const r = await new ActivityHarness().run(stop_cluster, input);
  console.log(`stopped ${r.stopped.join(', ')}; lost ${JSON.stringify(r.lost)}`);
  assert.deepEqual([...r.stopped].sort(), [c.masterId, c.workerIds[0]!].sort());
  assert.deepEqual(r.lost, [{ id: c.workerIds[1]!, state: 'terminated' }]);
});

test('a configured instance id that vanished: stop_cluster stops the others and names it', async () => {
  const c = await newCluster();
  await ec2.send(new StartInstancesCommand({ InstanceIds: [c.masterId, ...c.workerIds] }));
  const vanished = 'i-0123456789abcdef0';
  const { stop_cluster } = activities({
    ...c.byIds,
    WORKER_INSTANCE_IDS: [...c.workerIds, vanished].join(','),
  });
  const r = await new ActivityHarness().run(stop_cluster, input);
  console.log(`stopped ${r.stopped.join(', ')}; lost ${JSON.stringify(r.lost)}`);
  assert.deepEqual([...r.stopped].sort(), [c.masterId, ...c.workerIds].sort());
  assert.deepEqual(r.lost, [{ id: vanished, state: 'not found' }]);
  assert.deepEqual(Object.values(await states([c.masterId, ...c.workerIds])), [
    'stopped',
    'stopped',
    'stopped',
  ]);
});

test('by tags with a worker terminated (EXPECTED_WORKER_COUNT no longer met): stop_cluster stops master and the other worker', async () => {
  const c = await newCluster();
  await ec2.send(new StartInstancesCommand({ InstanceIds: [c.masterId, ...c.workerIds] }));
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [c.workerIds[0]!] }));
  const { stop_cluster, start_cluster } = activities({ ...c.byTags, EXPECTED_WORKER_COUNT: '2' });
  // Starting needs the cluster's shape; stopping does not.
  await assert.rejects(new ActivityHarness().run(start_cluster, input), /expected 2 worker/);
  const r = await new ActivityHarness().run(stop_cluster, input);
  assert.deepEqual([...r.stopped].sort(), [c.masterId, c.workerIds[1]!].sort());
  assert.deepEqual(r.lost, [{ id: c.workerIds[0]!, state: 'terminated' }]);
});

test('stop_cluster stops the instances this run started even when they no longer carry the cluster tag', async () => {
  const c = await newCluster(1);
  await ec2.send(new StartInstancesCommand({ InstanceIds: [c.masterId, ...c.workerIds] }));
  const other = await newCluster(1); // tags of another cluster name: not found by c's tags
  await ec2.send(new StartInstancesCommand({ InstanceIds: [other.workerIds[0]!] }));
  const { stop_cluster } = activities(c.byTags);
  const r = await new ActivityHarness().run(stop_cluster, {
    ...input,
    instanceIds: [c.masterId, c.workerIds[0]!, other.workerIds[0]!],
  });
  assert.deepEqual([...r.stopped].sort(), [c.masterId, c.workerIds[0]!, other.workerIds[0]!].sort());
});

test('ensureClusterRunning is cheap when the cluster already runs and restarts it after a reset', async () => {
  const c = await newCluster(1);
  const { deps } = activities(c.byIds);
  await ec2.send(new StartInstancesCommand({ InstanceIds: [c.masterId, ...c.workerIds] }));
  const t0 = Date.now();
  const running = await new ActivityHarness().run(() => ensureClusterRunning(deps));
  assert.deepEqual(running.started, []);
  assert.ok(Date.now() - t0 < 2_000, 'one DescribeInstances, no waiting');
  await ec2.send(new StopInstancesCommand({ InstanceIds: [c.masterId] }));
  const restarted = await new ActivityHarness().run(() => ensureClusterRunning(deps));
  assert.deepEqual(restarted.started, [c.masterId]);
});
