/**
 * Check 2: the Temporal server answers, the namespace exists and keeps closed runs for a month, and both
 * schedules exist, are not paused and start their workflows on the task queue the workers serve.
 */
import { isGrpcServiceError, ScheduleNotFoundError, type Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { connectClient } from '../../temporal/client';
import { SCHEDULE_ID, WATCHDOG_SCHEDULE_ID } from '../schedule';
import { ok, problem, skipped, type Check, type CheckResult } from './check';

/** gRPC status NOT_FOUND. */
const NOT_FOUND = 5;

/**
 * `pothole status` of an ended run, `pothole cost` and the report's month-to-date total read closed runs from
 * Temporal: a month of them must still be there.
 */
const MIN_RETENTION_DAYS = 31;
const DAY_MS = 86_400_000;

const UNREACHABLE_FIX = 'start the Temporal server (locally: npm run stack:up) or fix TEMPORAL_ADDRESS';

export const temporalCheck: Check = {
  name: 'temporal',
  needs: ['temporal'],
  unreachableFix: UNREACHABLE_FIX,
  async run(ctx) {
    const config = ctx.section('temporal');
    const scheduleNames = [SCHEDULE_ID, WATCHDOG_SCHEDULE_ID].map((id) => `schedule ${id}`);
    let client: Client;
    try {
      client = await connectClient(config);
    } catch (err) {
      return [
        problem('temporal', (err as Error).message, UNREACHABLE_FIX),
        ...scheduleNames.map((n) => skipped(n, 'the Temporal server is not reachable')),
      ];
    }
    ctx.onClose(() => client.connection.close());
    let retentionMs: number | undefined;
    try {
      const described = await client.workflowService.describeNamespace({
        namespace: config.TEMPORAL_NAMESPACE,
      });
      retentionMs = optionalTsToMs(described.config?.workflowExecutionRetentionTtl);
    } catch (err) {
      if (!(isGrpcServiceError(err) && err.code === NOT_FOUND)) throw err;
      return [
        problem(
          'temporal',
          `${config.TEMPORAL_ADDRESS} answers but has no namespace ${config.TEMPORAL_NAMESPACE}`,
          `fix TEMPORAL_NAMESPACE, or create it: temporal operator namespace create --namespace ${config.TEMPORAL_NAMESPACE}`,
        ),
        ...scheduleNames.map((n) => skipped(n, `the namespace ${config.TEMPORAL_NAMESPACE} does not exist`)),
      ];
    }
    const where = `${config.TEMPORAL_ADDRESS} answers; namespace ${config.TEMPORAL_NAMESPACE}`;
    const kept = retentionMs === undefined ? 'for an unknown time' : `for ${formatDays(retentionMs)}`;
    const namespace =
      retentionMs !== undefined && retentionMs < MIN_RETENTION_DAYS * DAY_MS
        ? problem(
            'temporal',
            `${where} keeps closed runs only ${formatDays(retentionMs)}: pothole status, pothole cost and the ` +
              "report's month-to-date total cannot see older runs",
            `temporal operator namespace update --namespace ${config.TEMPORAL_NAMESPACE} --retention ${MIN_RETENTION_DAYS * 24}h`,
          )
        : ok('temporal', `${where} exists, keeps closed runs ${kept}`);
    return [
      namespace,
      await checkSchedule(client, SCHEDULE_ID, config.TEMPORAL_TASK_QUEUE),
      await checkSchedule(client, WATCHDOG_SCHEDULE_ID, config.TEMPORAL_TASK_QUEUE),
    ];
  },
};

async function checkSchedule(client: Client, id: string, taskQueue: string): Promise<CheckResult> {
  const name = `schedule ${id}`;
  let d;
  try {
    d = await client.schedule.getHandle(id).describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    return problem(name, 'does not exist', 'pothole schedule create (creates whichever schedule is missing)');
  }
  if (d.state.paused) {
    return problem(
      name,
      `is paused${d.state.note ? ` (note: ${d.state.note})` : ''}: nothing starts`,
      `temporal schedule toggle --unpause --schedule-id ${id} --reason "pothole doctor" ` +
        '(or pothole schedule unpause, which unpauses both schedules)',
    );
  }
  const action = d.action.type === 'startWorkflow' ? d.action : undefined;
  if (action && action.taskQueue !== taskQueue) {
    return problem(
      name,
      `starts ${action.workflowType} on task queue ${action.taskQueue}, but TEMPORAL_TASK_QUEUE is ${taskQueue}: ` +
        'no worker would pick the runs up',
      'pothole schedule update (with the TEMPORAL_TASK_QUEUE the workers use)',
    );
  }
  const next = d.info.nextActionTimes[0];
  return ok(name, `active, next run ${next ? next.toISOString() : 'not planned'}`);
}

const formatDays = (ms: number): string => {
  const days = ms / DAY_MS;
  const n = Number.isInteger(days) ? String(days) : days.toFixed(1);
  return `${n} day${n === '1' ? '' : 's'}`;
};
