/**
 * The worker's Prometheus endpoint (METRICS_PORT, off by default): the Temporal SDK's exporter serves, on one
 * `/metrics`, the SDK's own figures (temporal_*: task latencies, slots, polls…) and the pipeline's pothole_*:
 * per step attempt here (an activity interceptor), per run in src/workflows/metrics.ts, the cluster's instances
 * in src/activities/metrics.ts. Custom metrics keep their names as given (no temporal_ prefix) and carry the
 * labels namespace and taskQueue, plus activityType or workflowType. deploy/prometheus/alerts.yml and the
 * README's "Metrics" section are written against these names.
 */
import { CancelledFailure, type MetricMeter } from '@temporalio/common';
import type { ActivityInterceptorsFactory, TelemetryOptions } from '@temporalio/worker';
import { isOptionalStepName, isStepName } from '../shared/steps';
import { RUN_METRICS, type RunOutcome } from '../workflows/metrics';

export const STEP_METRICS = {
  duration: 'pothole_step_duration_seconds',
  attempts: 'pothole_step_attempts_total',
} as const;

export type StepOutcome = 'success' | 'failure' | 'cancelled';

const STEP_HELP = {
  duration: 'Seconds per step attempt, by outcome',
  attempts: 'Step attempts by outcome',
};

/** Bucket bounds in seconds: a check takes seconds, a Spark stage up to its timeout (2 h by default). */
const STEP_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800];
const CLUSTER_UP_BUCKETS = [300, 600, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 28800];
const LOCK_WAIT_BUCKETS = [1, 10, 60, 300, 600, 1800, 3600, 7200, 14400];

/** The Runtime's telemetry for METRICS_PORT; undefined (no listener at all) when it is not set. */
export function metricsTelemetry(settings: {
  METRICS_PORT?: number;
  METRICS_HOST: string;
}): TelemetryOptions | undefined {
  if (settings.METRICS_PORT === undefined) return undefined;
  const host = settings.METRICS_HOST.includes(':') ? `[${settings.METRICS_HOST}]` : settings.METRICS_HOST;
  return {
    metrics: {
      prometheus: {
        bindAddress: `${host}:${settings.METRICS_PORT}`,
        // The SDK's own latencies in seconds too, like every pothole_* duration.
        useSecondsForDurations: true,
        histogramBucketOverrides: {
          [STEP_METRICS.duration]: STEP_BUCKETS,
          [RUN_METRICS.clusterUp[0]]: CLUSTER_UP_BUCKETS,
          [RUN_METRICS.lockWait[0]]: LOCK_WAIT_BUCKETS,
        },
      },
    },
  };
}

const isRunStep = (type: string) => isStepName(type) || isOptionalStepName(type);

/**
 * Each attempt of a pipeline step (an activity named after it): its duration and how it ended, labelled step and
 * outcome. Attempts, not steps: a retried step counts each attempt, and stop_cluster, which the workflow retries
 * itself, counts every failed attempt as a failure.
 */
export const stepMetrics: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const step = ctx.info.activityType;
      if (!isRunStep(step)) return next(input);
      const started = process.hrtime.bigint();
      const record = (outcome: StepOutcome) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const tags = { step, outcome };
        ctx.metricMeter
          .createHistogram(STEP_METRICS.duration, 'float', 's', STEP_HELP.duration)
          .record(seconds, tags);
        ctx.metricMeter.createCounter(STEP_METRICS.attempts, '', STEP_HELP.attempts).add(1, tags);
      };
      try {
        const result = await next(input);
        record('success');
        return result;
      } catch (err) {
        // An activity that was asked to cancel ends as cancelled, whatever it threw on its way out.
        const cancelled = err instanceof CancelledFailure || ctx.cancellationSignal.aborted;
        record(cancelled ? 'cancelled' : 'failure');
        throw err;
      }
    },
  },
});

/**
 * Starts at 0 the counters of what these workers serve: each step's attempts (every outcome) and, where the
 * workflows run, the run counters the alerts watch. A series that first appears at 1 has no earlier sample to
 * increase from: Prometheus's increase() would miss the first failure after a worker (re)start.
 */
export function startCounters(
  meter: MetricMeter,
  workers: {
    options: {
      namespace: string;
      taskQueue: string;
      activities: Map<string, unknown>;
      workflowsPath?: string;
      workflowBundle?: unknown;
    };
  }[],
): void {
  for (const { options: o } of workers) {
    startStepCounters(meter, o.namespace, o.taskQueue, o.activities.keys());
    if (o.workflowsPath || o.workflowBundle) startRunCounters(meter, o.namespace, o.taskQueue);
  }
}

function startStepCounters(
  meter: MetricMeter,
  namespace: string,
  taskQueue: string,
  activityTypes: Iterable<string>,
): void {
  for (const step of activityTypes) {
    if (!isRunStep(step)) continue;
    const counter = meter
      .withTags({ namespace, taskQueue, activityType: step })
      .createCounter(STEP_METRICS.attempts, '', STEP_HELP.attempts);
    for (const outcome of ['success', 'failure', 'cancelled'] satisfies StepOutcome[]) {
      counter.add(0, { step, outcome });
    }
  }
}

/** The workflows' counters, with the labels the workflow meter gives them. */
function startRunCounters(meter: MetricMeter, namespace: string, taskQueue: string): void {
  const tagged = (workflowType: string) => meter.withTags({ namespace, taskQueue, workflowType });
  const counter = (workflowType: string, [name, help]: readonly [string, string]) =>
    tagged(workflowType).createCounter(name, '', help);
  for (const workflowType of ['potholePipeline', 'potholeBackfill']) {
    counter(workflowType, RUN_METRICS.cleanupFailures).add(0);
  }
  const runs = counter('potholePipeline', RUN_METRICS.runs);
  for (const outcome of ['succeeded', 'failed', 'cancelled'] satisfies RunOutcome[]) runs.add(0, { outcome });
  counter('potholeWatchdog', RUN_METRICS.watchdogStops).add(0);
}
