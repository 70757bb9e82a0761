/**
 * Every Spark worker goes away while run_stage1's driver runs. Without them the driver would wait for executors
 * until the stage timeout (hours of instances for nothing); instead the step fails once the workers have been
 * missing for SPARK_WORKER_LOSS_TIMEOUT_SECONDS, naming them, the driver is killed, and the run's cleanup stops
 * Spark and every instance.
 *
 * Real worker process, CLI, Temporal, EC2 emulator, SSH and the standalone Spark cluster; the worker daemons are
 * stopped the way Spark's own scripts stop them (spark-daemon.sh, pid files in SPARK_PID_DIR from spark-env.sh).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { PipelineProgress } from '../../src/shared/types';
import { workflowIdFor } from '../../src/shared/steps';
import {
  PipelineWorld,
  describeProcesses,
  processAlive,
  processesMatching as sparkProcesses,
  waitForDriver,
  waitUntil,
} from '../support/e2e';

const LOSS_TIMEOUT_S = 10;
const date = '2026-06-18';
const world = new PipelineWorld('worker-loss');
const sparkHome = world.base.SPARK_HOME!;
const WORKER_CLASS = 'org.apache.spark.deploy.worker.Worker';
const workerDaemons = () => sparkProcesses(`deploy\\.worker\\.Worker`);
const sparkDaemons = () => sparkProcesses('org.apache.spark.deploy.(master|worker|history)');

/** spark-daemon.sh stop for each worker instance on this host (one per expected worker). */
function stopWorkerDaemons(count: number): void {
  for (let instance = 1; instance <= count; instance++) {
    const r = spawnSync(
      path.join(sparkHome, 'sbin', 'spark-daemon.sh'),
      ['stop', WORKER_CLASS, String(instance)],
      {
        env: { ...process.env, SPARK_HOME: sparkHome },
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`spark-daemon.sh stop ${instance} failed: ${r.stdout}${r.stderr}`);
  }
}

/** Every message down a failure's cause chain. */
function messages(err: unknown): string {
  const out: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) out.push(`${e.name}: ${e.message}`);
  return out.join('\n');
}

before(() =>
  world.setUp({ dates: [date], env: { SPARK_WORKER_LOSS_TIMEOUT_SECONDS: String(LOSS_TIMEOUT_S) } }),
);

after(async () => {
  // Leave no Spark behind for the next test file, whatever happened above.
  if (sparkDaemons().length) {
    spawnSync(path.join(sparkHome, 'sbin', 'stop-all.sh'), {
      env: { ...process.env, SPARK_HOME: sparkHome },
    });
    spawnSync(path.join(sparkHome, 'sbin', 'stop-history-server.sh'), {
      env: { ...process.env, SPARK_HOME: sparkHome },
    });
  }
  await world.tearDown();
});

describe('all Spark workers lost during run_stage1', () => {
  it('fails the step naming the lost workers, kills the driver, and the cleanup stops every instance', async () => {
    assert.equal((await world.pothole('run', date)).status, 0);
    const handle = world.client.workflow.getHandle(workflowIdFor(date));
    const { runId } = await handle.describe();
    await waitUntil(
      'run_stage1 running',
      async () => (await world.stepStatus(handle, 'run_stage1')) === 'running',
    );
    const driver = await waitForDriver(world.base, date, 'stage1', `${workflowIdFor(date)} ${runId}`);

    const lostAt = Date.now();
    stopWorkerDaemons(world.cluster.workerInstanceIds.length);
    // spark-daemon.sh only sends SIGTERM: the JVMs exit a moment later.
    await waitUntil('the worker daemons exited', () => workerDaemons().length === 0, 30_000).catch(() => {
      assert.fail(`worker daemons still running: ${describeProcesses(workerDaemons())}`);
    });

    const failedAt = await waitUntil(
      'run_stage1 failed',
      async () => ((await world.stepStatus(handle, 'run_stage1')) === 'failed' ? Date.now() : undefined),
      (LOSS_TIMEOUT_S + 120) * 1000,
    );
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    const closedAt = Date.now();
    const progress = await handle.query<PipelineProgress>('progress');
    const stage1 = progress.steps.find((s) => s.step === 'run_stage1')!;
    const toFailure = (failedAt - lostAt) / 1000;
    console.log(
      `workers stopped at +0 s; run_stage1 failed after ${toFailure.toFixed(1)} s ` +
        `(SPARK_WORKER_LOSS_TIMEOUT_SECONDS=${LOSS_TIMEOUT_S}); run closed after ${((closedAt - lostAt) / 1000).toFixed(1)} s; ` +
        `step detail: ${stage1.detail}`,
    );

    assert.ok(failure instanceof WorkflowFailedError, `the run failed: ${String(failure)}`);
    const text = messages(failure);
    assert.match(text, /only 0 of 2 Spark workers have been ALIVE/);
    for (const id of world.cluster.workerInstanceIds) assert.ok(text.includes(id), `names ${id}:\n${text}`);
    assert.match(text, /at 127\.0\.0\.1/, 'names the workers’ address');
    assert.match(stage1.detail ?? '', /Spark workers/);
    assert.ok(toFailure >= LOSS_TIMEOUT_S, `not before the timeout (${toFailure} s)`);
    assert.ok(toFailure <= LOSS_TIMEOUT_S + 30, `within the timeout + 30 s (${toFailure} s)`);
    assert.equal(processAlive(driver), false, `driver session ${driver} is gone`);
    assert.deepEqual(sparkProcesses(`pothole-stage1-${date}`), [], 'no driver process left');
    assert.equal(progress.steps.find((s) => s.step === 'stop_cluster')!.status, 'done');
    assert.deepEqual(await world.states(), ['stopped', 'stopped', 'stopped']);
  });
});
