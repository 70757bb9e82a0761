/**
 * pothole run | status | cancel | list | backfill: what replaced run_pipeline.sh, trigger_dag.py and the Airflow
 * buttons. Runs are never terminated: termination skips the cleanup that stops the cluster.
 */
import {
  CancelledFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { TemporalConfig } from '../config';
import {
  ENTRY_STEPS,
  OPTIONAL_STEP_NAMES,
  STEPS,
  daysInRange,
  isStepName,
  runSteps,
  validateBatchDate,
  workflowIdFor,
  yesterdayInSeoul,
  type StepName,
} from '../shared/steps';
import type { PipelineProgress } from '../shared/types';
import type { BackfillSummary, DateOutcome } from '../workflows/backfill';
import type { PipelineResult } from '../workflows/pipeline';
import { describeCleanup } from '../shared/cleanup-outcome';
import { formatUsd, type RunCost } from '../cost/run-cost';
import { runCost } from '../cost/from-temporal';
import { batchDateOf } from '../runs/batch-date';
import { runUrl } from '../temporal/client';
import { cleanupFromHistory, stepsFromHistory } from '../runs/history';
import { duration, secondsBetween, table } from './render';

export class UsageError extends Error {}

export function parseDate(value: string | undefined, what = 'DATE'): string {
  const v = validateBatchDate(value ?? yesterdayInSeoul(new Date()));
  if (typeof v !== 'string') throw new UsageError(`${what}: ${v.error}`);
  return v;
}

export function parseStep(value: string | undefined): StepName | undefined {
  if (value === undefined) return undefined;
  if (!isStepName(value) || !ENTRY_STEPS.includes(value)) {
    throw new UsageError(`--from: unknown step "${value}"; one of: ${ENTRY_STEPS.join(', ')}`);
  }
  return value;
}

/** What must already exist in S3 for a run that starts at `from`, or undefined for a full run. */
export function precondition(from: StepName | undefined): 'stage1' | 'stage2' | undefined {
  if (!from) return undefined;
  const i = STEPS.indexOf(from);
  if (i >= STEPS.indexOf('load_to_rdb')) return 'stage2';
  if (i > STEPS.indexOf('run_stage1')) return 'stage1';
  return undefined;
}

export interface Out {
  json: boolean;
  print(human: string, json?: unknown): void;
}

export async function startRun(
  client: Client,
  config: TemporalConfig,
  out: Out,
  args: { batchDate: string; fromStep?: StepName; force: boolean },
): Promise<WorkflowHandle> {
  const workflowId = workflowIdFor(args.batchDate);
  const latest = await findRun(client, args.batchDate).catch((err: unknown) => {
    if (err instanceof UsageError) return undefined;
    throw err;
  });
  if (latest?.desc.status.name === 'RUNNING') {
    if (!args.force) {
      throw new UsageError(
        `a run for ${args.batchDate} is already in progress (${latest.desc.workflowId}); ` +
          `follow it with "pothole status ${args.batchDate}", or use --force to cancel it and start again`,
      );
    }
    out.print(`cancelling the run in progress for ${args.batchDate} and waiting for its cleanup…`);
    await cancelAndWait(latest.handle);
    out.print('previous run cancelled; its cleanup has finished');
  }
  try {
    const handle = await client.workflow.start('potholePipeline', {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowId,
      args: [{ batchDate: args.batchDate, ...(args.fromStep ? { fromStep: args.fromStep } : {}) }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    });
    const url = runUrl(config, workflowId, handle.firstExecutionRunId);
    out.print(`started ${workflowId}${args.fromStep ? ` from ${args.fromStep}` : ''}\n  ${url}`, {
      workflowId,
      runId: handle.firstExecutionRunId,
      batchDate: args.batchDate,
      url,
    });
    return handle;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new UsageError(
        `a run for ${args.batchDate} was started by someone else just now (${workflowId})`,
      );
    }
    throw err;
  }
}

/** Requests cancellation and waits until the workflow has closed, i.e. its cleanup (stop_cluster) is done. */
async function cancelAndWait(handle: WorkflowHandle): Promise<void> {
  await handle.cancel();
  await handle.result().catch((err: unknown) => {
    if (err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure) return;
    if (err instanceof WorkflowFailedError) return; // it failed while cancelling: closed either way
    throw err;
  });
}

/** Prints each step's transitions until the run ends; returns the process exit code. */
export async function follow(handle: WorkflowHandle, out: Out): Promise<number> {
  const seen = new Map<string, string>();
  let waitingShown: string | undefined;
  const poll = async () => {
    const p = await handle.query<PipelineProgress>('progress').catch(() => undefined);
    if (!p) return;
    if (p.waitingFor !== waitingShown) {
      waitingShown = p.waitingFor;
      if (p.waitingFor && !out.json) out.print(`  waiting: ${p.waitingFor}`);
    }
    for (const s of p.steps) {
      if (seen.get(s.step) === s.status || s.status === 'pending') continue;
      seen.set(s.step, s.status);
      if (!out.json) {
        const took = s.status === 'running' ? '' : duration(secondsBetween(s.startedAt, s.endedAt));
        out.print(
          `  ${s.step.padEnd(20)} ${s.status.padEnd(8)} ${took.padStart(7)}  ${s.detail ?? ''}`.trimEnd(),
        );
      }
    }
  };
  const timer = setInterval(() => void poll(), 1000);
  try {
    const result = (await handle.result()) as PipelineResult;
    await poll();
    out.print(summary(result), result);
    return 0;
  } catch (err) {
    await poll();
    const cause = err instanceof WorkflowFailedError ? err.cause : err;
    const message = cause instanceof CancelledFailure ? 'cancelled' : deepestMessage(cause);
    out.print(`run ended: ${message}`, { error: message });
    return 1;
  } finally {
    clearInterval(timer);
  }
}

function deepestMessage(err: unknown): string {
  let e = err as { cause?: unknown; message?: string } | undefined;
  while (e && e.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

function summary(r: PipelineResult): string {
  const rows = runSteps(OPTIONAL_STEP_NAMES)
    .filter((s) => r.stepSeconds[s] !== undefined)
    .map((s) => [s, duration(r.stepSeconds[s])]);
  return [
    `run for ${r.batchDate} finished`,
    table(['step', 'took'], rows),
    `cluster up: ${duration(r.clusterUpSeconds)}   rows loaded: ${r.rowsLoaded ?? '-'}   email sent: ${r.emailSent ? 'yes' : 'no'}` +
      `\ncluster: ${describeCleanup(r.cleanup)}`,
    ...(r.complaints
      ? [
          `complaints ${r.complaints.from}..${r.complaints.to}: ${r.complaints.loaded} new, ` +
            `${r.complaints.alreadyPresent} already stored, ${r.complaints.unmatched} off the network, ` +
            `${r.complaints.malformed} malformed (${r.complaints.fetched} fetched)`,
        ]
      : []),
    ...(r.quality?.warnings.length
      ? ['quality findings:', ...r.quality.warnings.map((w) => `  - ${w}`)]
      : []),
    ...(r.warnings?.length ? ['warnings:', ...r.warnings.map((w) => `  - ${w}`)] : []),
  ].join('\n');
}

/**
 * The run of a date: the one our CLI started (pothole-pipeline-<date>) or the nightly schedule's
 * (pothole-pipeline-scheduled-<slot>, its slot being 02:00 Asia/Seoul the next day = 17:00 UTC on the date),
 * whichever started last.
 */
async function findRun(client: Client, batchDate: string) {
  const candidates = [workflowIdFor(batchDate), `pothole-pipeline-scheduled-${batchDate}T17:00:00Z`];
  const found = [];
  for (const id of candidates) {
    const handle = client.workflow.getHandle(id);
    const desc = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (desc) found.push({ handle, desc });
  }
  found.sort((a, b) => b.desc.startTime.getTime() - a.desc.startTime.getTime());
  if (!found[0]) throw new UsageError(`no run found for ${batchDate} (looked for ${candidates.join(', ')})`);
  return found[0];
}

/** The progress query as a table, enriched with what only the server knows (attempts, heartbeats, retries). */
export async function showStatus(client: Client, out: Out, batchDate: string): Promise<void> {
  const { handle, desc } = await findRun(client, batchDate);
  const progress = await handle.query<PipelineProgress>('progress').catch(() => undefined);
  const cost = await runCost(client, desc);
  const pending = new Map(
    (desc.raw.pendingActivities ?? []).map((a) => [
      a.activityType?.name ?? '',
      { attempt: a.attempt ?? undefined, failure: a.lastFailure?.message ?? undefined },
    ]),
  );
  // An ended run (or one without a worker) has no one to answer the query: its history tells the same story.
  const events = progress ? [] : ((await handle.fetchHistory()).events ?? []);
  const steps = progress?.steps ?? stepsFromHistory(events);
  const cleanup = progress ? progress.cleanup : cleanupFromHistory(events);
  const rows = steps.map((s) => {
    const p = pending.get(s.step);
    return [
      s.step,
      s.status,
      duration(secondsBetween(s.startedAt, s.endedAt)),
      p?.attempt ?? s.attempt,
      p?.failure ? `retrying: ${p.failure}` : s.detail,
    ];
  });
  const head =
    `${desc.workflowId}  ${desc.status.name}  started ${desc.startTime.toISOString()}` +
    (progress?.waitingFor ? `\nwaiting: ${progress.waitingFor}` : '') +
    (progress
      ? `\ncluster up: ${progress.clusterUp ? 'yes' : 'no'}`
      : '\n(steps read from the run history)') +
    `\ncluster: ${describeCleanup(cleanup)}` +
    `\n${costLine(cost)}`;
  out.print(`${head}\n${table(['step', 'status', 'took', 'attempt', 'detail'], rows)}`, {
    workflowId: desc.workflowId,
    runId: desc.runId,
    status: desc.status.name,
    cleanup,
    cost: cost ?? null,
    progress: progress ?? { steps },
  });
}

export async function listRuns(client: Client, out: Out, last: number): Promise<void> {
  const rows: {
    workflowId: string;
    batchDate?: string;
    type: string;
    status: string;
    start: Date;
    close?: Date;
    cost?: RunCost;
  }[] = [];
  for await (const w of client.workflow.list({
    query: `WorkflowType = 'potholePipeline' OR WorkflowType = 'potholeBackfill'`,
    pageSize: last,
  })) {
    rows.push({
      workflowId: w.workflowId,
      batchDate: batchDateOf(w.workflowId),
      type: w.type,
      status: w.status.name,
      start: w.startTime,
      close: w.closeTime,
      cost: await runCost(client, w),
    });
    if (rows.length >= last) break;
  }
  rows.sort((a, b) => b.start.getTime() - a.start.getTime());
  out.print(
    table(
      ['date', 'workflow', 'status', 'started', 'took', 'cluster up', 'cost'],
      rows.map((r) => [
        r.batchDate ?? '',
        r.workflowId,
        r.status,
        r.start.toISOString().replace('T', ' ').slice(0, 19),
        duration(secondsBetween(r.start.toISOString(), r.close ?? new Date())),
        r.cost ? duration(r.cost.clusterUpSeconds) : '-',
        formatUsd(r.cost?.clusterCostUsd),
      ]),
    ),
    rows,
  );
}

/** "cluster up for 3m12s, cost $0.04"; "-" for what the run has not recorded (running, or recorded before). */
function costLine(cost: RunCost | undefined): string {
  return `cluster up for: ${cost ? duration(cost.clusterUpSeconds) : '-'}   cost: ${formatUsd(cost?.clusterCostUsd)}`;
}

export async function cancelRun(client: Client, out: Out, batchDate: string): Promise<void> {
  const { handle, desc } = await findRun(client, batchDate);
  if (desc.status.name !== 'RUNNING')
    throw new UsageError(`the run for ${batchDate} is not running (${desc.status.name})`);
  out.print(`cancelling ${desc.workflowId}; waiting for its cleanup (stop_spark, stop_cluster)…`);
  await cancelAndWait(handle);
  out.print('cancelled; cleanup finished', { workflowId: desc.workflowId, cancelled: true });
}

/**
 * A range's first and last date, refused when it is reversed or longer than MAX_RANGE_DAYS: a typo in a year
 * (2016 for 2026) would otherwise start a backfill of ten years. `names`: how the command calls the two ends.
 */
export function checkRange(
  from: string,
  to: string,
  maxDays: number,
  names: [string, string] = ['FROM', 'TO'],
): void {
  const [fromName, toName] = names;
  if (from > to) throw new UsageError(`${fromName} ${from} is after ${toName} ${to}`);
  const days = daysInRange(from, to);
  if (days > maxDays) {
    throw new UsageError(
      `${fromName} ${from} to ${toName} ${to} is ${days} days, more than MAX_RANGE_DAYS (${maxDays}): ` +
        'split the range, or raise MAX_RANGE_DAYS',
    );
  }
}

/** FROM and TO as dates, the range checked as checkRange does. */
export function parseRange(from: string, to: string, maxDays: number): { from: string; to: string } {
  const a = parseDate(from, 'FROM');
  const b = parseDate(to, 'TO');
  checkRange(a, b, maxDays);
  return { from: a, to: b };
}

export async function startBackfill(
  client: Client,
  config: TemporalConfig,
  out: Out,
  from: string,
  to: string,
): Promise<WorkflowHandle> {
  const workflowId = `pothole-backfill-${from}-${to}`;
  try {
    const handle = await client.workflow.start('potholeBackfill', {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowId,
      args: [{ from, to }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    });
    out.print(`started ${workflowId}\n  ${runUrl(config, workflowId, handle.firstExecutionRunId)}`, {
      workflowId,
    });
    return handle;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new UsageError(`a backfill of ${from}..${to} is already running (${workflowId})`);
    }
    throw err;
  }
}

export async function followBackfill(handle: WorkflowHandle, out: Out): Promise<number> {
  try {
    const s = (await handle.result()) as BackfillSummary;
    const failed = s.outcomes.filter((o) => o.status !== 'done');
    out.print(backfillTable(s.outcomes), s);
    return failed.length === 0 ? 0 : 1;
  } catch (err) {
    out.print(`backfill ended: ${deepestMessage(err)}`, { error: deepestMessage(err) });
    return 1;
  }
}

function backfillTable(outcomes: DateOutcome[]): string {
  return table(
    ['date', 'outcome', 'rows', 'detail'],
    outcomes.map((o) => [
      o.batchDate,
      o.status,
      o.rowsLoaded,
      o.failedStep ? `${o.failedStep}: ${o.error}` : o.error,
    ]),
  );
}
