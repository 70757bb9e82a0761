/**
 * Every activity, built from injected clients. Activity type names are the step names, so the Temporal UI and
 * the `temporal` CLI show check_s3_input, start_cluster, … as operators know them from the original DAG.
 */
/**
 * The contract between the workflows and the activity modules, derived from the factories below: a workflow's proxy
 * or a test's stand-in cannot drift from what the worker really registers.
 */
export type Activities = ReturnType<typeof createClusterSideActivities>['activities'] &
  ReturnType<typeof createServingSideActivities>['activities'];

// ── composition: the real clients, from configuration ─────────────────────────────────────────────────────

import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Transporter } from 'nodemailer';
import { createEc2Client, createS3Client } from './aws-clients';
import type { Config } from '../config';
import { createPool } from '../db/pool';
import { lazyTemporalClient, monthToDate } from '../cost/from-temporal';
import { createClusterActivities } from './cluster';
import { createComplaintActivities } from './complaints';
import { reportingDatabaseOutages } from './database';
import { createLoadActivities } from './load';
import { createSshExecutor } from './remote';
import { createReportActivities } from './report';
import { createS3CheckActivities } from './s3-checks';
import { createSlackActivities } from './slack';
import { createSparkActivities } from './spark';
import { createTemporalActivities, isRunOpen, type PipelineSettings } from './temporal';
import { createViewActivities } from './views';
import { createWatchdogActivities } from './watchdog';

type ClusterSideConfig = Pick<
  Config,
  'temporal' | 'aws' | 's3' | 'ssh' | 'spark' | 'cluster' | 'slack' | 'watchdog' | 'complaints'
>;
type ServingSideConfig = Pick<Config, 'aws' | 's3' | 'postgres' | 'email' | 'kakao' | 'complaints'> &
  Partial<Pick<Config, 'temporal'>>;

export interface ServingSideDeps {
  pool: pg.Pool;
  transport: Transporter;
}

/** What the workflows learn of the configuration (pipeline_settings): recorded in their histories, so no secret. */
export function pipelineSettings(
  config: Pick<Config, 'temporal' | 'complaints'> & Partial<Pick<Config, 'cluster' | 'spark'>>,
): PipelineSettings {
  return {
    servingTaskQueue: config.temporal.SERVING_TASK_QUEUE,
    cleanupAlertAfterFailures: config.temporal.CLEANUP_ALERT_AFTER_FAILURES,
    cleanupRetryMaxIntervalSeconds: config.temporal.CLEANUP_RETRY_MAX_INTERVAL_SECONDS,
    servingRetryWindowSeconds: config.temporal.SERVING_RETRY_WINDOW_SECONDS,
    backfillDatesPerSession: config.temporal.BACKFILL_DATES_PER_SESSION,
    ...(config.complaints.COMPLAINTS_NIGHTLY
      ? { complaints: { lookbackDays: config.complaints.COMPLAINTS_LOOKBACK_DAYS } }
      : {}),
    ...(config.cluster ? { clusterPrices: config.cluster.prices } : {}),
    ...(config.spark ? { sparkStageTimeoutMinutes: config.spark.SPARK_STAGE_TIMEOUT_MINUTES } : {}),
  };
}

/** How long a cancelled stage waits for Temporal to say whether its run is still open. */
const RUN_CHECK_TIMEOUT_MS = 15_000;

/** The workflow's side on the cluster host: S3 checks, EC2, SSH/Spark, Slack, the cluster lock and the watchdog. */
export function createClusterSideActivities(deps: {
  config: ClusterSideConfig;
  client: Client;
  taskQueue: string;
}) {
  const { config } = deps;
  const s3 = createS3Client(config.aws);
  const ec2 = createEc2Client(config.aws);
  const ssh = createSshExecutor(config.ssh);
  const activities = {
    ...createS3CheckActivities({ s3, config }),
    ...createClusterActivities({ ec2, ssh, config }),
    ...createSparkActivities({
      ec2,
      ssh,
      s3,
      config,
      isRunOpen: (run) => isRunOpen(deps.client, run, RUN_CHECK_TIMEOUT_MS),
    }),
    ...createSlackActivities({ config }),
    ...createWatchdogActivities({ ec2, ssh, client: deps.client, taskQueue: deps.taskQueue, config }),
    ...createTemporalActivities({
      client: deps.client,
      taskQueue: deps.taskQueue,
      settings: pipelineSettings(config),
    }),
  };
  return {
    activities,
    async close() {
      s3.destroy();
      ec2.destroy();
    },
  };
}

/** load_to_rdb, load_complaints, refresh_views, send_email_report: the database host's side. */
export function createServingSideActivities(
  config: ServingSideConfig,
  overrides: Partial<ServingSideDeps> = {},
) {
  const s3 = createS3Client(config.aws);
  const pool = overrides.pool ?? createPool(config.postgres);
  const temporal = config.temporal ? lazyTemporalClient(config.temporal) : undefined;
  const activities = reportingDatabaseOutages(
    {
      ...createLoadActivities({ s3, pool, config }),
      ...createComplaintActivities({ pool, config }),
      ...createViewActivities({ pool, history: config.postgres.history }),
      ...createReportActivities({
        pool,
        config,
        transport: overrides.transport,
        monthToDate: temporal && monthToDateOf(temporal, config.temporal!.TEMPORAL_TASK_QUEUE),
      }),
    },
    config.postgres,
  );
  return {
    activities,
    async close() {
      s3.destroy();
      await temporal?.close();
      if (!overrides.pool) await pool.end();
    },
  };
}

/** How long the report waits for Temporal's list of this month's runs. */
const MONTH_TO_DATE_DEADLINE_MS = 10_000;

/** The report's month-to-date total: this deployment's runs (its task queue) as Temporal lists them. */
function monthToDateOf(temporal: ReturnType<typeof lazyTemporalClient>, taskQueue: string) {
  return async (current: Parameters<typeof monthToDate>[1]['current']) => {
    const client = await temporal.get();
    return client.connection.withDeadline(Date.now() + MONTH_TO_DATE_DEADLINE_MS, () =>
      monthToDate(client, { taskQueue, now: new Date(), current }),
    );
  };
}
