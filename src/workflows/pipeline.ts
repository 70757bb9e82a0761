/**
 * potholePipeline: the nightly batch, step for step the original Airflow DAG.
 *
 *   infra setup      check_s3_input → start_cluster → start_spark → (download_code ∥ install_deps)
 *   spark processing run_stage1 → check_s3_stage1_out → run_stage2 → check_s3_stage2_out
 *   cleanup          stop_spark → stop_cluster        always, once start_cluster was reached; also on cancel
 *   serving          load_to_rdb → refresh_views → send_email_report      (no cluster needed: it is already off)
 */
import { CancellationScope, isCancellation, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { STEPS, type StepName } from '../steps';
import type { LoadResult, QualityFindings, StepInput } from '../types';
import { acts, servingActivities } from './activities';
import { acquireClusterLock } from './cluster-lock';
import { resolveInput, type PipelineInput } from './input';
import { failureMessage, Progress } from './progress';

export interface PipelineResult {
  batchDate: string;
  stepSeconds: Partial<Record<StepName, number>>;
  clusterUpSeconds: number;
  rowsLoaded: number | null;
  quality: QualityFindings | null;
  emailSent: boolean;
  cleanupSucceeded: boolean;
}

const { pipeline_settings } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });

export async function potholePipeline(input?: PipelineInput): Promise<PipelineResult> {
  const { batchDate, fromStep } = resolveInput(input);
  const { workflowId, runId } = workflowInfo();
  const run: StepInput = { batchDate, workflowId, runId };
  const progress = new Progress(batchDate, workflowId, runId);
  const skipsBefore = (step: StepName) => STEPS.indexOf(step) < STEPS.indexOf(fromStep);
  const { servingTaskQueue } = await pipeline_settings();
  const serving = servingActivities(servingTaskQueue);

  const result: PipelineResult = {
    batchDate,
    stepSeconds: {},
    clusterUpSeconds: 0,
    rowsLoaded: null,
    quality: null,
    emailSent: false,
    cleanupSucceeded: true,
  };
  let load: LoadResult | undefined;

  try {
    // ── infra setup + spark processing, holding the cluster lock ──
    if (skipsBefore('load_to_rdb')) {
      await checkWhatTheFirstStepNeeds(progress, run, fromStep);
      const release = await acquireClusterLock(acts.request_cluster_lock, (holder) => {
        progress.state.waitingFor = holder && `cluster in use by ${holder}`;
      });
      let clusterStartedAt: number | undefined;
      try {
        clusterStartedAt = Date.now();
        await progress.run(
          'start_cluster',
          () => acts.start_cluster(run),
          (c) => `master ${c.masterPrivateIp}`,
        );
        progress.state.clusterUp = true;
        await progress.run(
          'start_spark',
          () => acts.start_spark(run),
          (s) => `${s.aliveWorkers} workers alive`,
        );
        await Promise.all([
          progress.run(
            'download_code',
            () => acts.download_code(run),
            (d) => `${d.files} files`,
          ),
          progress.run(
            'install_deps',
            () => acts.install_deps(run),
            (d) => `${d.packages.join(' ')} on ${d.hosts} hosts`,
          ),
        ]);
        for (const [job, check] of [
          ['run_stage1', 'check_s3_stage1_out'],
          ['run_stage2', 'check_s3_stage2_out'],
        ] as const) {
          if (!skipsBefore(job))
            await progress.run(
              job,
              () => acts[job](run),
              (s) => `${s.seconds.toFixed(0)} s`,
            );
          else progress.skip(job);
          if (!skipsBefore(check))
            await progress.run(
              check,
              () => acts[check](run),
              (c) => `${c.objects} files`,
            );
          else progress.skip(check);
        }
      } finally {
        // ── cleanup: always, even when cancelled ──
        await CancellationScope.nonCancellable(async () => {
          if (clusterStartedAt !== undefined) {
            result.cleanupSucceeded = await stopEverything(progress, run);
            result.clusterUpSeconds = (Date.now() - clusterStartedAt) / 1000;
            progress.state.clusterUp = !result.cleanupSucceeded;
          }
          await release();
        });
      }
    } else {
      for (const s of STEPS.slice(0, STEPS.indexOf('load_to_rdb'))) progress.skip(s);
      await progress.run(
        'check_s3_stage2_out',
        () => acts.check_s3_stage2_out(run),
        (c) => `${c.objects} files`,
      );
    }

    // ── serving ──
    load = await progress.run(
      'load_to_rdb',
      () => serving.load_to_rdb(run),
      (l) => `${l.rowsLoaded} rows`,
    );
    result.rowsLoaded = load.rowsLoaded;
    result.quality = load.quality;
    await progress.run(
      'refresh_views',
      () => serving.refresh_views(run),
      (r) => `${r.views.length} views`,
    );
    const email = await progress.run(
      'send_email_report',
      () => serving.send_email_report({ ...run, quality: load?.quality }),
      (e) => `sent to ${e.recipients.length}`,
    );
    result.emailSent = email.sent;
  } catch (err) {
    if (!isCancellation(err)) await notify(progress, run, 'failure', err);
    throw err;
  }
  result.stepSeconds = progress.durations();
  await notify(progress, run, 'success', undefined, result);
  return result;
}

/** Before anything is started: the data the first step reads must exist. */
async function checkWhatTheFirstStepNeeds(progress: Progress, run: StepInput, fromStep: StepName) {
  const stageIndex = STEPS.indexOf(fromStep);
  if (stageIndex <= STEPS.indexOf('run_stage1')) {
    await progress.run(
      'check_s3_input',
      () => acts.check_s3_input(run),
      (c) => `${c.objects} files`,
    );
  } else {
    // Resuming at stage 2: its input is stage 1's output.
    progress.skip('check_s3_input');
    await progress.run(
      'check_s3_stage1_out',
      () => acts.check_s3_stage1_out(run),
      (c) => `${c.objects} files`,
    );
  }
}

/** stop_spark then stop_cluster; a failing stop_spark never prevents stop_cluster. */
async function stopEverything(progress: Progress, run: StepInput): Promise<boolean> {
  let ok = true;
  try {
    await progress.run('stop_spark', () => acts.stop_spark(run));
  } catch {
    ok = false;
  }
  try {
    await progress.run(
      'stop_cluster',
      () => acts.stop_cluster(run),
      (s) => `${s.stopped.length} stopped`,
    );
  } catch {
    ok = false;
  }
  return ok;
}

async function notify(
  progress: Progress,
  run: StepInput,
  kind: 'failure' | 'success',
  err?: unknown,
  result?: PipelineResult,
) {
  const failed = progress.firstFailure();
  await CancellationScope.nonCancellable(() =>
    acts
      .notify_slack({
        kind,
        ...run,
        step: failed?.step,
        attempt: failed?.attempt,
        error: err === undefined ? undefined : failureMessage(err),
        durationSeconds: (Date.now() - workflowInfo().startTime.getTime()) / 1000,
        rowsLoaded: result?.rowsLoaded ?? undefined,
        quality: result?.quality ?? undefined,
      })
      .catch(() => undefined),
  );
}
