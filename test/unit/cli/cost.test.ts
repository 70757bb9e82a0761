import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costReport, costTable } from '../../../src/cli/cost';
import type { RunCost } from '../../../src/cost/run-cost';
import type { RunCostRow } from '../../../src/cost/from-temporal';

const row = (workflowId: string, status: string, cost?: RunCost, memo = true): RunCostRow => ({
  workflowId,
  runId: `run-${workflowId}-${status}`,
  type: workflowId.startsWith('pothole-backfill') ? 'potholeBackfill' : 'potholePipeline',
  status,
  startTime: new Date('2026-04-10T00:00:00Z'),
  ...(memo && cost ? { memo: { cost } } : {}),
  cost,
});

const rows: RunCostRow[] = [
  row('pothole-pipeline-2026-04-02', 'COMPLETED', {
    batchDate: '2026-04-02',
    clusterUpSeconds: 3600,
    clusterCostUsd: 1.452,
    workers: 2,
  }),
  row('pothole-pipeline-2026-04-01', 'FAILED', {
    batchDate: '2026-04-01',
    clusterUpSeconds: 0,
    clusterCostUsd: 0,
  }),
  row('pothole-pipeline-2026-04-03', 'CANCELLED', {
    batchDate: '2026-04-03',
    clusterUpSeconds: 40,
    clusterCostUsd: null,
  }),
  // recorded before costs were kept: a completed run's up time from its result, a failed one's nothing
  row('pothole-pipeline-2026-04-04', 'COMPLETED', { clusterUpSeconds: 600, clusterCostUsd: null }, false),
  row('pothole-pipeline-2026-04-05', 'FAILED'),
  row('pothole-backfill-2026-03-28-2026-04-30', 'CONTINUED_AS_NEW', {
    from: '2026-03-28',
    to: '2026-03-31',
    clusterUpSeconds: 7200,
    clusterCostUsd: 2.904,
  }),
  row('pothole-backfill-2026-03-28-2026-04-30', 'COMPLETED', {
    from: '2026-04-01',
    to: '2026-04-30',
    clusterUpSeconds: 1800,
    clusterCostUsd: 0.726,
  }),
  row('pothole-pipeline-2026-05-01', 'COMPLETED', { clusterUpSeconds: 60, clusterCostUsd: 1 }),
  // a date read from the nightly schedule's workflow id (its 02:00 Asia/Seoul slot the next day)
  row('pothole-pipeline-scheduled-2026-04-06T17:00:00Z', 'RUNNING'),
];

describe('pothole cost', () => {
  const report = costReport(rows, '2026-04-01', '2026-04-06');

  it("lists each run of the range's dates, by date, a backfill session whose dates meet it counted whole", () => {
    assert.deepEqual(
      report.runs.map((r) => [r.batchDate, r.status, r.clusterUpSeconds, r.clusterCostUsd]),
      [
        ['2026-04-01', 'FAILED', 0, 0],
        ['2026-04-01..2026-04-30', 'COMPLETED', 1800, 0.726],
        ['2026-04-02', 'COMPLETED', 3600, 1.452],
        ['2026-04-03', 'CANCELLED', 40, null],
        ['2026-04-04', 'COMPLETED', 600, null],
        ['2026-04-05', 'FAILED', null, null],
        ['2026-04-06', 'RUNNING', null, null],
      ],
    );
  });

  it('adds up the known figures and counts the runs without a cost apart', () => {
    assert.deepEqual(report.total, { clusterUpSeconds: 6040, clusterCostUsd: 2.178, runs: 7, unknown: 4 });
    const text = costTable(report);
    assert.match(text, /^2026-04-05 +pothole-pipeline-2026-04-05 +FAILED +- +-$/m);
    assert.match(text, /^2026-04-02 +pothole-pipeline-2026-04-02 +COMPLETED +1h00m +\$1\.45$/m);
    assert.match(
      text,
      /^total 2026-04-01\.\.2026-04-06: 7 run\(s\) \(4 of them without a cost figure, not counted\), cluster up 1h40m, cost \$2\.18$/m,
    );
  });

  it('an empty range says so with a zero total', () => {
    const none = costReport(rows, '2027-01-01', '2027-01-31');
    assert.deepEqual(none.total, { clusterUpSeconds: 0, clusterCostUsd: 0, runs: 0, unknown: 0 });
    assert.match(
      costTable(none),
      /total 2027-01-01\.\.2027-01-31: 0 run\(s\), cluster up 0\.0s, cost \$0\.00/,
    );
  });
});
