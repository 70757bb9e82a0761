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
import { STEPS, type StepName } from '../steps';
import type { PipelineProgress, StepProgress } from '../types';

export const progressQuery = defineQuery<PipelineProgress>('progress');

export class Progress {
  readonly state: PipelineProgress;

  constructor(batchDate: string, workflowId: string, runId: string, steps: readonly StepName[] = STEPS) {
    this.state = {
      batchDate,
      workflowId,
      runId,
      clusterUp: false,
      steps: steps.map((step) => ({ step, status: 'pending' })),
    };
    setHandler(progressQuery, () => this.state);
  }

  get(step: StepName): StepProgress {
    const found = this.state.steps.find((s) => s.step === step);
    if (!found) throw new Error(`unknown step ${step}`);
    return found;
  }

  skip(step: StepName, detail = 'skipped'): void {
    Object.assign(this.get(step), { status: 'skipped', detail });
  }

  /** Runs one step, recording its status, times and a one-line detail from its result. */
  async run<T>(step: StepName, fn: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
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

  durations(): Partial<Record<StepName, number>> {
    const out: Partial<Record<StepName, number>> = {};
    for (const s of this.state.steps) {
      if (s.startedAt && s.endedAt) out[s.step] = (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000;
    }
    return out;
  }

  firstFailure(): StepProgress | undefined {
    return this.state.steps.find((s) => s.status === 'failed');
  }
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
