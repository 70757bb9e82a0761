/**
 * The pipeline against the real local services, through a real worker process and the `pothole` CLI:
 * EC2 calls to the emulator (recorded by a pass-through proxy), SSH, the reference Spark jobs on the standalone
 * cluster, S3 checks, PostgreSQL. What an on-call engineer relies on at 02:00:
 * nothing starts without input, a cancelled run leaves nothing running, a killed worker does not run a stage twice,
 * `run --force` waits for the cleanup, and a backfill uses one cluster session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { workflowIdFor } from '../../src/steps';
import type { PipelineProgress } from '../../src/types';
import {
  describeProcesses,
  PipelineWorld,
  processesMatching as sparkProcesses,
  sparkApplications,
  waitUntil,
} from '../support/e2e';

const world = new PipelineWorld('pipeline');
const dates = {
  missingInput: '2026-04-01',
  cancelStart: '2026-04-02',
  cancelStage1: '2026-04-03',
  killedWorker: '2026-04-04',
  force: '2026-04-05',
  backfill: ['2026-04-06', '2026-04-07'],
};
const { recorder } = world;
const pothole = (...args: string[]) => world.pothole(...args);
const states = () => world.states();
const stepStatus = (...args: Parameters<PipelineWorld['stepStatus']>) => world.stepStatus(...args);

before(async () => {
  await world.setUp({
    dates: [dates.cancelStart, dates.cancelStage1, dates.killedWorker, dates.force, ...dates.backfill],
  });
});

after(async () => {
  await world.tearDown();
});

describe('the pipeline on the local services', () => {
  it('missing input fails with the s3:// path, and no StartInstances call reaches EC2', async () => {
    const since = Date.now();
    const r = await pothole('run', dates.missingInput, '--wait');
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /s3:\/\/pothole-local\/raw-sensor-data\/dt=2026-04-01\//);
    assert.ok(!recorder.actions(since).includes('StartInstances'), recorder.actions(since).join(','));
    assert.deepEqual(await states(), ['stopped', 'stopped', 'stopped']);
  });

  it('cancelled during start_cluster: the instances end stopped and the run ends cancelled', async () => {
    recorder.holdResponses.set('StartInstances', 8_000);
    try {
      const since = Date.now();
      assert.equal((await pothole('run', dates.cancelStart)).status, 0);
      await waitUntil('StartInstances', () => recorder.actions(since).includes('StartInstances'));
      const r = await pothole('cancel', dates.cancelStart);
      assert.equal(r.status, 0, r.stderr);
      const desc = await world.client.workflow.getHandle(workflowIdFor(dates.cancelStart)).describe();
      assert.equal(desc.status.name, 'CANCELLED');
      assert.ok(recorder.actions(since).includes('StopInstances'));
      assert.deepEqual(await states(), ['stopped', 'stopped', 'stopped']);
    } finally {
      recorder.holdResponses.clear();
    }
  });

  it('cancelled during run_stage1: the driver is killed, Spark and the cluster are stopped', async () => {
    const app = `pothole-stage1-${dates.cancelStage1}`;
    assert.equal((await pothole('run', dates.cancelStage1)).status, 0);
    const handle = world.client.workflow.getHandle(workflowIdFor(dates.cancelStage1));
    await waitUntil('run_stage1 running', async () => (await stepStatus(handle, 'run_stage1')) === 'running');
    await waitUntil('the stage1 driver', () => sparkProcesses(app).length > 0);
    const r = await pothole('cancel', dates.cancelStage1);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    const progress = await handle.query<PipelineProgress>('progress');
    assert.equal(progress.steps.find((s) => s.step === 'stop_cluster')!.status, 'done');
    assert.deepEqual(sparkProcesses(app), [], 'no driver left');
    const daemons = sparkProcesses('org.apache.spark.deploy.(master|worker|history)');
    assert.deepEqual(daemons, [], `no Spark daemon left: ${describeProcesses(daemons)}`);
    assert.deepEqual(await states(), ['stopped', 'stopped', 'stopped']);
  });

  it('a worker killed during run_stage1 and started again: the run completes with exactly one stage1 driver', async () => {
    const since = Date.now();
    assert.equal((await pothole('run', dates.killedWorker)).status, 0);
    const handle = world.client.workflow.getHandle(workflowIdFor(dates.killedWorker));
    await waitUntil('run_stage1 running', async () => (await stepStatus(handle, 'run_stage1')) === 'running');
    await waitUntil(
      'the stage1 driver',
      () => sparkProcesses(`pothole-stage1-${dates.killedWorker}`).length > 0,
    );
    await world.stopWorker('SIGKILL');
    await world.startWorker();
    await handle.result();
    assert.equal(sparkApplications(`pothole-stage1-${dates.killedWorker}`, since), 1);
    assert.equal(sparkApplications(`pothole-stage2-${dates.killedWorker}`, since), 1);
    assert.deepEqual(await states(), ['stopped', 'stopped', 'stopped']);
  });

  it('run --force on a date in progress cancels it, waits for its cleanup, and starts again', async () => {
    const since = Date.now();
    assert.equal((await pothole('run', dates.force)).status, 0);
    const first = world.client.workflow.getHandle(workflowIdFor(dates.force));
    const firstRunId = (await first.describe()).runId;
    await waitUntil('run_stage1 running', async () => (await stepStatus(first, 'run_stage1')) === 'running');

    const again = await pothole('run', dates.force);
    assert.notEqual(again.status, 0, 'without --force a run in progress is not replaced');
    assert.match(again.stderr, /already in progress/);

    const forced = await pothole('run', dates.force, '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stdout, /cleanup has finished/);
    const old = await world.client.workflow.getHandle(workflowIdFor(dates.force), firstRunId).describe();
    assert.equal(old.status.name, 'CANCELLED');
    const fresh = await world.client.workflow.getHandle(workflowIdFor(dates.force)).describe();
    assert.notEqual(fresh.runId, firstRunId);
    assert.ok(fresh.startTime >= old.closeTime!);
    // Between the two runs the cluster was stopped.
    const ec2Calls = recorder.actions(since).filter((a) => a === 'StartInstances' || a === 'StopInstances');
    assert.deepEqual(ec2Calls.slice(0, 2), ['StartInstances', 'StopInstances']);
    assert.equal((await pothole('cancel', dates.force)).status, 0);
    assert.deepEqual(await states(), ['stopped', 'stopped', 'stopped']);
  });

  it('a backfill of two dates starts and stops the cluster once and loads both', async () => {
    const since = Date.now();
    const r = await pothole('backfill', dates.backfill[0]!, dates.backfill[1]!, '--wait', '--json');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      outcomes: { batchDate: string; status: string }[];
    };
    assert.deepEqual(
      summary.outcomes.map((o) => [o.batchDate, o.status]),
      dates.backfill.map((d) => [d, 'done']),
    );
    const calls = recorder.actions(since);
    assert.equal(calls.filter((a) => a === 'StartInstances').length, 1, calls.join(','));
    assert.equal(calls.filter((a) => a === 'StopInstances').length, 1, calls.join(','));
    const db = world.pool();
    try {
      const { rows } = await db.query<{ date: string; n: string }>(
        `SELECT to_char(date, 'YYYY-MM-DD') AS date, count(*) AS n FROM pothole_segments GROUP BY 1 ORDER BY 1`,
      );
      for (const d of dates.backfill)
        assert.ok(Number(rows.find((x) => x.date === d)?.n) > 0, `rows for ${d}`);
    } finally {
      await db.end();
    }
    assert.deepEqual(await states(), ['stopped', 'stopped', 'stopped']);
  });
});
