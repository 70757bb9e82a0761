/**
 * The worker process. Validates its configuration before connecting (a worker missing WORKER3/4 settings must not
 * start and quietly run a smaller cluster), serves the workflows and the activities its role needs, logs one JSON
 * object per line with the batch date and step, and shuts down gracefully on SIGINT/SIGTERM.
 *
 * Roles: `all` (default) serves everything on TEMPORAL_TASK_QUEUE — or, when SERVING_TASK_QUEUE is set, the
 * serving steps on that queue in the same process; `cluster` serves the workflows and the cluster side only;
 * `serving` serves only load_to_rdb, refresh_views and send_email_report (for a worker on the database host).
 */
import { Client } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type ActivityInterceptorsFactory,
  type LogEntry,
} from '@temporalio/worker';
import { ignoredSettingsWarning, loadConfig, readSettings, SECTIONS_FOR, type SectionName } from './config';
import { createClusterSideActivities, createServingSideActivities, type ServingSideDeps } from './activities';
import { metricsTelemetry, startCounters, stepMetrics } from './metrics';
import { connectionFailure, connectTemporal, temporalConnectionOptions } from './temporal-connection';

export type WorkerRole = 'all' | 'cluster' | 'serving';

export interface WorkerHandle {
  /** Resolves when every worker has shut down. */
  done: Promise<void>;
  shutdown(): Promise<void>;
  taskQueues: string[];
}

/** Adds the batch date and step to every activity log line. */
const stepLogAttributes: ActivityInterceptorsFactory = (ctx) => {
  let batchDate: string | undefined;
  return {
    inbound: {
      execute(input, next) {
        const first = input.args[0] as { batchDate?: unknown } | undefined;
        if (typeof first?.batchDate === 'string') batchDate = first.batchDate;
        return next(input);
      },
    },
    outbound: {
      getLogAttributes(attrs, next) {
        return next({ ...attrs, step: ctx.info.activityType, ...(batchDate ? { batchDate } : {}) });
      },
    },
  };
};

function jsonLine(entry: LogEntry): void {
  const { message, level, meta } = entry;
  const line = JSON.stringify({
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level,
    message,
    ...meta,
  });
  (level === 'ERROR' || level === 'WARN' ? process.stderr : process.stdout).write(line + '\n');
}

const warn = (message: string) =>
  jsonLine({ level: 'WARN', message, timestampNanos: BigInt(Date.now()) * 1_000_000n, meta: {} });

let runtimeInstalled = false;

export async function startWorker(options: {
  role?: WorkerRole;
  env?: Record<string, string | undefined>;
  /** For tests: replaces the serving side's clients (e.g. a mail transport). */
  servingOverrides?: Partial<ServingSideDeps>;
}): Promise<WorkerHandle> {
  const role = options.role ?? 'all';
  const { env, ignored } = options.env ? { env: options.env, ignored: [] } : readSettings();
  // Named before the validation: a misspelt name is often what a "required" problem below is about.
  const ignoredWarning = ignoredSettingsWarning(ignored);
  if (ignoredWarning) warn(ignoredWarning);
  const sections = new Set<SectionName>(['temporal']);
  if (role !== 'serving') SECTIONS_FOR.cluster.forEach((s) => sections.add(s));
  if (role !== 'cluster') SECTIONS_FOR.serving.forEach((s) => sections.add(s));
  // Validate everything this role needs, and report every problem at once, before connecting anywhere.
  const config = loadConfig([...sections], env) as ReturnType<typeof loadConfig<SectionName[]>>;
  const temporal = config.temporal;

  const telemetryOptions = metricsTelemetry(temporal);
  if (!runtimeInstalled && !process.env.POTHOLE_WORKER_DEFAULT_LOGGER) {
    Runtime.install({
      logger: new DefaultLogger('INFO', jsonLine),
      shutdownSignals: ['SIGINT', 'SIGTERM'],
      telemetryOptions,
    });
    runtimeInstalled = true;
  } else if (telemetryOptions)
    warn('METRICS_PORT is ignored: this process already set up its Temporal runtime');

  const connection = await NativeConnection.connect(temporalConnectionOptions(temporal)).catch(
    async (err: unknown) => {
      throw await connectionFailure(temporal, err);
    },
  );
  const clientConnection = await connectTemporal(temporal).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  const client = new Client({ connection: clientConnection, namespace: temporal.TEMPORAL_NAMESPACE });
  const servingQueue = temporal.SERVING_TASK_QUEUE;
  const common = {
    connection,
    namespace: temporal.TEMPORAL_NAMESPACE,
    interceptors: { activity: [stepLogAttributes, stepMetrics] },
    // In-flight activities get this long to finish or notice cancellation; a running Spark driver is left
    // alone and re-attached by the next attempt.
    shutdownGraceTime: '20 seconds' as const,
  };

  const workers: Worker[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  if (role !== 'serving') {
    const clusterSide = createClusterSideActivities({
      config,
      client,
      taskQueue: temporal.TEMPORAL_TASK_QUEUE,
    });
    cleanups.push(clusterSide.close);
    const servingSide =
      role === 'all' && !servingQueue
        ? createServingSideActivities(config, options.servingOverrides)
        : undefined;
    if (servingSide) cleanups.push(servingSide.close);
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: temporal.TEMPORAL_TASK_QUEUE,
        workflowsPath: require.resolve('./workflows'),
        activities: { ...clusterSide.activities, ...servingSide?.activities },
      }),
    );
  }
  if (role === 'serving' || (role === 'all' && servingQueue)) {
    const servingSide = createServingSideActivities(config, options.servingOverrides);
    cleanups.push(servingSide.close);
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: servingQueue ?? temporal.TEMPORAL_TASK_QUEUE,
        activities: servingSide.activities,
      }),
    );
  }

  if (telemetryOptions && runtimeInstalled) startCounters(Runtime.instance().metricMeter, workers);

  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    for (const close of cleanups) await close().catch(() => undefined);
    await clientConnection.close();
    await connection.close();
  });
  return {
    done,
    taskQueues: workers.map((w) => w.options.taskQueue),
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}
