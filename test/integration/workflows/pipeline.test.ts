/**
 * The pipeline workflow's logic on the real Temporal server: order, skipping, cleanup on failure and on
 * cancellation, invalid input. The outside systems are recording stand-ins here; the same paths run against the
 * real services in test/e2e.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { clusterCostUsd, costFromMemo } from '../../../src/cost/run-cost';
import { STEPS } from '../../../src/shared/steps';
import type { PipelineProgress } from '../../../src/shared/types';
import type { PipelineResult } from '../../../src/workflows/pipeline';
import { startFakeWorld, type FakeWorld } from '../../support/temporal';

let world: FakeWorld;
let seq = 0;

const CLUSTER = [
  'start_cluster',
  'start_spark',
  'download_code',
  'install_deps',
  'run_stage1',
  'check_s3_stage1_out',
  'run_stage2',
  'check_s3_stage2_out',
];

function start(input: unknown) {
  seq++;
  return world.client.workflow.start('potholePipeline', {
    taskQueue: world.taskQueue,
    workflowId: `${world.taskQueue}-${seq}`,
    args: input === undefined ? [] : [input],
  });
}

async function failureOf(p: Promise<unknown>) {
  const err = await p.then(
    () => assert.fail('expected the run to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  return err;
}

function reset(behaviour: Record<string, 'fail' | 'block'> = {}) {
  world.rec.calls = [];
  world.rec.behaviour = new Map(Object.entries(behaviour));
  world.rec.failTimes = new Map();
}

/** The worker's prices: 1 s of the master costs $0.001, of a worker $0.01. */
const prices = { masterHourlyUsd: 3.6, workerHourlyUsd: 36 };

/** The cost figure the run keeps in its memo. */
const memoCost = async (handle: WorkflowHandle) => costFromMemo((await handle.describe()).memo);

const slackKinds = () =>
  world.rec.calls.filter((c) => c.step === 'notify_slack' && c.phase === 'start').map((c) => c.kind);

before(async () => {
  // Quick cleanup retries: Slack hears of a failing stop_cluster after its second failure.
  world = await startFakeWorld('pipeline-logic', {
    cleanupAlertAfterFailures: 2,
    cleanupRetryMaxIntervalSeconds: 1,
    clusterPrices: prices,
  });
});

after(async () => {
  await world.close();
});

describe('potholePipeline', () => {
  it('runs the original steps in order, stops the cluster before the serving steps', async () => {
    reset();
    const handle = await start('2026-02-12');
    const result = (await handle.result()) as PipelineResult;
    assert.deepEqual(
      world.rec.steps('start').filter((s) => s !== 'notify_slack'),
      [
        'check_s3_input',
        'start_cluster',
        'start_spark',
        ...(world.rec.steps('start').indexOf('download_code') <
        world.rec.steps('start').indexOf('install_deps')
          ? ['download_code', 'install_deps']
          : ['install_deps', 'download_code']),
        'run_stage1',
        'check_s3_stage1_out',
        'run_stage2',
        'check_s3_stage2_out',
        'stop_spark',
        'stop_cluster',
        'load_to_rdb',
        'refresh_views',
        'send_email_report',
      ],
    );
    assert.equal(result.batchDate, '2026-02-12');
    assert.equal(result.rowsLoaded, 42);
    assert.equal(result.emailSent, true);
    assert.deepEqual(result.cleanup, {
      status: 'stopped',
      attempts: 1,
      instances: ['i-m', 'i-w1', 'i-w2'],
      stoppedInstances: ['i-m', 'i-w1', 'i-w2'],
    });
    assert.ok(result.clusterUpSeconds > 0);
    // The cost counts the master and start_cluster's two workers, and is the final figure everywhere.
    assert.equal(result.clusterCostUsd, clusterCostUsd(result.clusterUpSeconds, 2, prices));
    const cost = {
      batchDate: '2026-02-12',
      clusterUpSeconds: result.clusterUpSeconds,
      clusterCostUsd: result.clusterCostUsd,
      workers: 2,
    };
    assert.deepEqual(await memoCost(handle), cost);
    const input = (step: string) =>
      world.rec.calls.find((c) => c.step === step && c.phase === 'start')!.input;
    assert.deepEqual((input('send_email_report') as { cost?: unknown }).cost, cost);
    const slack = input('notify_slack') as { clusterUpSeconds?: number; clusterCostUsd?: number | null };
    assert.deepEqual(
      [slack.clusterUpSeconds, slack.clusterCostUsd],
      [cost.clusterUpSeconds, cost.clusterCostUsd],
    );
    for (const s of STEPS) assert.ok(result.stepSeconds[s] !== undefined, `duration of ${s}`);
    assert.deepEqual(world.rec.steps('start').filter((s) => s === 'notify_slack').length, 1);
  });

  it('runs download_code and install_deps at the same time', async () => {
    reset();
    world.rec.delayMs = 300;
    try {
      await (await start('2026-02-13')).result();
    } finally {
      world.rec.delayMs = 0;
    }
    const at = (step: string, phase: 'start' | 'end') =>
      world.rec.calls.find((c) => c.step === step && c.phase === phase)!.at;
    assert.ok(at('install_deps', 'start') < at('download_code', 'end'));
    assert.ok(at('download_code', 'start') < at('install_deps', 'end'));
  });

  it('reports every step in the progress query', async () => {
    reset({ run_stage1: 'block' });
    const handle = await start({ batchDate: '2026-02-14' });
    await world.rec.waitFor('run_stage1');
    const p = await handle.query<PipelineProgress>('progress');
    assert.equal(p.batchDate, '2026-02-14');
    assert.equal(p.clusterUp, true);
    assert.deepEqual(
      p.steps.map((s) => s.step),
      [...STEPS],
    );
    assert.equal(p.steps.find((s) => s.step === 'run_stage1')!.status, 'running');
    assert.equal(p.steps.find((s) => s.step === 'start_spark')!.status, 'done');
    assert.equal(p.steps.find((s) => s.step === 'start_spark')!.detail, '2 of 2 workers alive');
    assert.equal(p.steps.find((s) => s.step === 'load_to_rdb')!.status, 'pending');
    await handle.cancel();
    await failureOf(handle.result());
  });

  for (const bad of ['2026-02-30', '26-02-12', '2026-02-12; rm -rf /', '']) {
    it(`fails at once on the invalid date ${JSON.stringify(bad)}, starting nothing`, async () => {
      reset();
      const err = await failureOf((await start(bad)).result());
      assert.match(String(err.cause?.message), /batch date/);
      assert.deepEqual(world.rec.steps('start'), []);
    });
  }

  it('rejects an unknown fromStep before starting anything', async () => {
    reset();
    const err = await failureOf((await start({ batchDate: '2026-02-12', fromStep: 'run_stage3' })).result());
    assert.match(String(err.cause?.message), /run_stage3/);
    assert.deepEqual(world.rec.steps('start'), []);
  });

  it('without a date processes yesterday in Asia/Seoul', async () => {
    reset();
    const handle = await start(undefined);
    const result = (await handle.result()) as PipelineResult;
    const { startTime } = await handle.describe();
    const seoul = new Date(startTime.getTime() + 9 * 3600_000 - 24 * 3600_000).toISOString().slice(0, 10);
    assert.equal(result.batchDate, seoul);
  });

  it('from run_stage2: checks stage 1 output instead of the input, skips stage 1', async () => {
    reset();
    await (await start({ batchDate: '2026-02-12', fromStep: 'run_stage2' })).result();
    const started = world.rec.steps('start');
    assert.equal(started[0], 'check_s3_stage1_out');
    assert.ok(!started.includes('check_s3_input'));
    assert.ok(!started.includes('run_stage1'));
    assert.ok(
      started.includes('start_cluster') && started.includes('run_stage2') && started.includes('stop_cluster'),
    );
  });

  it('from load_to_rdb: no cluster at all', async () => {
    reset();
    const handle = await start({ batchDate: '2026-02-12', fromStep: 'load_to_rdb' });
    const result = (await handle.result()) as PipelineResult;
    assert.deepEqual([result.clusterUpSeconds, result.clusterCostUsd], [0, 0]);
    assert.deepEqual(await memoCost(handle), {
      batchDate: '2026-02-12',
      clusterUpSeconds: 0,
      clusterCostUsd: 0,
    });
    assert.deepEqual(
      world.rec.steps('start').filter((s) => s !== 'notify_slack'),
      ['check_s3_stage2_out', 'load_to_rdb', 'refresh_views', 'send_email_report'],
    );
  });

  it('missing input: fails before the cluster is started', async () => {
    reset({ check_s3_input: 'fail' });
    const handle = await start('2026-02-12');
    await failureOf(handle.result());
    assert.deepEqual(world.rec.steps('start'), ['check_s3_input', 'notify_slack']);
    assert.deepEqual(await memoCost(handle), {
      batchDate: '2026-02-12',
      clusterUpSeconds: 0,
      clusterCostUsd: 0,
    });
  });

  for (const step of CLUSTER) {
    it(`a failure in ${step} still stops Spark and the cluster, and skips the serving steps`, async () => {
      reset({ [step]: 'fail' });
      const handle = await start('2026-02-12');
      const err = await failureOf(handle.result());
      // A failed run keeps its cluster time and cost too; unknown when start_cluster never said which instances.
      const cost = await memoCost(handle);
      assert.ok(cost && cost.clusterUpSeconds > 0, JSON.stringify(cost));
      assert.equal(
        cost.clusterCostUsd,
        step === 'start_cluster' ? null : clusterCostUsd(cost.clusterUpSeconds, 2, prices),
      );
      assert.match(
        String((err.cause?.cause as Error | undefined)?.message ?? err.cause?.message),
        new RegExp(`${step} failed on purpose`),
      );
      const started = world.rec.steps('start');
      assert.ok(started.includes('stop_spark') && started.includes('stop_cluster'), started.join(','));
      assert.ok(started.indexOf('stop_cluster') > started.indexOf('stop_spark'));
      assert.ok(!started.includes('load_to_rdb'));
      assert.ok(world.rec.calls.some((c) => c.step === 'notify_slack'));
    });
  }

  it('a failing stop_spark does not prevent stop_cluster', async () => {
    reset({ stop_spark: 'fail' });
    const result = (await (await start('2026-02-12')).result()) as PipelineResult;
    assert.ok(world.rec.steps('end').includes('stop_cluster'));
    assert.equal(result.cleanup.status, 'stopped');
    assert.match(result.cleanup.sparkError ?? '', /stop_spark failed on purpose/);
  });

  for (const step of ['load_to_rdb', 'refresh_views', 'send_email_report']) {
    it(`a failure in ${step} fails the run after the cluster was already stopped`, async () => {
      reset({ [step]: 'fail' });
      await failureOf((await start('2026-02-12')).result());
      const ended = world.rec.steps('end');
      assert.ok(ended.includes('stop_cluster'));
    });
  }

  for (const step of CLUSTER) {
    it(`cancelled during ${step}: the step is cancelled first, then Spark and the cluster are stopped`, async () => {
      reset({ [step]: 'block' });
      const handle = await start('2026-02-12');
      await world.rec.waitFor(step);
      await handle.cancel();
      const err = await failureOf(handle.result());
      assert.ok(err.cause instanceof CancelledFailure, String(err.cause));
      const cancelledAt = world.rec.calls.find((c) => c.step === step && c.phase === 'cancelled')?.at;
      const stopSparkAt = world.rec.calls.find((c) => c.step === 'stop_spark' && c.phase === 'end')?.at;
      const stopClusterAt = world.rec.calls.find((c) => c.step === 'stop_cluster' && c.phase === 'end')?.at;
      assert.ok(stopSparkAt && stopClusterAt, 'cleanup ran');
      // Long steps are waited for until they have cancelled (a killed driver, an aborted start); the quick
      // S3 checks are abandoned at once.
      if (!step.startsWith('check_s3')) {
        assert.ok(cancelledAt, `${step} saw the cancellation`);
        assert.ok(cancelledAt <= stopSparkAt, `${step} was cancelled before the cleanup began`);
      }
      assert.ok(!world.rec.steps('start').includes('load_to_rdb'));
      assert.deepEqual(slackKinds(), ['cancelled'], 'a cancellation is announced as such, not as a failure');
    });
  }

  it('a failing stop_cluster is retried until it succeeds, each failure visible, Slack alerted after a few', async () => {
    reset();
    world.rec.failTimes.set('stop_cluster', 3);
    const handle = await start('2026-02-14');
    // While it retries, the progress query shows the failed attempts.
    let seen: PipelineProgress | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const p = await handle.query<PipelineProgress>('progress');
      if ((p.cleanup?.attempts ?? 0) >= 2 && p.cleanup?.status === 'stopping') {
        seen = p;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(seen, 'progress showed the cleanup still stopping after failed attempts');
    assert.match(
      seen.steps.find((s) => s.step === 'stop_cluster')?.detail ?? '',
      /attempt \d failed, retrying/,
    );
    assert.match(seen.cleanup?.lastError ?? '', /stop_cluster failed on purpose/);

    const result = (await handle.result()) as PipelineResult;
    assert.equal(world.rec.steps('start').filter((s) => s === 'stop_cluster').length, 4);
    assert.equal(result.cleanup.status, 'stopped');
    assert.equal(result.cleanup.attempts, 4);
    // One alert after the second failure (not one per failure), then the run's own message.
    assert.deepEqual(slackKinds(), ['cleanup-failing', 'success']);
    assert.ok(
      world.rec.steps('start').indexOf('load_to_rdb') > world.rec.steps('end').indexOf('stop_cluster'),
      'the serving steps wait for the cluster to be stopped',
    );
  });

  it('when download_code fails, install_deps is cancelled and has finished before the cleanup starts', async () => {
    reset({ download_code: 'fail', install_deps: 'block' });
    await failureOf((await start('2026-02-15')).result());
    const at = (step: string, phase: string) =>
      world.rec.calls.find((c) => c.step === step && c.phase === phase)?.at;
    const cancelled = at('install_deps', 'cancelled');
    assert.ok(cancelled, 'install_deps saw the cancellation');
    assert.ok(cancelled <= at('stop_spark', 'start')!, 'install_deps had finished before stop_spark started');
    assert.equal(
      world.rec.steps('start').filter((s) => s === 'install_deps').length,
      1,
      'no retry after cancel',
    );
    assert.deepEqual(slackKinds(), ['failure']);
  });

  it('cancelled while checking the input: nothing to clean up', async () => {
    reset({ check_s3_input: 'block' });
    const handle = await start('2026-02-12');
    await world.rec.waitFor('check_s3_input');
    await handle.cancel();
    await failureOf(handle.result());
    assert.ok(!world.rec.steps('start').includes('stop_cluster'));
  });
});

describe("the Spark stages' limit (SPARK_STAGE_TIMEOUT_MINUTES)", () => {
  /** The startToCloseTimeout (seconds) each run_stage attempt was scheduled with. */
  async function stageTimeouts(handle: WorkflowHandle): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const e of (await handle.fetchHistory()).events ?? []) {
      const a = e.activityTaskScheduledEventAttributes;
      const name = a?.activityType?.name ?? '';
      if (name.startsWith('run_stage')) out[name] = Number(a!.startToCloseTimeout!.seconds);
    }
    return out;
  }

  for (const minutes of [1, 480]) {
    it(`gives each stage attempt ${minutes} min plus 10 for killing the driver, as the worker recorded it`, async () => {
      reset();
      const before = world.rec.settings;
      world.rec.settings = { ...before, sparkStageTimeoutMinutes: minutes };
      try {
        const handle = await start({ batchDate: '2026-02-12' });
        await handle.result();
        const timeouts = await stageTimeouts(handle);
        console.log(`SPARK_STAGE_TIMEOUT_MINUTES=${minutes}: attempt timeouts ${JSON.stringify(timeouts)} s`);
        assert.deepEqual(timeouts, { run_stage1: (minutes + 10) * 60, run_stage2: (minutes + 10) * 60 });
      } finally {
        world.rec.settings = before;
      }
    });
  }

  it('runs recorded before the setting was recorded keep 3 hours an attempt', async () => {
    reset();
    const handle = await start({ batchDate: '2026-02-12' });
    await handle.result();
    assert.deepEqual(await stageTimeouts(handle), { run_stage1: 10_800, run_stage2: 10_800 });
  });
});

describe('potholePipeline with the nightly complaints load (COMPLAINTS_NIGHTLY)', () => {
  const serving = () =>
    world.rec
      .steps('start')
      .filter((s) => ['load_to_rdb', 'load_complaints', 'refresh_views', 'send_email_report'].includes(s));

  /** Runs `fn` with the worker's settings asking for the complaints load, as COMPLAINTS_NIGHTLY=true does. */
  async function withComplaints(fn: () => Promise<void>) {
    const before = world.rec.settings;
    world.rec.settings = { ...before, complaints: { lookbackDays: 7 } };
    try {
      await fn();
    } finally {
      world.rec.settings = before;
    }
  }

  it('is off unless the worker says so: no load_complaints step, not even in the progress', async () => {
    reset();
    const handle = await start({ batchDate: '2026-02-12', fromStep: 'load_to_rdb' });
    const result = (await handle.result()) as PipelineResult;
    assert.deepEqual(serving(), ['load_to_rdb', 'refresh_views', 'send_email_report']);
    assert.ok(
      !(await handle.query<PipelineProgress>('progress')).steps.some((s) => s.step === 'load_complaints'),
    );
    assert.equal(result.complaints, null);
    assert.deepEqual(result.warnings, []);
  });

  it('runs between load_to_rdb and refresh_views over the lookback days ending on the batch date', async () => {
    await withComplaints(async () => {
      reset();
      const handle = await start('2026-03-02');
      const result = (await handle.result()) as PipelineResult;
      assert.deepEqual(serving(), ['load_to_rdb', 'load_complaints', 'refresh_views', 'send_email_report']);
      const call = world.rec.calls.find((c) => c.step === 'load_complaints' && c.phase === 'start');
      assert.deepEqual(
        { ...call?.input, runId: undefined },
        {
          batchDate: '2026-03-02',
          workflowId: handle.workflowId,
          runId: undefined,
          from: '2026-02-24',
          to: '2026-03-02',
        },
      );
      assert.equal(result.complaints?.loaded, 3);
      assert.ok(result.stepSeconds.load_complaints !== undefined);
      assert.deepEqual(result.warnings, []);
      const progress = await handle.query<PipelineProgress>('progress');
      assert.deepEqual(progress.steps.map((s) => s.step).slice(-4), [
        'load_to_rdb',
        'load_complaints',
        'refresh_views',
        'send_email_report',
      ]);
      assert.equal(
        progress.steps.find((s) => s.step === 'load_complaints')?.detail,
        '3 new complaint(s) of 5 fetched (1 already stored, 1 off the network, 0 malformed)',
      );
    });
  });

  it('a failure of it is a warning: the serving steps go on, the run succeeds and says so on Slack', async () => {
    await withComplaints(async () => {
      reset({ load_complaints: 'fail' });
      const handle = await start({ batchDate: '2026-02-12', fromStep: 'load_to_rdb' });
      const result = (await handle.result()) as PipelineResult;
      assert.deepEqual(serving(), ['load_to_rdb', 'load_complaints', 'refresh_views', 'send_email_report']);
      assert.equal(result.emailSent, true);
      assert.equal(result.complaints, null);
      assert.deepEqual(result.warnings, [
        'load_complaints failed (2026-02-06..2026-02-12), the repair priority has no new complaints: load_complaints failed on purpose',
      ]);
      const slack = world.rec.calls.find((c) => c.step === 'notify_slack' && c.phase === 'start');
      assert.equal(slack?.kind, 'success');
      assert.deepEqual((slack?.input as { warnings?: string[] }).warnings, result.warnings);
      const progress = await handle.query<PipelineProgress>('progress');
      assert.equal(progress.steps.find((s) => s.step === 'load_complaints')?.status, 'failed');
    });
  });

  it('a later failure is still reported as that step, not as the complaints load', async () => {
    await withComplaints(async () => {
      reset({ load_complaints: 'fail', send_email_report: 'fail' });
      await failureOf((await start({ batchDate: '2026-02-12', fromStep: 'load_to_rdb' })).result());
      const slack = world.rec.calls.find((c) => c.step === 'notify_slack' && c.phase === 'start');
      assert.equal(slack?.kind, 'failure');
      assert.equal((slack?.input as { step?: string }).step, 'send_email_report');
    });
  });

  it('a run that starts at refresh_views skips it', async () => {
    await withComplaints(async () => {
      reset();
      const handle = await start({ batchDate: '2026-02-12', fromStep: 'refresh_views' });
      await handle.result();
      assert.deepEqual(serving(), ['refresh_views', 'send_email_report']);
      const progress = await handle.query<PipelineProgress>('progress');
      assert.equal(progress.steps.find((s) => s.step === 'load_complaints')?.status, 'skipped');
    });
  });
});
