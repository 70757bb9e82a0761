/**
 * The worker process. Validates its configuration before connecting (a worker missing WORKER3/4 settings must not
 * start and quietly run a smaller cluster), serves the workflows and the activities its role needs, logs one JSON
 * object per line with the batch date and step, and shuts down gracefully on SIGINT/SIGTERM.
 *
 * Roles: `all` (default) serves everything on TEMPORAL_TASK_QUEUE — or, when SERVING_TASK_QUEUE is set, the
 * serving steps on that queue in the same process; `cluster` serves the workflows and the cluster side only;
 * `serving` serves only load_to_rdb, refresh_views and send_email_report (for a worker on the database host).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type ActivityInterceptorsFactory,
  type LogEntry,
  type Logger,
  type LogLevel,
  type LogMetadata,
} from '@temporalio/worker';
import {
  ignoredSettingsWarning,
  loadConfig,
  readSettings,
  SECTIONS_FOR,
  unreadLinesWarning,
  type SectionName,
} from './config';
import { createClusterSideActivities, createServingSideActivities, type ServingSideDeps } from './activities';
import { metricsTelemetry, startCounters, stepMetrics } from './worker/metrics';
import { connectionFailure, connectTemporal, temporalConnectionOptions } from './temporal/connection';

export type WorkerRole = 'all' | 'cluster' | 'serving';

export interface WorkerHandle {
  /** Resolves when every worker has shut down. */
  done: Promise<void>;
  shutdown(): Promise<void>;
  taskQueues: string[];
  /** The process's JSON log at LOG_LEVEL, for the worker's own lines (start, stop). */
  logger: Logger;
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

/** The workflow code: `npm run build` bundles it into dist beside the compiled worker (see scripts/build.ts). */
export const WORKFLOW_BUNDLE = path.join(__dirname, 'workflow-bundle.js');
export const workflowSources = () => ({
  workflowsPath: require.resolve('./workflows'),
  workflowInterceptorModules: [require.resolve('./workflows/log-attributes')],
});

/** The prebuilt bundle when there is one (the built worker, in production); else the sources, bundled at start. */
function workflowCode(): {
  workflowBundle?: { codePath: string };
  workflowsPath?: string;
  workflowModules?: string[];
} {
  if (fs.existsSync(WORKFLOW_BUNDLE)) return { workflowBundle: { codePath: WORKFLOW_BUNDLE } };
  const { workflowsPath, workflowInterceptorModules } = workflowSources();
  return { workflowsPath, workflowModules: workflowInterceptorModules };
}

/** Errors print as their name, message, failure type and cause (plain JSON.stringify would print `{}`). */
function jsonValue(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const { type } = value as { type?: unknown };
    return {
      name: value.name,
      message: value.message,
      ...(typeof type === 'string' ? { type } : {}),
      ...(value.cause instanceof Error ? { cause: value.cause } : {}),
    };
  }
  return typeof value === 'bigint' ? value.toString() : value;
}

function jsonLine(entry: LogEntry): void {
  const { message, level, meta } = entry;
  const line = JSON.stringify(
    { time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(), level, message, ...meta },
    jsonValue,
  );
  (level === 'ERROR' || level === 'WARN' ? process.stderr : process.stdout).write(line + '\n');
}

/** A line of the worker's log written without the logger (before the configuration, with LOG_LEVEL, is read). */
export const logLine = (level: LogLevel, message: string, meta: LogMetadata = {}) =>
  jsonLine({ level, message, timestampNanos: BigInt(Date.now()) * 1_000_000n, meta });
const warn = (message: string) => logLine('WARN', message);

let runtimeInstalled = false;

export async function startWorker(options: {
  role?: WorkerRole;
  env?: Record<string, string | undefined>;
  /** For tests: replaces the serving side's clients (e.g. a mail transport). */
  servingOverrides?: Partial<ServingSideDeps>;
}): Promise<WorkerHandle> {
  const role = options.role ?? 'all';
  const { env, ignored, unread } = options.env
    ? { env: options.env, ignored: [], unread: [] }
    : readSettings();
  // Named before the validation: a misspelt name or a line not read is often what a "required" problem below is about.
  for (const warning of [unreadLinesWarning(unread), ignoredSettingsWarning(ignored)]) {
    if (warning) warn(warning);
  }
  const sections = new Set<SectionName>(['temporal']);
  if (role !== 'serving') SECTIONS_FOR.cluster.forEach((s) => sections.add(s));
  if (role !== 'cluster') SECTIONS_FOR.serving.forEach((s) => sections.add(s));
  // Validate everything this role needs, and report every problem at once, before connecting anywhere.
  const config = loadConfig([...sections], env) as ReturnType<typeof loadConfig<SectionName[]>>;
  const temporal = config.temporal;

  const telemetryOptions = metricsTelemetry(temporal);
  const logger = new DefaultLogger(temporal.LOG_LEVEL, jsonLine);
  if (!runtimeInstalled && !process.env.POTHOLE_WORKER_DEFAULT_LOGGER) {
    Runtime.install({ logger, shutdownSignals: ['SIGINT', 'SIGTERM'], telemetryOptions });
    // Node's warnings (a library's deprecation notice) join the log as JSON lines instead of plain stderr text.
    process.removeAllListeners('warning');
    process.on('warning', (w) => logger.warn(w.message, { warning: w.name }));
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
  const code = workflowCode();
  const common = {
    connection,
    namespace: temporal.TEMPORAL_NAMESPACE,
    interceptors: { activity: [stepLogAttributes, stepMetrics], workflowModules: code.workflowModules },
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
    logger.info(
      code.workflowBundle
        ? `workflows from the prebuilt bundle ${code.workflowBundle.codePath}`
        : 'workflows bundled from the sources',
    );
    const servingSide =
      role === 'all' && !servingQueue
        ? createServingSideActivities(config, options.servingOverrides)
        : undefined;
    if (servingSide) cleanups.push(servingSide.close);
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: temporal.TEMPORAL_TASK_QUEUE,
        workflowBundle: code.workflowBundle,
        workflowsPath: code.workflowsPath,
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
    logger,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}
