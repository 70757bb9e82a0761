/**
 * The pipeline against the real local services, through a real worker process and the `pothole` CLI:
 * EC2 calls to the emulator (recorded by a pass-through proxy), SSH, the reference Spark jobs on the standalone
 * cluster, S3 checks, PostgreSQL. What an on-call engineer relies on at 02:00:
 * nothing starts without input, a cancelled run leaves nothing running, a killed worker does not run a stage twice,
 * `run --force` waits for the cleanup, and a backfill uses one cluster session.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { koreanDuration } from '../../src/activities/report/cost';
import { formatDuration } from '../../src/activities/slack';
import { duration } from '../../src/cli/render';
import { costFromMemo, formatUsd, totalCost, type RunCost } from '../../src/cost/run-cost';
import { seoulMonthStart } from '../../src/cost/from-temporal';
import { workflowIdFor } from '../../src/shared/steps';
import type { PipelineProgress } from '../../src/shared/types';
import type { BackfillSummary } from '../../src/workflows/backfill';
import type { PipelineResult } from '../../src/workflows/pipeline';
import { SlackSink } from '../support/slack-sink';
import {
  describeProcesses,
  PipelineWorld,
  processesMatching as sparkProcesses,
  sparkApplications,
  waitUntil,
} from '../support/e2e';

const world = new PipelineWorld('pipeline');
/** `text` matched literally inside a regular expression. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const slack = new SlackSink();
const suiteStartedAt = Date.now();
const dates = {
  missingInput: '2026-04-01',
  cancelStart: '2026-04-02',
  killedWorker: '2026-04-04',
  force: '2026-04-05',
  backfill: ['2026-04-06', '2026-04-07'],
};
const { recorder } = world;
const pothole = (...args: string[]) => world.pothole(...args);
const states = () => world.states();
const stepStatus = (...args: Parameters<PipelineWorld['stepStatus']>) => world.stepStatus(...args);

before(async () => {
  await slack.start();
  await world.setUp({
    dates: [dates.cancelStart, dates.killedWorker, dates.force, ...dates.backfill],
    env: { SLACK_WEBHOOK_URL: slack.url() },
  });
});

after(async () => {
  await world.tearDown();
  await slack.stop();
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
  });

  // The run started again by --force above is the one cancelled here.
  it('cancelled during run_stage1: the driver is killed, Spark and the cluster are stopped', async () => {
    const app = `pothole-stage1-${dates.force}`;
    const handle = world.client.workflow.getHandle(workflowIdFor(dates.force));
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the run started again by --force');
    await waitUntil('run_stage1 running', async () => (await stepStatus(handle, 'run_stage1')) === 'running');
    await waitUntil('the stage1 driver', () => sparkProcesses(app).length > 0);
    const r = await pothole('cancel', dates.force);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    const progress = await handle.query<PipelineProgress>('progress');
    assert.equal(progress.steps.find((s) => s.step === 'stop_cluster')!.status, 'done');
    assert.deepEqual(sparkProcesses(app), [], 'no driver left');
    const daemons = sparkProcesses('org.apache.spark.deploy.(master|worker|history)');
    assert.deepEqual(daemons, [], `no Spark daemon left: ${describeProcesses(daemons)}`);
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

  it("every run's cluster time and cost: its result, status, list, Slack, the report and pothole cost agree", async () => {
    const runs: { workflowId: string; runId: string; status: string; start: Date; cost?: RunCost }[] = [];
    for await (const w of world.client.workflow.list({ query: `TaskQueue = '${world.taskQueue}'` })) {
      if (w.type === 'potholePipeline' || w.type === 'potholeBackfill')
        runs.push({ ...w, status: w.status.name, start: w.startTime, cost: costFromMemo(w.memo) });
    }
    runs.sort((a, b) => a.start.getTime() - b.start.getTime());
    // Failed and cancelled runs keep their figure too: every run here recorded one.
    assert.deepEqual(
      runs.filter((r) => !r.cost).map((r) => r.workflowId),
      [],
    );

    // The run that completed: its result, status, list and Slack message show the recorded figure.
    const id = workflowIdFor(dates.killedWorker);
    const result = (await world.client.workflow.getHandle(id).result()) as PipelineResult;
    const run = runs.find((r) => r.workflowId === id)!;
    assert.deepEqual(run.cost, {
      batchDate: dates.killedWorker,
      clusterUpSeconds: result.clusterUpSeconds,
      clusterCostUsd: result.clusterCostUsd,
      workers: 2,
    });
    assert.ok(result.clusterCostUsd! > 0 && result.clusterUpSeconds > 0, JSON.stringify(result));
    const cost = formatUsd(result.clusterCostUsd);
    const status = await pothole('status', dates.killedWorker);
    assert.match(
      status.stdout,
      new RegExp(
        `cluster up for: ${literally(duration(result.clusterUpSeconds))}   cost: ${literally(cost)}`,
      ),
    );
    const list = await pothole('list', '--last', '20');
    const line = list.stdout.split('\n').find((l) => l.includes(id)) ?? '';
    assert.match(
      line,
      new RegExp(`${literally(duration(result.clusterUpSeconds))} +${literally(cost)}$`),
      list.stdout,
    );
    assert.ok(
      slack.messages.some((m) =>
        m.text.includes(`*Cluster up:* ${formatDuration(result.clusterUpSeconds)} · *Cost:* ${cost}`),
      ),
      slack.messages.map((m) => m.text).join('\n---\n'),
    );

    // The report, sent after the cluster stopped: the run's final figure, and this month's runs so far.
    const mailDir = world.base.MAIL_DIR!;
    const texts: string[] = [];
    for (const f of fs.readdirSync(mailDir).filter((f) => f.endsWith('.eml'))) {
      const file = path.join(mailDir, f);
      if (fs.statSync(file).mtimeMs < suiteStartedAt) continue;
      const mail = await simpleParser(fs.readFileSync(file));
      if (mail.headers.get('x-pothole-workflow-id') === id) texts.push(mail.text ?? '');
    }
    assert.equal(texts.length, 1, 'one report for the run');
    assert.match(
      texts[0]!,
      new RegExp(
        literally(
          `이번 실행 클러스터 가동 ${koreanDuration(result.clusterUpSeconds)}, 비용 ${cost}, 마스터 1대 + 워커 2대`,
        ),
      ),
    );
    const month = seoulMonthStart(run.start);
    const sofar = totalCost(runs.filter((r) => r.start >= month && r.start <= run.start).map((r) => r.cost));
    const unknown = sofar.unknown ? `, 비용 미상 ${sofar.unknown}회 제외` : '';
    assert.ok(
      texts[0]!.includes(
        `누계: ${formatUsd(sofar.clusterCostUsd)}, 클러스터 가동 ${koreanDuration(sofar.clusterUpSeconds)} (실행 ${sofar.runs}회${unknown})`,
      ),
      texts[0],
    );

    // pothole cost over the dates: one line per run with its recorded figure, the unknown ones apart.
    const backfill = (await world.client.workflow
      .getHandle(`pothole-backfill-${dates.backfill[0]}-${dates.backfill[1]}`)
      .result()) as BackfillSummary;
    const out = await pothole('cost', '--from', '2026-04-01', '--to', '2026-04-07', '--json');
    assert.equal(out.status, 0, out.stderr);
    const report = JSON.parse(out.stdout) as {
      runs: { workflowId: string; runId: string; clusterUpSeconds: number; clusterCostUsd: number | null }[];
      total: { clusterUpSeconds: number; clusterCostUsd: number; runs: number; unknown: number };
    };
    assert.deepEqual(report.runs.map((r) => r.runId).sort(), runs.map((r) => r.runId).sort());
    for (const r of report.runs) {
      const c = runs.find((x) => x.runId === r.runId)!.cost!;
      assert.deepEqual(
        [r.clusterUpSeconds, r.clusterCostUsd],
        [c.clusterUpSeconds, c.clusterCostUsd],
        r.workflowId,
      );
    }
    const byId = (w: string) => report.runs.find((r) => r.workflowId === w)!;
    assert.equal(byId(id).clusterCostUsd, result.clusterCostUsd);
    assert.equal(
      byId(`pothole-backfill-${dates.backfill[0]}-${dates.backfill[1]}`).clusterCostUsd,
      backfill.clusterCostUsd,
    );
    assert.deepEqual(report.total, totalCost(runs.map((r) => r.cost)));
    const human = await pothole('cost', '--from', '2026-04-01', '--to', '2026-04-07');
    assert.match(
      human.stdout,
      new RegExp(
        `^total 2026-04-01\\.\\.2026-04-07: ${runs.length} run\\(s\\).*cost ${literally(formatUsd(report.total.clusterCostUsd))}$`,
        'm',
      ),
    );
  });
});
