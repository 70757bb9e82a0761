/**
 * Workflow interceptors that add the batch date and the step to the workflow's log lines (the SDK already adds
 * the workflow id and type), so a run's "Workflow failed" line reads like its activities' lines. The step is the
 * last activity the workflow scheduled; the date is the one that activity was given (a scheduled run starts
 * without input; a backfill goes through its dates), else the run's input.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';

function dateOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  const batchDate = (arg as { batchDate?: unknown } | null | undefined)?.batchDate;
  return typeof batchDate === 'string' ? batchDate : undefined;
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  // One factory call per workflow execution: this state is the run's own.
  let batchDate: string | undefined;
  let step: string | undefined;
  return {
    inbound: [
      {
        execute(input, next) {
          batchDate = dateOf(input.args[0]);
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity(input, next) {
          step = input.activityType;
          batchDate = dateOf(input.args[0]) ?? batchDate;
          return next(input);
        },
        scheduleLocalActivity(input, next) {
          step = input.activityType;
          batchDate = dateOf(input.args[0]) ?? batchDate;
          return next(input);
        },
        getLogAttributes(attrs, next) {
          return next({ ...attrs, ...(batchDate ? { batchDate } : {}), ...(step ? { step } : {}) });
        },
      },
    ],
  };
};
