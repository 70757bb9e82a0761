/**
 * A run's steps read back from its event history: what `pothole status` shows for a run that has ended, when no
 * worker is there to answer the progress query (or for a run that is stuck without one).
 */
import type { temporal } from '@temporalio/proto';
import { isStepName, STEPS } from '../steps';
import type { StepProgress } from '../types';

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
      if (!isStepName(step)) continue;
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
  return STEPS.map((step) => latest.get(step) ?? { step, status: 'pending' });
}
