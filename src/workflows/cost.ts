/**
 * A run's cluster cost, computed in the workflow and kept in the run's memo.
 *
 * The prices come from pipeline_settings, i.e. the settings of the worker that runs the workflow, read when each
 * run starts and recorded in its history: the cost replays unchanged, and a price changed in the settings applies
 * from the next run on. Prices passed in the workflow's input instead would be frozen into the nightly schedule's
 * action at `schedule create` time. The memo (written once the cleanup is over, so also for failed and cancelled
 * runs, whose result is an error) lets `pothole list`, `pothole cost` and the report's month-to-date total read
 * every run's figure from the server's list of runs.
 */
import { patched, upsertMemo } from '@temporalio/workflow';
import { clusterCostUsd, COST_MEMO_KEY, type ClusterPrices, type RunCost } from '../cost/run-cost';

/** Runs recorded before the memo existed replay without it. */
const MEMO_PATCH = 'cluster-cost-memo';

export class RunCostRecord {
  #recorded: RunCost | undefined;

  constructor(
    private readonly prices: ClusterPrices | undefined,
    /** What the run is about: its batch date, or a backfill session's dates. */
    private readonly about: { batchDate: string } | { from: string; to: string },
  ) {}

  /**
   * The cost of `seconds` of the master and `workers` workers (undefined: start_cluster never said), kept in the
   * memo. Only the first call records: later ones return the recorded figure.
   */
  record(seconds: number, workers: number | undefined): RunCost {
    if (this.#recorded) return this.#recorded;
    const cost: RunCost = {
      ...this.about,
      clusterUpSeconds: seconds,
      clusterCostUsd: clusterCostUsd(seconds, workers, this.prices),
      ...(workers !== undefined ? { workers } : {}),
    };
    this.#recorded = cost;
    if (patched(MEMO_PATCH)) upsertMemo({ [COST_MEMO_KEY]: cost });
    return cost;
  }

  /** The recorded figure; a run that has recorded none by now started no cluster, and costs nothing. */
  settle(): RunCost {
    return this.record(0, undefined);
  }
}
