import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config';
import {
  clusterCostUsd,
  costFromMemo,
  costFromResult,
  formatUsd,
  totalCost,
} from '../../../src/cost/run-cost';

const prices = { masterHourlyUsd: 0.236, workerHourlyUsd: 0.608 };

describe("a run's cluster cost", () => {
  it('is the up time times the master price plus the workers times the worker price', () => {
    // 1.5 h × (0.236 + 4 × 0.608) = 1.5 × 2.668
    assert.equal(clusterCostUsd(5400, 4, prices), 4.002);
    assert.equal(clusterCostUsd(60, 2, { masterHourlyUsd: 3.6, workerHourlyUsd: 36 }), 1.26);
    // a master alone
    assert.equal(clusterCostUsd(3600, 0, prices), 0.236);
  });

  it('is rounded to a hundredth of a cent', () => {
    assert.equal(clusterCostUsd(1, 4, prices), 0.0007);
  });

  it('is nothing when no cluster was up, and unknown without the instances or the prices', () => {
    assert.equal(clusterCostUsd(0, undefined, undefined), 0);
    assert.equal(clusterCostUsd(120, undefined, prices), null);
    assert.equal(clusterCostUsd(120, 4, undefined), null);
  });

  it('defaults to the on-demand prices of the original instance types, and takes others', () => {
    const defaults = loadConfig(['cluster'], { CLUSTER_NAME: 'c' }).cluster.prices;
    assert.deepEqual(defaults, { masterHourlyUsd: 0.236, workerHourlyUsd: 0.608 });
    const set = loadConfig(['cluster'], {
      CLUSTER_NAME: 'c',
      CLUSTER_MASTER_HOURLY_USD: '0.192',
      CLUSTER_WORKER_HOURLY_USD: '0',
    }).cluster.prices;
    assert.deepEqual(set, { masterHourlyUsd: 0.192, workerHourlyUsd: 0 });
    assert.throws(
      () =>
        loadConfig(['cluster'], {
          CLUSTER_NAME: 'c',
          CLUSTER_MASTER_HOURLY_USD: '$0.19',
          CLUSTER_WORKER_HOURLY_USD: '-1',
        }),
      (err: Error) =>
        /CLUSTER_MASTER_HOURLY_USD must be a number of 0 or more, got "\$0\.19"/.test(err.message) &&
        /CLUSTER_WORKER_HOURLY_USD must be a number of 0 or more, got "-1"/.test(err.message),
    );
  });
});

describe('cost figures as people read them', () => {
  it('are dollars and cents, "<$0.01" for a sliver, "-" when unknown', () => {
    assert.equal(formatUsd(4.002), '$4.00');
    assert.equal(formatUsd(12.3456), '$12.35');
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(0.0007), '<$0.01');
    assert.equal(formatUsd(null), '-');
    assert.equal(formatUsd(undefined), '-');
  });

  it("come from a run's memo, or from the result of a run recorded before memos (up time only)", () => {
    const memo = {
      cost: { clusterUpSeconds: 90, clusterCostUsd: 0.05, workers: 2, batchDate: '2026-04-04' },
    };
    assert.deepEqual(costFromMemo(memo), memo.cost);
    assert.equal(costFromMemo({}), undefined);
    assert.equal(costFromMemo(undefined), undefined);
    assert.deepEqual(costFromResult({ clusterUpSeconds: 75, rowsLoaded: 3 }), {
      clusterUpSeconds: 75,
      clusterCostUsd: null,
    });
    assert.deepEqual(costFromResult({ clusterUpSeconds: 75, clusterCostUsd: 0.1 }), {
      clusterUpSeconds: 75,
      clusterCostUsd: 0.1,
    });
    assert.equal(costFromResult(undefined), undefined);
  });

  it('add up the known ones and count the unknown ones, never as zero', () => {
    const total = totalCost([
      { clusterUpSeconds: 100, clusterCostUsd: 0.1 },
      { clusterUpSeconds: 200, clusterCostUsd: 0.2 },
      { clusterUpSeconds: 50, clusterCostUsd: null },
      undefined,
      { clusterUpSeconds: 0, clusterCostUsd: 0 },
    ]);
    assert.deepEqual(total, { clusterUpSeconds: 350, clusterCostUsd: 0.3, runs: 5, unknown: 2 });
  });
});
