/**
 * A backfill is one cluster session per chunk of BACKFILL_DATES_PER_SESSION dates: with the default a 10-date
 * range starts and stops the cluster once and runs both stages for every date; a longer range has one session
 * per chunk, one after the other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config';
import { clusterCostUsd, costFromMemo, totalCost, type RunCost } from '../../../src/cost/run-cost';
import { dateRange } from '../../../src/shared/steps';
import type { BackfillSummary } from '../../../src/workflows/backfill';
import { keepHistory } from '../../support/histories';
import { startFakeWorld, type FakeWorld } from '../../support/temporal';

let world: FakeWorld;

before(async () => {
  world = await startFakeWorld('backfill');
});
after(async () => {
  await world.close();
});

/** The dates whose stages ran between each start_cluster and the stop_cluster after it, from the recorded calls. */
function sessions(): string[][] {
  const out: string[][] = [];
  let current: string[] | undefined;
  for (const c of world.rec.calls) {
    if (c.step === 'start_cluster' && c.phase === 'start') {
      assert.equal(current, undefined, 'a session started while another was open');
      current = [];
    } else if (c.step === 'run_stage1' && c.phase === 'end') {
      assert.ok(current, `stage1 of ${c.batchDate} ran outside a cluster session`);
      current.push(c.batchDate!);
    } else if (c.step === 'stop_cluster' && c.phase === 'end') {
      out.push(current ?? []);
      current = undefined;
    }
  }
  return out;
}

async function backfill(from: string, to: string): Promise<BackfillSummary> {
  return world.client.workflow.execute('potholeBackfill', {
    taskQueue: world.taskQueue,
    workflowId: `${world.taskQueue}-${from}-${to}`,
    args: [{ from, to }],
  });
}

describe('potholeBackfill', () => {
  it('ten dates with the default chunk: one cluster start, one stop, both stages for every date', async () => {
    world.rec.calls = [];
    const perSession = loadConfig(['temporal'], {}).temporal.BACKFILL_DATES_PER_SESSION;
    world.rec.settings = { backfillDatesPerSession: perSession };
    const dates = dateRange('2026-03-01', '2026-03-10');
    const summary = await backfill(dates[0]!, dates.at(-1)!);
    assert.deepEqual(
      summary.outcomes.map((o) => [o.batchDate, o.status]),
      dates.map((d) => [d, 'done']),
    );
    assert.equal(world.rec.steps('start').filter((s) => s === 'start_cluster').length, 1);
    assert.equal(world.rec.steps('start').filter((s) => s === 'stop_cluster').length, 1);
    for (const stage of ['run_stage1', 'run_stage2']) {
      const ran = world.rec.calls
        .filter((c) => c.step === stage && c.phase === 'end')
        .map((c) => c.batchDate);
      assert.deepEqual(ran, dates, `${stage} for every date, in order`);
    }
    assert.deepEqual(sessions(), [dates]);
  });

  it('a range longer than the chunk: one session per chunk, one after the other', async () => {
    world.rec.calls = [];
    const prices = { masterHourlyUsd: 3.6, workerHourlyUsd: 36 };
    world.rec.settings = { backfillDatesPerSession: 4, clusterPrices: prices };
    const dates = dateRange('2026-03-11', '2026-03-20');
    const summary = await backfill(dates[0]!, dates.at(-1)!);
    assert.deepEqual(
      summary.outcomes.map((o) => [o.batchDate, o.status]),
      dates.map((d) => [d, 'done']),
    );
    assert.deepEqual(sessions(), [dates.slice(0, 4), dates.slice(4, 8), dates.slice(8)]);
    for await (const w of world.client.workflow.list({
      query: `WorkflowId = '${world.taskQueue}-${dates[0]}-${dates.at(-1)}'`,
    })) {
      const name =
        w.status.name === 'CONTINUED_AS_NEW' ? 'backfill-session-continued' : 'backfill-last-session';
      await keepHistory(world.client.workflow.getHandle(w.workflowId, w.runId), name);
    }
    const loads = world.rec.calls.filter((c) => c.step === 'load_to_rdb' && c.phase === 'end');
    assert.deepEqual(
      loads.map((c) => c.batchDate),
      dates,
      'every date loaded once',
    );
    // Each run of the chain keeps its own session's figure; the result adds them up.
    const query = `WorkflowId = '${world.taskQueue}-${dates[0]}-${dates.at(-1)}'`;
    let costs: RunCost[] = [];
    for (let i = 0; i < 100 && costs.length < 3; i++) {
      costs = [];
      for await (const w of world.client.workflow.list({ query })) {
        const c = costFromMemo(w.memo);
        if (c) costs.push(c);
      }
      if (costs.length < 3) await new Promise((r) => setTimeout(r, 100));
    }
    costs.sort((a, b) => (a.from ?? '').localeCompare(b.from ?? ''));
    assert.deepEqual(
      costs.map((c) => [c.from, c.to, c.workers]),
      [
        [dates[0], dates[3], 2],
        [dates[4], dates[7], 2],
        [dates[8], dates[9], 2],
      ],
    );
    for (const c of costs) assert.equal(c.clusterCostUsd, clusterCostUsd(c.clusterUpSeconds, 2, prices));
    const total = totalCost(costs);
    assert.equal(summary.clusterUpSeconds, total.clusterUpSeconds);
    assert.equal(summary.clusterCostUsd, total.clusterCostUsd);
  });
});
