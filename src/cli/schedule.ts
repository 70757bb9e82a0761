/**
 * The Temporal Schedules `pothole schedule` manages together:
 * - `pothole-nightly`: 02:00 Asia/Seoul (17:00 UTC the day before), never over a running run, and runs missed while
 *   the server was down are caught up within a day;
 * - `pothole-watchdog`: every WATCHDOG_INTERVAL_SECONDS, stops a cluster left running with no run holding it
 *   (a terminated run, a crash of everything). Rounds never overlap; a missed round is not caught up.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
} from '@temporalio/client';
import type { TemporalConfig, WatchdogConfig } from '../config';
import type { Out } from './runs';
import { UsageError } from './runs';

export const SCHEDULE_ID = 'pothole-nightly';
export const WATCHDOG_SCHEDULE_ID = 'pothole-watchdog';

type ScheduleConfig = { temporal: TemporalConfig; watchdog: WatchdogConfig };

function scheduleOptions(config: TemporalConfig): ScheduleOptions {
  return {
    scheduleId: SCHEDULE_ID,
    spec: {
      calendars: [{ hour: 2, minute: 0, comment: 'nightly at 02:00 Asia/Seoul' }],
      timezone: 'Asia/Seoul',
    },
    action: {
      type: 'startWorkflow',
      workflowType: 'potholePipeline',
      // No input: the run processes "yesterday in Asia/Seoul" relative to its scheduled time.
      args: [],
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowId: 'pothole-pipeline-scheduled',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day', pauseOnFailure: false },
    state: { note: 'nightly pothole pipeline (managed by `pothole schedule`)' },
  };
}

export function watchdogScheduleOptions(config: ScheduleConfig): ScheduleOptions {
  return {
    scheduleId: WATCHDOG_SCHEDULE_ID,
    spec: {
      intervals: [{ every: `${config.watchdog.WATCHDOG_INTERVAL_SECONDS}s` }],
    },
    action: {
      type: 'startWorkflow',
      workflowType: 'potholeWatchdog',
      args: [],
      // The pipeline's task queue: the watchdog takes the same cluster lock as the runs.
      taskQueue: config.temporal.TEMPORAL_TASK_QUEUE,
      workflowId: 'pothole-watchdog',
    },
    // A late round is worthless once the next one is due: no catch-up beyond a minute.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute', pauseOnFailure: false },
    state: { note: 'stops a cluster left running with no run holding it (managed by `pothole schedule`)' },
  };
}

export async function scheduleCommand(client: Client, config: ScheduleConfig, out: Out, action: string) {
  const all = [scheduleOptions(config.temporal), watchdogScheduleOptions(config)];
  const handle = (id: string) => client.schedule.getHandle(id);
  const notFound = (id: string) => (err: unknown) => {
    if (err instanceof ScheduleNotFoundError) {
      throw new UsageError(`schedule ${id} does not exist; create it with "pothole schedule create"`);
    }
    throw err;
  };
  switch (action) {
    case 'create': {
      // Creates what is missing, so that an installation from before the watchdog gains it.
      const created: string[] = [];
      for (const options of all) {
        await client.schedule.create(options).then(
          () => created.push(options.scheduleId),
          (err: unknown) => {
            if (!(err instanceof ScheduleAlreadyRunning)) throw err;
          },
        );
      }
      if (created.length === 0) {
        throw new UsageError(
          `schedules ${all.map((o) => o.scheduleId).join(' and ')} already exist; use "pothole schedule update"`,
        );
      }
      return describe();
    }
    case 'update': {
      for (const wanted of all) {
        await handle(wanted.scheduleId)
          .update((prev) => ({
            ...prev,
            spec: wanted.spec,
            action: wanted.action,
            policies: wanted.policies,
          }))
          .catch(notFound(wanted.scheduleId));
      }
      return describe();
    }
    case 'describe':
      return describe();
    case 'pause':
    case 'unpause':
      for (const { scheduleId } of all) {
        const h = handle(scheduleId);
        const note = `${action}d with pothole schedule ${action}`;
        await (action === 'pause' ? h.pause(note) : h.unpause(note)).catch(notFound(scheduleId));
      }
      return describe();
    case 'trigger':
      // Only the nightly run: the watchdog runs often enough on its own.
      await handle(SCHEDULE_ID).trigger(ScheduleOverlapPolicy.SKIP).catch(notFound(SCHEDULE_ID));
      out.print(
        `triggered ${SCHEDULE_ID}: a run for yesterday (Asia/Seoul) starts unless one is already running`,
        { triggered: true },
      );
      return;
    case 'delete': {
      const deleted: string[] = [];
      for (const { scheduleId } of all) {
        await handle(scheduleId)
          .delete()
          .then(
            () => deleted.push(scheduleId),
            (err: unknown) => {
              if (!(err instanceof ScheduleNotFoundError)) throw err;
            },
          );
      }
      if (deleted.length === 0) throw new UsageError('no pothole schedule exists');
      out.print(`deleted ${deleted.join(', ')}`, { deleted: true, scheduleIds: deleted });
      return;
    }
    default:
      throw new UsageError(
        `unknown schedule action "${action}"; one of: create, update, describe, pause, unpause, trigger, delete`,
      );
  }

  async function describe() {
    const nightly = await handle(SCHEDULE_ID).describe().catch(notFound(SCHEDULE_ID));
    const watchdog = await handle(WATCHDOG_SCHEDULE_ID)
      .describe()
      .catch((err: unknown) => {
        if (err instanceof ScheduleNotFoundError) return undefined;
        throw err;
      });
    const cal = nightly.spec.calendars?.[0];
    const every = watchdog?.spec.intervals?.[0]?.every;
    const human = [
      `schedule ${SCHEDULE_ID}${nightly.state.paused ? ' (PAUSED)' : ''}`,
      `  when:      ${cal ? JSON.stringify(cal.hour) + ':' + JSON.stringify(cal.minute) : '?'} ${nightly.spec.timezone ?? 'UTC'}`,
      ...common(nightly),
      watchdog
        ? [
            `schedule ${WATCHDOG_SCHEDULE_ID}${watchdog.state.paused ? ' (PAUSED)' : ''}`,
            `  every:     ${every !== undefined ? `${Number(every) / 1000}s` : '?'}`,
            ...common(watchdog),
          ].join('\n')
        : `schedule ${WATCHDOG_SCHEDULE_ID} does not exist; "pothole schedule create" adds it`,
    ].join('\n');
    out.print(human, {
      ...summary(nightly),
      scheduleId: SCHEDULE_ID,
      watchdog: watchdog ? { ...summary(watchdog), scheduleId: WATCHDOG_SCHEDULE_ID } : null,
    });
  }
}

function common(d: ScheduleDescription): string[] {
  const next = d.info.nextActionTimes[0];
  const recent = d.info.recentActions.at(-1);
  const wf = d.action.type === 'startWorkflow' ? d.action : undefined;
  return [
    `  workflow:  ${wf?.workflowType ?? '?'} on ${wf?.taskQueue ?? '?'}`,
    `  overlap:   ${d.policies.overlap}   catch-up window: ${d.policies.catchupWindow / 1000}s`,
    `  next run:  ${next?.toISOString() ?? '-'}`,
    `  last run:  ${recent ? `${recent.scheduledAt.toISOString()} → ${recent.action.workflow.workflowId}` : '-'}`,
  ];
}

function summary(d: ScheduleDescription) {
  return {
    paused: d.state.paused,
    spec: d.spec,
    policies: d.policies,
    nextActionTimes: d.info.nextActionTimes,
    recentActions: d.info.recentActions,
  };
}
