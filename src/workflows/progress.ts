/**
 * The run's progress as the `progress` query shows it, and the step runner that keeps it current.
 * Workflow code: time comes from the workflow clock (Date in the sandbox is deterministic).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  defineQuery,
  isCancellation,
  setHandler,
} from '@temporalio/workflow';
import {
  isStepName,
  OPTIONAL_STEPS,
  STEPS,
  type OptionalStepName,
  type RunStepName,
  type StepName,
} from '../shared/steps';
import type { PipelineProgress, RefreshViewsResult, StepProgress } from '../shared/types';

const progressQuery = defineQuery<PipelineProgress>('progress');

export class Progress {
  readonly state: PipelineProgress;

  constructor(
    batchDate: string,
    workflowId: string,
    runId: string,
    steps: readonly RunStepName[] = STEPS,
    /** False for a part of a larger workflow that answers the progress query itself (a backfill's cleanup). */
    answersQuery = true,
  ) {
    this.state = {
      batchDate,
      workflowId,
      runId,
      clusterUp: false,
      steps: steps.map((step) => ({ step, status: 'pending' })),
    };
    if (answersQuery) setHandler(progressQuery, () => this.state);
  }

  /** Adds an optional step this run has, right after the step it follows. */
  add(step: OptionalStepName): void {
    if (this.state.steps.some((s) => s.step === step)) return;
    const after = this.state.steps.findIndex((s) => s.step === OPTIONAL_STEPS[step]);
    this.state.steps.splice(after + 1, 0, { step, status: 'pending' });
  }

  get(step: RunStepName): StepProgress {
    const found = this.state.steps.find((s) => s.step === step);
    if (!found) throw new Error(`unknown step ${step}`);
    return found;
  }

  skip(step: RunStepName, detail = 'skipped'): void {
    const entry = this.get(step);
    if (entry.status === 'pending') Object.assign(entry, { status: 'skipped', detail });
  }

  /** Runs one step, recording its status, times and a one-line detail from its result. */
  async run<T>(
    step: RunStepName,
    fn: () => Promise<T>,
    describe: (result: T) => string | undefined = detailOf,
  ): Promise<T> {
    const entry = this.get(step);
    Object.assign(entry, { status: 'running', startedAt: new Date().toISOString(), endedAt: undefined });
    try {
      const result = await fn();
      Object.assign(entry, { status: 'done', endedAt: new Date().toISOString(), detail: describe?.(result) });
      return result;
    } catch (err) {
      Object.assign(entry, {
        status: isCancellation(err) ? 'skipped' : 'failed',
        endedAt: new Date().toISOString(),
        detail: isCancellation(err) ? 'cancelled' : failureMessage(err),
      });
      throw err;
    }
  }

  durations(): Partial<Record<RunStepName, number>> {
    const out: Partial<Record<RunStepName, number>> = {};
    for (const s of this.state.steps) {
      if (s.startedAt && s.endedAt) out[s.step] = (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000;
    }
    return out;
  }

  /** The step whose failure failed the run: an optional step's failure does not fail it. */
  firstFailure(): (StepProgress & { step: StepName }) | undefined {
    return this.state.steps.find(
      (s): s is StepProgress & { step: StepName } => s.status === 'failed' && isStepName(s.step),
    );
  }
}

/** One line about a step's result, for the progress query. */
export function detailOf(result: unknown): string | undefined {
  const r = (result ?? {}) as Record<string, unknown>;
  if (typeof r.aliveWorkers === 'number')
    return `${r.aliveWorkers} of ${String(r.expectedWorkers)} workers alive`;
  if (typeof r.masterPrivateIp === 'string') return `master ${r.masterPrivateIp}`;
  if (typeof r.stage === 'string') {
    const silent = Number(r.masterStatusSilentSeconds ?? 0);
    return (
      `driver exited 0 after ${Number(r.seconds).toFixed(0)} s` +
      (silent > 0
        ? `; the master's status page was silent for up to ${silent} s (workers not checked then)`
        : '')
    );
  }
  if (typeof r.path === 'string') return `${String(r.objects)} files at ${r.path}`;
  if (typeof r.rowsLoaded === 'number') return `${r.rowsLoaded} rows`;
  if (Array.isArray(r.windows) && typeof r.loaded === 'number') {
    return `${r.loaded} new complaint(s) of ${String(r.fetched)} fetched (${String(r.alreadyPresent)} already stored, ${String(r.unmatched)} off the network, ${String(r.malformed)} malformed)`;
  }
  if (Array.isArray(r.views)) return refreshDetail(r as unknown as RefreshViewsResult);
  if (r.alreadySent) return `not sent again: this report was accepted earlier`;
  if (Array.isArray(r.recipients)) return `sent to ${r.recipients.length} recipient(s)`;
  if (Array.isArray(r.stopped)) return `${r.stopped.length} instance(s) stopped`;
  if (Array.isArray(r.packages)) return `${r.packages.join(' ')} on ${String(r.hosts)} host(s)`;
  if (typeof r.files === 'number') return `${r.files} files`;
  return undefined;
}

function refreshDetail(r: RefreshViewsResult): string {
  const parts = [`${r.views.length} views refreshed`];
  const v = r.repairChecks?.verdicts;
  if (v && Object.values(v).some((n) => n > 0))
    parts.push(
      `repairs being checked: ${Object.entries(v)
        .map(([verdict, n]) => `${n} ${verdict}`)
        .join(', ')}`,
    );
  const days = r.retired?.days ?? [];
  if (days.length > 0)
    parts.push(
      `retired ${days.length} day(s) past SERVING_KEEP_DAYS (${days[0]}${days.length > 1 ? ` … ${days.at(-1)}` : ''})`,
    );
  if (r.retired?.error)
    parts.push(`retiring old days failed, the next refresh tries again: ${firstLine(r.retired.error)}`);
  return parts.join('; ');
}

/** The most useful single line of a failure: the activity's own error rather than the wrapper. */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure || e instanceof Error) return firstLine(e.message);
  return firstLine(String(e));
}

const firstLine = (s: string): string => {
  const line = s.split('\n')[0] ?? '';
  return line.length > 300 ? line.slice(0, 300) + '…' : line;
};
