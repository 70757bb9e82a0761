/**
 * pothole cost --from DATE --to DATE: what the cluster cost for the batch dates of a range, run by run, from the
 * figures each run recorded (runs that recorded none are listed and counted apart, never as zero).
 */
import type { Client } from '@temporalio/client';
import type { TemporalConfig } from '../config';
import { costFromMemo, formatUsd, totalCost, type CostTotal, type RunCost } from '../cost/run-cost';
import { readRunCosts, RUN_TYPES_QUERY, type RunCostRow } from '../cost/from-temporal';
import { duration, table } from './render';
import { batchDateOf } from '../runs/batch-date';
import type { Out } from './runs';

export interface CostLine {
  /** A pipeline run's batch date, or a backfill session's "from..to". */
  batchDate: string;
  workflowId: string;
  runId: string;
  status: string;
  clusterUpSeconds: number | null;
  clusterCostUsd: number | null;
}

export interface CostReport {
  from: string;
  to: string;
  runs: CostLine[];
  total: CostTotal;
}

/** The dates a run covers: its memo's (new runs), else what its workflow id names. */
function datesOf(row: RunCostRow): { from: string; to: string } | undefined {
  const memo = costFromMemo(row.memo);
  if (memo?.batchDate) return { from: memo.batchDate, to: memo.batchDate };
  if (memo?.from && memo.to) return { from: memo.from, to: memo.to };
  const named = batchDateOf(row.workflowId);
  if (!named) return undefined;
  const [from = named, to = from] = named.split('..');
  return { from, to };
}

/**
 * The runs whose dates meet the range: a pipeline run of a date in it, a backfill session (each run of a backfill
 * is one session) with a date in it, counted whole.
 */
export function costReport(rows: RunCostRow[], from: string, to: string): CostReport {
  const lines: (CostLine & { cost?: RunCost })[] = [];
  for (const row of rows) {
    const dates = datesOf(row);
    if (!dates || dates.to < from || dates.from > to) continue;
    lines.push({
      batchDate: dates.from === dates.to ? dates.from : `${dates.from}..${dates.to}`,
      workflowId: row.workflowId,
      runId: row.runId,
      status: row.status,
      clusterUpSeconds: row.cost?.clusterUpSeconds ?? null,
      clusterCostUsd: row.cost?.clusterCostUsd ?? null,
      cost: row.cost,
    });
  }
  lines.sort((a, b) => a.batchDate.localeCompare(b.batchDate));
  return {
    from,
    to,
    runs: lines.map(({ cost: _, ...line }) => line),
    total: totalCost(lines.map((l) => l.cost)),
  };
}

export function costTable(report: CostReport): string {
  const t = report.total;
  const rows = report.runs.map((r) => [
    r.batchDate,
    r.workflowId,
    r.status,
    r.clusterUpSeconds === null ? '-' : duration(r.clusterUpSeconds),
    formatUsd(r.clusterCostUsd),
  ]);
  const unknown = t.unknown ? ` (${t.unknown} of them without a cost figure, not counted)` : '';
  return [
    table(['date', 'workflow', 'status', 'cluster up', 'cost'], rows),
    `total ${report.from}..${report.to}: ${t.runs} run(s)${unknown}, cluster up ${duration(t.clusterUpSeconds)}, ` +
      `cost ${formatUsd(t.clusterCostUsd)}`,
  ].join('\n');
}

/** The runs of this deployment (TEMPORAL_TASK_QUEUE) that Temporal still keeps. */
export async function showCost(
  client: Client,
  config: TemporalConfig,
  out: Out,
  range: { from: string; to: string },
): Promise<void> {
  const rows = await readRunCosts(
    client,
    `${RUN_TYPES_QUERY} AND TaskQueue = '${config.TEMPORAL_TASK_QUEUE}'`,
  );
  const report = costReport(rows, range.from, range.to);
  out.print(costTable(report), report);
}
