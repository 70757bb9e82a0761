/**
 * The nightly Temporal Schedule `pothole-nightly`: 02:00 Asia/Seoul (17:00 UTC the day before), never over a
 * running run, and runs missed while the server was down are caught up within a day.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import type { TemporalConfig } from '../config';
import type { Out } from './runs';
import { UsageError } from './runs';

export const SCHEDULE_ID = 'pothole-nightly';

export function scheduleOptions(config: TemporalConfig): ScheduleOptions {
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

export async function scheduleCommand(client: Client, config: TemporalConfig, out: Out, action: string) {
  const handle = client.schedule.getHandle(SCHEDULE_ID);
  const notFound = (err: unknown) => {
    if (err instanceof ScheduleNotFoundError) {
      throw new UsageError(
        `schedule ${SCHEDULE_ID} does not exist; create it with "pothole schedule create"`,
      );
    }
    throw err;
  };
  switch (action) {
    case 'create': {
      await client.schedule.create(scheduleOptions(config)).catch((err: unknown) => {
        if (err instanceof ScheduleAlreadyRunning) {
          throw new UsageError(`schedule ${SCHEDULE_ID} already exists; use "pothole schedule update"`);
        }
        throw err;
      });
      return describe();
    }
    case 'update': {
      const wanted = scheduleOptions(config);
      await handle
        .update((prev) => ({ ...prev, spec: wanted.spec, action: wanted.action, policies: wanted.policies }))
        .catch(notFound);
      return describe();
    }
    case 'describe':
      return describe();
    case 'pause':
      await handle.pause('paused with pothole schedule pause').catch(notFound);
      return describe();
    case 'unpause':
      await handle.unpause('unpaused with pothole schedule unpause').catch(notFound);
      return describe();
    case 'trigger':
      await handle.trigger(ScheduleOverlapPolicy.SKIP).catch(notFound);
      out.print(
        `triggered ${SCHEDULE_ID}: a run for yesterday (Asia/Seoul) starts unless one is already running`,
        {
          triggered: true,
        },
      );
      return;
    case 'delete':
      await handle.delete().catch(notFound);
      out.print(`deleted ${SCHEDULE_ID}`, { deleted: true });
      return;
    default:
      throw new UsageError(
        `unknown schedule action "${action}"; one of: create, update, describe, pause, unpause, trigger, delete`,
      );
  }

  async function describe() {
    const d = await handle.describe().catch(notFound);
    const cal = d.spec.calendars?.[0];
    const next = d.info.nextActionTimes[0];
    const recent = d.info.recentActions.at(-1);
    const human = [
      `schedule ${SCHEDULE_ID}${d.state.paused ? ' (PAUSED)' : ''}`,
      `  when:      ${cal ? JSON.stringify(cal.hour) + ':' + JSON.stringify(cal.minute) : '?'} ${d.spec.timezone ?? 'UTC'}`,
      `  workflow:  ${d.action.type === 'startWorkflow' ? d.action.workflowType : '?'} on ${
        d.action.type === 'startWorkflow' ? d.action.taskQueue : '?'
      }`,
      `  overlap:   ${d.policies.overlap}   catch-up window: ${d.policies.catchupWindow / 1000}s`,
      `  next run:  ${next?.toISOString() ?? '-'}`,
      `  last run:  ${recent ? `${recent.scheduledAt.toISOString()} → ${recent.action.workflow.workflowId}` : '-'}`,
    ].join('\n');
    out.print(human, {
      scheduleId: SCHEDULE_ID,
      paused: d.state.paused,
      spec: d.spec,
      policies: d.policies,
      nextActionTimes: d.info.nextActionTimes,
      recentActions: d.info.recentActions,
    });
  }
}
