/**
 * A world for end-to-end and fault tests on the local stack: a database, a task queue and a tagged EC2 cluster of
 * the test file's own, the reference Spark jobs and demo data in S3, EC2 calls recorded by a pass-through proxy,
 * a real worker process (`pothole worker`) and the `pothole` CLI, both run as child processes.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import pg from 'pg';
import { createEc2Client, createS3Client } from '../../src/clients';
import { loadConfig } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { ensureDemoCluster, instanceStates, type DemoCluster } from '../../src/demo/cluster';
import { uploadDemoData, uploadSparkCode } from '../../src/demo/upload';
import type { PipelineProgress } from '../../src/types';
import { AwsRecorder } from './aws-recorder';
import { REPO_ROOT, stackEnv, stackEnvFile, type Env } from './stack';
import { runPothole, startWorkerProcess, stopWorkerProcess, type CliOutcome } from './worker-process';

const sparkEvents = path.join(REPO_ROOT, '.stack/spark-events');

export async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 180_000,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Processes whose command line matches `pattern` (pgrep -f). */
export const processesMatching = (pattern: string): string[] =>
  spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);

export const describeProcesses = (pids: string[]): string =>
  pids.length
    ? spawnSync('ps', ['-o', 'pid,lstart,args', '-p', pids.join(',')], { encoding: 'utf8' }).stdout
    : '';

/** Spark applications of that name started since the given time, counted from Spark's own event logs. */
export function sparkApplications(name: string, since: number): number {
  if (!fs.existsSync(sparkEvents)) return 0;
  return fs
    .readdirSync(sparkEvents, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(sparkEvents, f))
    .filter((f) => path.basename(f).startsWith('events_') || /^(app|local)-[^/]*$/.test(path.basename(f)))
    .filter((f) => fs.statSync(f).isFile() && fs.statSync(f).mtimeMs >= since)
    .filter((f) => fs.readFileSync(f, 'utf8').includes(`"App Name":"${name}"`)).length;
}

export class PipelineWorld {
  readonly base: Env = stackEnv();
  readonly config = loadConfig(['temporal', 'aws', 's3', 'postgres'], this.base);
  readonly recorder = new AwsRecorder(this.base.AWS_ENDPOINT_URL!);
  readonly ec2 = createEc2Client(this.config.aws);
  readonly database: string;
  readonly taskQueue: string;
  readonly clusterName: string;
  env: NodeJS.ProcessEnv = {};
  client!: Client;
  cluster!: DemoCluster;
  /** The worker's stdout and stderr (JSON log lines), kept for tests that read the log. */
  workerLog = '';
  private worker?: ChildProcess;
  private admin = new pg.Client({ connectionString: this.base.POSTGRES_ADMIN_URL });

  constructor(readonly name: string) {
    const id = `${name.replace(/[^a-z0-9]/g, '_')}_${process.pid}`;
    this.database = `e2e_${id}`;
    this.taskQueue = `e2e-${name}-${process.pid}`;
    this.clusterName = `e2e-${name}-${process.pid}`;
  }

  /** Database, code, data for the given dates, cluster and client; `env` is laid over the worker's settings. */
  async setUp(options: { dates: string[]; env?: Env; startWorker?: boolean }): Promise<void> {
    await this.recorder.start();
    await this.admin.connect();
    await this.admin.query(`CREATE DATABASE ${this.database} OWNER ${this.base.POSTGRES_USER}`);
    this.env = {
      ...process.env,
      POTHOLE_ENV_FILE: stackEnvFile(),
      AWS_ENDPOINT_URL: this.recorder.url,
      CLUSTER_NAME: this.clusterName,
      EXPECTED_WORKER_COUNT: '2',
      POSTGRES_DB: this.database,
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      ...options.env,
    };
    const pool = createPool({ ...this.config.postgres, database: this.database }, { max: 1 });
    await migrate(pool);
    await pool.end();
    const s3 = createS3Client(this.config.aws);
    const { S3_BUCKET: bucket, S3_CODE_PREFIX: codePrefix, S3_RAW_DATA_PREFIX: rawPrefix } = this.config.s3;
    await uploadSparkCode({ s3, bucket, codePrefix, dir: path.join(REPO_ROOT, 'spark') });
    for (const date of options.dates) await uploadDemoData({ s3, bucket, rawPrefix, date });
    s3.destroy();
    this.cluster = await ensureDemoCluster(this.ec2, this.clusterName, 2);
    this.client = new Client({
      connection: await Connection.connect({ address: this.config.temporal.TEMPORAL_ADDRESS }),
    });
    if (options.startWorker !== false) await this.startWorker();
  }

  /** Cancels the task queue's open runs (their cleanup runs), stops the worker, drops the database. */
  async tearDown(): Promise<void> {
    if (this.client) {
      for await (const w of this.client.workflow.list({
        query: `TaskQueue = '${this.taskQueue}' AND ExecutionStatus = 'Running'`,
      })) {
        await this.client.workflow
          .getHandle(w.workflowId)
          .cancel()
          .catch(() => undefined);
      }
    }
    await this.stopWorker();
    await this.client?.connection.close();
    await this.admin.query(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`).catch(() => undefined);
    await this.admin.end();
    await this.recorder.stop();
    this.ec2.destroy();
  }

  async startWorker(extraEnv: Env = {}): Promise<void> {
    this.worker = await startWorkerProcess(
      { ...this.env, ...extraEnv },
      [],
      (text) => (this.workerLog += text),
    );
  }

  async stopWorker(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await stopWorkerProcess(w, signal);
  }

  /** The CLI, run without blocking this process (the recording proxy lives in it). */
  pothole(...args: string[]): Promise<CliOutcome> {
    return runPothole(this.env, ...args);
  }

  async progress(handle: WorkflowHandle): Promise<PipelineProgress | undefined> {
    return handle.query<PipelineProgress>('progress').catch(() => undefined);
  }

  async stepStatus(handle: WorkflowHandle, step: string): Promise<string | undefined> {
    return (await this.progress(handle))?.steps.find((s) => s.step === step)?.status;
  }

  /** The states of the cluster's instances, master first. */
  async states(): Promise<string[]> {
    const ids = [this.cluster.masterInstanceId, ...this.cluster.workerInstanceIds];
    const states = await instanceStates(this.ec2, ids);
    return ids.map((id) => states[id] ?? 'missing');
  }

  /** A pool on the world's database. */
  pool(): pg.Pool {
    return createPool({ ...this.config.postgres, database: this.database }, { max: 1 });
  }
}
