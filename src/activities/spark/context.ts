/**
 * What every Spark step shares: the injected clients, the timings, and how to reach the master (SSH
 * address, spark:// URL, status page) for a cluster.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import path from 'node:path';
import type { AwsConfig, ClusterConfig, S3Config, SparkConfig, SshConfig } from '../../config';
import type { ClusterInfo, StepInput } from '../../shared/types';
import { validateBatchDate } from '../../shared/steps';
import { DEFAULT_CLUSTER_TIMING, ensureClusterRunning, sshAddress, type ClusterTiming } from '../cluster';
import type { RemoteShell } from '../remote';
import { parseMasterStatus, type ExpectedWorker, type SparkMasterStatus } from '../spark-status';

export interface SparkTiming extends ClusterTiming {
  /** How long start_spark waits for every worker to register. */
  workersTimeoutMs: number;
  /** Longest wait between master status polls (they start at 0.1 s and grow by half each time). */
  statusPollMs: number;
  /** Seconds a driver gets between SIGTERM and SIGKILL. */
  killGraceSeconds: number;
  /** Lifetime of the presigned URLs download_code hands to curl. */
  presignExpirySeconds: number;
  /** How often run_stageN reads the master's status while its driver runs (lost workers). */
  workerWatchPollMs: number;
  /** How long run_stageN keeps reconnecting when SSH to the master drops while following a driver. */
  followReconnectMs: number;
}

const DEFAULT_SPARK_TIMING: SparkTiming = {
  ...DEFAULT_CLUSTER_TIMING,
  workersTimeoutMs: 180_000,
  statusPollMs: 250,
  killGraceSeconds: 15,
  presignExpirySeconds: 3_600,
  followReconnectMs: 120_000,
  workerWatchPollMs: 5_000,
};

export interface SparkDeps {
  ec2: EC2Client;
  ssh: RemoteShell;
  /** For presigned URLs of the job code. */
  s3: S3Client;
  config: { cluster: ClusterConfig; ssh: SshConfig; spark: SparkConfig; s3: S3Config; aws: AwsConfig };
  timing?: Partial<SparkTiming>;
  /**
   * Asks Temporal whether a pipeline run is still open (throws when Temporal cannot answer). A cancelled
   * stage attempt kills its driver only when its run asked for it or has closed.
   */
  isRunOpen(run: { workflowId: string; runId: string }): Promise<boolean>;
  /** Fetches the master's status JSON (injectable for tests; the real global fetch by default). */
  fetch?: typeof fetch;
}

export type SparkContext = ReturnType<typeof createSparkContext>;

export function createSparkContext(deps: SparkDeps) {
  const { spark } = deps.config;
  const timing: SparkTiming = { ...DEFAULT_SPARK_TIMING, ...deps.timing };
  const fetchFn = deps.fetch ?? fetch;
  const masterHost = (info: ClusterInfo) => spark.SPARK_MASTER_HOST ?? info.masterPrivateIp;
  const statusUrl = (info: ClusterInfo) =>
    `${(spark.SPARK_MASTER_WEBUI_URL ?? `http://${masterHost(info)}:${spark.SPARK_MASTER_WEBUI_PORT}`).replace(/\/+$/, '')}/json/`;
  const clusterDeps = { ...deps, timing };

  return {
    deps,
    ssh: deps.ssh,
    s3: deps.s3,
    config: deps.config,
    spark,
    timing,
    sparkPath: (...parts: string[]) => path.posix.join(spark.SPARK_HOME, ...parts),
    masterSsh: (info: ClusterInfo) => sshAddress(deps.config.ssh, info.masterPrivateIp),
    /** The master's host in its spark:// URL (where its RPC port listens). */
    masterHost,
    masterUrl: (info: ClusterInfo) => `spark://${masterHost(info)}:${spark.SPARK_MASTER_PORT}`,
    statusUrl,
    expectedWorkers: (info: ClusterInfo): ExpectedWorker[] =>
      info.workerInstanceIds.map((id, n) => ({
        instanceId: id,
        privateIp: info.workerPrivateIps[n]!,
        address: sshAddress(deps.config.ssh, info.workerPrivateIps[n]!),
      })),
    /** The cluster, its instances started first when they are not running (a reset may land after stop_cluster). */
    runningCluster: () => ensureClusterRunning(clusterDeps),

    /** The master's status, or undefined when its page does not answer (or not with a status). */
    async masterStatus(info: ClusterInfo, signal?: AbortSignal): Promise<SparkMasterStatus | undefined> {
      try {
        const timeout = AbortSignal.timeout(5_000);
        const res = await fetchFn(statusUrl(info), {
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        if (!res.ok) return undefined;
        return parseMasterStatus(await res.json());
      } catch {
        if (signal?.aborted) throw signal.reason;
        return undefined;
      }
    },

    /** Logs a remote command's output lines into the activity log. */
    toLog: (prefix: string) => ({
      onStdoutLine: (l: string) => log.info(`${prefix} ${l}`),
      onStderrLine: (l: string) => log.info(`${prefix} ${l}`),
    }),
  };
}

export function validDate(input: StepInput): string {
  const date = validateBatchDate(input.batchDate);
  if (typeof date !== 'string') throw ApplicationFailure.nonRetryable(date.error, 'InvalidBatchDate');
  return date;
}
