/**
 * A run's steps read back from its event history: what `pothole status` shows for a run that has ended, when no
 * worker is there to answer the progress query (or for a run that is stuck without one).
 */
import type { temporal } from '@temporalio/proto';
import { lostInstanceLabels } from '../shared/cleanup-outcome';
import { isOptionalStepName, isStepName, runSteps, type OptionalStepName } from '../shared/steps';
import type { CleanupOutcome, StepProgress } from '../shared/types';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const time = (e: HistoryEvent): string | undefined => {
  const t = e.eventTime;
  if (!t?.seconds) return undefined;
  return new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
};

export function stepsFromHistory(events: HistoryEvent[]): StepProgress[] {
  const byScheduledId = new Map<string, StepProgress>();
  const latest = new Map<string, StepProgress>();
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const step = scheduled.activityType?.name;
      if (!isStepName(step) && !isOptionalStepName(step)) continue;
      const entry: StepProgress = { step, status: 'running', startedAt: time(e) };
      byScheduledId.set(String(e.eventId), entry);
      latest.set(step, entry);
      continue;
    }
    const ended =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    const started = e.activityTaskStartedEventAttributes;
    const id = String((ended ?? started)?.scheduledEventId ?? '');
    const entry = byScheduledId.get(id);
    if (!entry) continue;
    if (started) {
      entry.attempt = started.attempt ?? undefined;
      continue;
    }
    entry.endedAt = time(e);
    if (e.activityTaskCompletedEventAttributes) entry.status = 'done';
    else if (e.activityTaskCanceledEventAttributes)
      Object.assign(entry, { status: 'skipped', detail: 'cancelled' });
    else {
      const failure =
        e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskTimedOutEventAttributes?.failure;
      Object.assign(entry, { status: 'failed', detail: failure?.message?.split('\n')[0] });
    }
  }
  // Optional steps are shown when the run had them.
  const optional = [...latest.keys()].filter(isOptionalStepName) as OptionalStepName[];
  return runSteps(optional).map((step) => latest.get(step) ?? { step, status: 'pending' });
}

/** A JSON payload's value (our activities' results are JSON), or undefined. */
export function jsonPayload(p: temporal.api.common.v1.IPayload | undefined): unknown {
  if (!p?.data) return undefined;
  try {
    return JSON.parse(Buffer.from(p.data).toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The cleanup's outcome read back from a history: start_cluster's instances, stop_cluster's attempts and result.
 * A run that reached start_cluster but has no successful stop_cluster (terminated, say) left its cluster up.
 */
export function cleanupFromHistory(events: HistoryEvent[]): CleanupOutcome {
  const scheduled = new Map<string, string>();
  const outcome: CleanupOutcome = { status: 'not-needed', attempts: 0, instances: [], stoppedInstances: [] };
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const step = s.activityType?.name ?? '';
      scheduled.set(String(e.eventId), step);
      if (step === 'start_cluster' && outcome.status === 'not-needed') outcome.status = 'stopping';
      if (step === 'stop_cluster') outcome.attempts++;
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes;
    const failed = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    const step = scheduled.get(String((done ?? failed)?.scheduledEventId ?? ''));
    if (done && step === 'start_cluster') {
      const r = jsonPayload(done.result?.payloads?.[0]) as {
        masterInstanceId?: string;
        workerInstanceIds?: string[];
      };
      if (r?.masterInstanceId) outcome.instances = [r.masterInstanceId, ...(r.workerInstanceIds ?? [])];
    } else if (done && step === 'stop_cluster') {
      const r = jsonPayload(done.result?.payloads?.[0]) as
        { stopped?: string[]; lost?: { id: string; state: string }[] } | undefined;
      Object.assign(outcome, { status: 'stopped', stoppedInstances: r?.stopped ?? [] });
      if (r?.lost?.length) outcome.lostInstances = lostInstanceLabels(r.lost);
    } else if (failed && step === 'stop_cluster') {
      outcome.lastError = failed.failure?.message?.split('\n')[0] ?? undefined;
      if (failed.failure?.applicationFailureInfo?.nonRetryable) outcome.status = 'left-to-watchdog';
    } else if (failed && step === 'stop_spark') {
      outcome.sparkError = failed.failure?.message?.split('\n')[0] ?? undefined;
    }
  }
  return outcome;
}
