/**
 * potholePipeline: the nightly batch, step for step the original Airflow DAG.
 *
 *   infra setup       check_s3_input → start_cluster → start_spark → (download_code ∥ install_deps)
 *   spark processing  run_stage1 → check_s3_stage1_out → run_stage2 → check_s3_stage2_out
 *   cleanup           stop_spark → stop_cluster      always once start_cluster was reached, also on cancel
 *   serving           load_to_rdb → refresh_views → send_email_report      (the cluster is already off)
 *                     load_complaints between load_to_rdb and refresh_views when COMPLAINTS_NIGHTLY is on;
 *                     its failure is a warning in the result and on Slack, the run goes on
 */
import {
  CancellationScope,
  isCancellation,
  patched,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { addDays, STEPS, type RunStepName, type StepName } from '../shared/steps';
import type {
  CleanupOutcome,
  LoadComplaintsResult,
  LoadResult,
  NotifyInput,
  QualityFindings,
  StepInput,
} from '../shared/types';
import { acts, servingActivities, sparkJobActivities } from './activities';
import { cleanupTiming, stopSparkAndCluster } from './cleanup';
import { acquireClusterLock } from './cluster-lock';
import { RunCostRecord } from './cost';
import { resolveInput, type PipelineInput } from './input';
import * as metrics from './metrics';
import { failureMessage, Progress } from './progress';
import { allOrCancelSiblings } from './siblings';

export interface PipelineResult {
  batchDate: string;
  stepSeconds: Partial<Record<RunStepName, number>>;
  clusterUpSeconds: number;
  /** clusterUpSeconds × the instances' hourly prices; null when unknown, absent in runs recorded before it. */
  clusterCostUsd?: number | null;
  rowsLoaded: number | null;
  quality: QualityFindings | null;
  /** What load_complaints loaded, when it ran and succeeded (absent in runs recorded before it existed). */
  complaints?: LoadComplaintsResult | null;
  /** Optional steps that failed without failing the run, each with its error. */
  warnings?: string[];
  emailSent: boolean;
  /** What became of the cluster: stopped (after how many attempts), or never started. */
  cleanup: CleanupOutcome;
}

type SimpleStep = Exclude<StepName, 'send_email_report' | 'load_to_rdb' | 'refresh_views'>;

const { pipeline_settings } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });

export async function potholePipeline(input?: PipelineInput): Promise<PipelineResult> {
  const { batchDate, fromStep } = resolveInput(input);
  const { workflowId, runId } = workflowInfo();
  const run: StepInput = { batchDate, workflowId, runId };
  const progress = new Progress(batchDate, workflowId, runId);
  const settings = await pipeline_settings();
  if (settings.complaints) progress.add('load_complaints');
  const serving = servingActivities(settings);
  const steps = { ...acts, ...sparkJobActivities(settings) };
  const cost = new RunCostRecord(settings.clusterPrices, { batchDate });
  const startsAfter = (s: StepName) => STEPS.indexOf(fromStep) > STEPS.indexOf(s);
  const step = (name: SimpleStep) =>
    startsAfter(name) ? progress.skip(name) : progress.run(name, () => steps[name](run) as Promise<unknown>);

  const result: PipelineResult = {
    batchDate,
    stepSeconds: {},
    clusterUpSeconds: 0,
    clusterCostUsd: 0,
    rowsLoaded: null,
    quality: null,
    complaints: null,
    warnings: [],
    emailSent: false,
    cleanup: { status: 'not-needed', attempts: 0, instances: [], stoppedInstances: [] },
  };
  progress.state.cleanup = result.cleanup;
  let load: LoadResult | undefined;
  let instances: string[] = [];
  let workers: number | undefined;

  try {
    if (!startsAfter('check_s3_stage2_out')) {
      // What the first step reads must exist before anything is started.
      if (startsAfter('run_stage1'))
        await progress.run('check_s3_stage1_out', () => acts.check_s3_stage1_out(run));
      await step('check_s3_input');

      const releaseLock = await acquireClusterLock(acts.request_cluster_lock, (waitingFor) => {
        progress.state.waitingFor = waitingFor;
      });
      const clusterStartedAt = Date.now();
      metrics.clusterSessionStarted(clusterStartedAt);
      try {
        // ── infra setup ──
        progress.state.clusterUp = true;
        const cluster = await progress.run('start_cluster', () => acts.start_cluster(run));
        instances = [cluster.masterInstanceId, ...cluster.workerInstanceIds];
        workers = cluster.workerInstanceIds.length;
        await progress.run('start_spark', () => acts.start_spark(run));
        await allOrCancelSiblings([
          () => progress.run('download_code', () => acts.download_code(run)),
          () => progress.run('install_deps', () => acts.install_deps(run)),
        ]);
        // ── spark processing ──
        await step('run_stage1');
        await step('check_s3_stage1_out');
        await step('run_stage2');
        await step('check_s3_stage2_out');
      } finally {
        // ── cleanup: always, even when cancelled ──
        await CancellationScope.nonCancellable(async () => {
          result.cleanup = await stopSparkAndCluster(
            progress,
            run,
            cleanupTiming(settings),
            instances,
            notify,
          );
          result.clusterUpSeconds = (Date.now() - clusterStartedAt) / 1000;
          result.clusterCostUsd = cost.record(result.clusterUpSeconds, workers).clusterCostUsd;
          metrics.clusterSessionEnded(result.clusterUpSeconds);
          await releaseLock();
        });
      }
    } else {
      for (const s of STEPS.slice(0, STEPS.indexOf('load_to_rdb'))) progress.skip(s);
      if (fromStep === 'load_to_rdb')
        await progress.run('check_s3_stage2_out', () => acts.check_s3_stage2_out(run));
    }

    // ── serving ──
    if (!startsAfter('load_to_rdb')) {
      load = await progress.run('load_to_rdb', () => serving.load_to_rdb(run));
      Object.assign(result, { rowsLoaded: load.rowsLoaded, quality: load.quality });
      metrics.loaded(load);
    } else progress.skip('load_to_rdb');
    if (settings.complaints && patched('load-complaints')) {
      if (startsAfter('load_to_rdb')) progress.skip('load_complaints');
      else await loadComplaints(progress, serving, run, settings.complaints.lookbackDays, result);
    }
    if (!startsAfter('refresh_views')) await progress.run('refresh_views', () => serving.refresh_views(run));
    else progress.skip('refresh_views');
    const email = await progress.run('send_email_report', () =>
      serving.send_email_report({ ...run, quality: load?.quality, cost: cost.settle() }),
    );
    result.emailSent = email.sent;
  } catch (err) {
    cost.settle();
    metrics.runEnded(isCancellation(err) ? 'cancelled' : 'failed');
    if (!isCancellation(err)) await notifyEnd(progress, run, 'failure', result, err);
    else if (patched('announce-cancelled-runs')) await notifyEnd(progress, run, 'cancelled', result);
    throw err;
  }
  result.stepSeconds = progress.durations();
  metrics.runEnded('succeeded');
  await notifyEnd(progress, run, 'success', result);
  return result;
}

/**
 * The optional load_complaints: the last `lookbackDays` days ending on the batch date (complaints arrive late).
 * A failure becomes a warning of the run's result; only a cancellation goes on up.
 */
async function loadComplaints(
  progress: Progress,
  serving: ReturnType<typeof servingActivities>,
  run: StepInput,
  lookbackDays: number,
  result: PipelineResult,
): Promise<void> {
  const range = { from: addDays(run.batchDate, 1 - lookbackDays), to: run.batchDate };
  try {
    result.complaints = await progress.run('load_complaints', () =>
      serving.load_complaints({ ...run, ...range }),
    );
  } catch (err) {
    if (isCancellation(err)) throw err;
    result.warnings?.push(
      `load_complaints failed (${range.from}..${range.to}), the repair priority has no new complaints: ${failureMessage(err)}`,
    );
  }
}

/** How the run ended, with its cleanup's outcome, to Slack. */
function notifyEnd(
  progress: Progress,
  run: StepInput,
  kind: 'failure' | 'success' | 'cancelled',
  result: PipelineResult,
  err?: unknown,
) {
  return notify({
    kind,
    ...run,
    step: kind === 'failure' ? progress.firstFailure()?.step : undefined,
    error: err === undefined ? undefined : failureMessage(err),
    durationSeconds: (Date.now() - workflowInfo().startTime.getTime()) / 1000,
    rowsLoaded: kind === 'success' ? (result.rowsLoaded ?? undefined) : undefined,
    quality: kind === 'success' ? (result.quality ?? undefined) : undefined,
    ...(kind === 'success' && result.warnings?.length ? { warnings: result.warnings } : {}),
    cleanup: result.cleanup,
    clusterUpSeconds: result.clusterUpSeconds,
    clusterCostUsd: result.clusterCostUsd,
  });
}

/** A notification never fails or holds up the run, and is sent even while the run is being cancelled. */
async function notify(input: NotifyInput): Promise<void> {
  await CancellationScope.nonCancellable(() => acts.notify_slack(input).catch(() => undefined));
}
