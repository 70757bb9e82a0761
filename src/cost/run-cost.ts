/**
 * What a run's cluster cost: cluster-up time × (the master's hourly price + the run's workers × a worker's hourly
 * price). Pure and workflow-safe: the workflows compute the figure, the CLI, Slack and the report show it.
 */

/** CLUSTER_MASTER_HOURLY_USD and CLUSTER_WORKER_HOURLY_USD, as the worker that runs the workflows reads them. */
export interface ClusterPrices {
  masterHourlyUsd: number;
  workerHourlyUsd: number;
}

/**
 * A run's cluster figures, kept in the run's memo (key `cost`) from the end of its cleanup, so that failed and
 * cancelled runs have them too and a list of runs reads them without fetching every history.
 */
export interface RunCost {
  /** From the cluster's start request to the end of stop_cluster; 0 when the run started no cluster. */
  clusterUpSeconds: number;
  /** null: unknown (start_cluster never said which instances ran, or the worker had no prices). */
  clusterCostUsd: number | null;
  /** The workers the cost counts (start_cluster's), besides the master. */
  workers?: number;
  /** A pipeline run's batch date, or a backfill session's first and last dates. */
  batchDate?: string;
  from?: string;
  to?: string;
}

export const COST_MEMO_KEY = 'cost';

/** Rounded to a hundredth of a cent, so sums of recorded figures do not drift. */
const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;

/** The cost of `seconds` of a master and `workers` workers; null when either is unknown. */
export function clusterCostUsd(
  seconds: number,
  workers: number | undefined,
  prices: ClusterPrices | undefined,
): number | null {
  if (seconds <= 0) return 0;
  if (workers === undefined || !prices) return null;
  return roundUsd((seconds / 3600) * (prices.masterHourlyUsd + workers * prices.workerHourlyUsd));
}

/** "$1.23"; "<$0.01" for a figure that rounds to nothing but is not; "-" when unknown or not recorded. */
export function formatUsd(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || Number.isNaN(usd)) return '-';
  if (usd > 0 && usd < 0.005) return '<$0.01';
  return `$${usd.toFixed(2)}`;
}

/** A memo's `cost` entry, or undefined when the run has none (recorded before costs were kept, still running). */
export function costFromMemo(memo: Record<string, unknown> | undefined): RunCost | undefined {
  const c = memo?.[COST_MEMO_KEY] as Partial<RunCost> | undefined;
  if (!c || typeof c.clusterUpSeconds !== 'number') return undefined;
  return { ...c, clusterUpSeconds: c.clusterUpSeconds, clusterCostUsd: numberOrNull(c.clusterCostUsd) };
}

/** The figures of a run's result (pipeline or backfill); runs recorded before costs were kept have up time only. */
export function costFromResult(result: unknown): RunCost | undefined {
  const r = result as { clusterUpSeconds?: unknown; clusterCostUsd?: unknown } | undefined;
  if (typeof r?.clusterUpSeconds !== 'number') return undefined;
  return { clusterUpSeconds: r.clusterUpSeconds, clusterCostUsd: numberOrNull(r.clusterCostUsd) };
}

const numberOrNull = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export interface CostTotal {
  /** Cluster-up time of the runs whose time is known. */
  clusterUpSeconds: number;
  /** Cost of the runs whose cost is known. */
  clusterCostUsd: number;
  runs: number;
  /** Runs without a cost figure: listed, never counted as zero. */
  unknown: number;
}

export function totalCost(costs: (RunCost | undefined)[]): CostTotal {
  const total: CostTotal = { clusterUpSeconds: 0, clusterCostUsd: 0, runs: costs.length, unknown: 0 };
  for (const c of costs) {
    total.clusterUpSeconds += c?.clusterUpSeconds ?? 0;
    if (c?.clusterCostUsd === null || c?.clusterCostUsd === undefined) total.unknown++;
    else total.clusterCostUsd = roundUsd(total.clusterCostUsd + c.clusterCostUsd);
  }
  return total;
}
