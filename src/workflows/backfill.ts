/**
 * potholeBackfill: a range of dates, one cluster session per chunk of BACKFILL_DATES_PER_SESSION dates (31 by
 * default, so a month is one session). Per chunk the cluster starts once, both Spark stages run for each date in
 * order, the cluster stops once, then the serving steps run for each date; the next chunk continues as new, which
 * keeps the history small. A failed date is reported and does not stop the others; a failed cluster session fails
 * the dates of its chunk.
 */
import {
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  defineQuery,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { dateRange, validateBatchDate, type StepName } from '../shared/steps';
import type { CleanupOutcome, NotifyInput, StepInput } from '../shared/types';
import { acts, servingActivities, sparkJobActivities } from './activities';
import { cleanupTiming, stopSparkAndCluster } from './cleanup';
import { acquireClusterLock } from './cluster-lock';
import { RunCostRecord } from './cost';
import * as metrics from './metrics';
import { failureMessage, Progress } from './progress';
import { allOrCancelSiblings } from './siblings';

export interface BackfillInput {
  from: string;
  to: string;
  /** Carried over continue-as-new: the dates still to do and the outcomes so far. */
  remaining?: string[];
  outcomes?: DateOutcome[];
  /** Carried over continue-as-new: the cluster time and cost of the earlier sessions (null: some unknown). */
  spent?: { clusterUpSeconds: number; clusterCostUsd: number | null };
}

export interface DateOutcome {
  batchDate: string;
  status: 'done' | 'failed' | 'pending';
  /** The step that failed, and why. */
  failedStep?: StepName;
  error?: string;
  rowsLoaded?: number;
}

export interface BackfillSummary {
  from: string;
  to: string;
  outcomes: DateOutcome[];
  /** What became of the cluster in this run's session (the last chunk's, after continue-as-new). */
  cleanup?: CleanupOutcome;
  /** Every session's cluster-up time and cost together (null: some unknown); absent in older runs. */
  clusterUpSeconds?: number;
  clusterCostUsd?: number | null;
}

const backfillProgressQuery = defineQuery<{
  current?: string;
  step?: StepName;
  outcomes: DateOutcome[];
  cleanup?: CleanupOutcome;
}>('progress');

/** The chunk size of runs whose recorded settings predate BACKFILL_DATES_PER_SESSION: they replay unchanged. */
const RECORDED_DATES_PER_SESSION = 7;

const { pipeline_settings } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });

export async function potholeBackfill(input: BackfillInput): Promise<BackfillSummary> {
  for (const d of [input.from, input.to]) {
    const v = validateBatchDate(d);
    if (typeof v !== 'string') throw ApplicationFailure.nonRetryable(v.error, 'InvalidBatchDate');
  }
  if (input.from > input.to) {
    throw ApplicationFailure.nonRetryable(`FROM ${input.from} is after TO ${input.to}`, 'InvalidInput');
  }
  const all = input.remaining ?? dateRange(input.from, input.to);
  const previous = input.outcomes ?? [];
  const state: { current?: string; step?: StepName; waitingFor?: string } = {};
  let outcomes: DateOutcome[] = [];
  let cleanup: Progress | undefined;
  setHandler(backfillProgressQuery, () => ({
    ...state,
    outcomes: [...previous, ...outcomes],
    cleanup: cleanup?.state.cleanup,
  }));

  const { workflowId, runId } = workflowInfo();
  const settings = await pipeline_settings();
  const serving = servingActivities(settings);
  const stages = sparkJobActivities(settings);
  const backfillDatesPerSession = settings.backfillDatesPerSession ?? RECORDED_DATES_PER_SESSION;
  const dates = all.slice(0, backfillDatesPerSession);
  // Each run of the chain records its own session; the result adds them up.
  const cost = new RunCostRecord(settings.clusterPrices, { from: dates[0]!, to: dates.at(-1)! });
  outcomes = dates.map((batchDate) => ({ batchDate, status: 'pending' }));

  /** Runs one step of one date; a failure marks the date failed and returns undefined. */
  const attempt = async <T>(o: DateOutcome, step: StepName, fn: (run: StepInput) => Promise<T>) => {
    if (o.status === 'failed') return undefined;
    Object.assign(state, { current: o.batchDate, step });
    try {
      return await fn({ batchDate: o.batchDate, workflowId, runId });
    } catch (err) {
      if (CancellationScope.current().consideredCancelled) throw err;
      Object.assign(o, { status: 'failed', failedStep: step, error: failureMessage(err) });
      return undefined;
    }
  };

  // ── infra setup + spark processing for every date, one cluster session ──
  for (const o of outcomes) await attempt(o, 'check_s3_input', acts.check_s3_input);
  if (outcomes.some((o) => o.status !== 'failed')) {
    const release = await acquireClusterLock(acts.request_cluster_lock, (waitingFor) => {
      state.waitingFor = waitingFor;
    });
    const first = { batchDate: dates[0]!, workflowId, runId };
    let instances: string[] = [];
    let workers: number | undefined;
    const clusterStartedAt = Date.now();
    metrics.clusterSessionStarted(clusterStartedAt);
    try {
      const cluster = await acts.start_cluster(first);
      instances = [cluster.masterInstanceId, ...cluster.workerInstanceIds];
      workers = cluster.workerInstanceIds.length;
      await acts.start_spark(first);
      await allOrCancelSiblings([() => acts.download_code(first), () => acts.install_deps(first)]);
      for (const o of outcomes) {
        await attempt(o, 'run_stage1', stages.run_stage1);
        await attempt(o, 'check_s3_stage1_out', acts.check_s3_stage1_out);
        await attempt(o, 'run_stage2', stages.run_stage2);
        await attempt(o, 'check_s3_stage2_out', acts.check_s3_stage2_out);
      }
    } catch (err) {
      // The session itself failed (the cluster did not come up): every date still pending fails with it.
      for (const o of outcomes) {
        if (o.status === 'pending') Object.assign(o, { status: 'failed', error: failureMessage(err) });
      }
      if (CancellationScope.current().consideredCancelled) throw err;
    } finally {
      await CancellationScope.nonCancellable(async () => {
        cleanup = new Progress(first.batchDate, workflowId, runId, ['stop_spark', 'stop_cluster'], false);
        const alert = (n: NotifyInput) =>
          acts.notify_slack(n).then(
            () => undefined,
            () => undefined,
          );
        await stopSparkAndCluster(cleanup, first, cleanupTiming(settings), instances, alert);
        const sessionSeconds = (Date.now() - clusterStartedAt) / 1000;
        cost.record(sessionSeconds, workers);
        metrics.clusterSessionEnded(sessionSeconds);
        await release();
      });
    }
  }

  // ── serving for each date ──
  for (const o of outcomes) {
    const load = await attempt(o, 'load_to_rdb', serving.load_to_rdb);
    await attempt(o, 'refresh_views', serving.refresh_views);
    await attempt(o, 'send_email_report', (run) =>
      serving.send_email_report({ ...run, quality: load?.quality, cost: cost.settle() }),
    );
    if (o.status === 'pending') Object.assign(o, { status: 'done', rowsLoaded: load?.rowsLoaded });
  }
  Object.assign(state, { current: undefined, step: undefined });
  const session = cost.settle();
  const spent = {
    clusterUpSeconds: (input.spent?.clusterUpSeconds ?? 0) + session.clusterUpSeconds,
    clusterCostUsd: addKnown(input.spent ? input.spent.clusterCostUsd : 0, session.clusterCostUsd),
  };

  const rest = all.slice(dates.length);
  if (rest.length > 0) {
    await continueAsNew<typeof potholeBackfill>({
      ...input,
      remaining: rest,
      outcomes: [...previous, ...outcomes],
      spent,
    });
  }
  return {
    from: input.from,
    to: input.to,
    outcomes: [...previous, ...outcomes],
    cleanup: cleanup?.state.cleanup,
    ...spent,
  };
}

/** A sum of costs that stays unknown once one of them is. */
const addKnown = (a: number | null, b: number | null) =>
  a === null || b === null ? null : Math.round((a + b) * 10_000) / 10_000;
