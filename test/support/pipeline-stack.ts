/**
 * The whole pipeline on the local services, as the end-to-end and fault tests drive it: a real worker process and
 * the `pothole` CLI, EC2 calls through a recording proxy in front of the emulator, a demo cluster of its own (found
 * by tags), a throwaway database, and what the tests observe: step states, Spark processes, Spark's event logs and
 * the instances' states in the emulator.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
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

const bin = path.join(REPO_ROOT, 'bin/pothole.js');
const sparkEvents = path.join(REPO_ROOT, '.stack/spark-events');

export type CliResult = { status: number | null; stdout: string; stderr: string };

/** `pothole worker` as its own process, with the test's environment. */
export class WorkerProcess {
  private child?: ChildProcess;
  /** Everything the worker wrote to stderr (its log). */
  log = '';

  constructor(private readonly env: () => NodeJS.ProcessEnv) {}

  async start(): Promise<void> {
    const child = spawn(process.execPath, [bin, 'worker'], {
      cwd: REPO_ROOT,
      env: this.env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
        this.log += c.toString();
        if (err.includes('serving')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
    });
    this.child = child;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const w = this.child;
    this.child = undefined;
    if (!w || w.exitCode !== null) return;
    const exited = new Promise((r) => w.once('exit', r));
    w.kill(signal);
    await exited;
  }
}

/** Polls until `fn` returns something truthy. */
export async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const stepStatus = async (handle: WorkflowHandle, step: string) =>
  (await handle.query<PipelineProgress>('progress').catch(() => undefined))?.steps.find(
    (s) => s.step === step,
  )?.status;

/** Processes whose command line matches the pgrep pattern. */
export const sparkProcesses = (pattern: string) =>
  spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);

export const describeProcesses = (pids: string[]) =>
  pids.length
    ? spawnSync('ps', ['-o', 'pid,lstart,args', '-p', pids.join(',')], { encoding: 'utf8' }).stdout
    : '';

export const processAlive = (pid: string | number) => spawnSync('kill', ['-0', String(pid)]).status === 0;

/** Spark applications of that name that were started since the given time, from Spark's own event logs. */
export function sparkApplications(name: string, since: number): number {
  if (!fs.existsSync(sparkEvents)) return 0;
  const files = fs
    .readdirSync(sparkEvents, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(sparkEvents, f));
  return files
    .filter((f) => path.basename(f).startsWith('events_') || /^(app|local)-[^/]*$/.test(path.basename(f)))
    .filter((f) => fs.statSync(f).isFile() && fs.statSync(f).mtimeMs >= since)
    .filter((f) => fs.readFileSync(f, 'utf8').includes(`"App Name":"${name}"`)).length;
}

/** The driver state folder of a date and stage on the master (`<SPARK_JOB_DIR>/run/<date>-<stage>`). */
export const driverDir = (env: Env, date: string, stage: string) =>
  path.join(env.SPARK_JOB_DIR!, 'run', `${date}-${stage}`);

const readTrimmed = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : undefined);

/** The pid file of the date and stage's driver, when that folder belongs to the run. */
export function driverPid(env: Env, date: string, stage: string, owner: string): string | undefined {
  const dir = driverDir(env, date, stage);
  return readTrimmed(path.join(dir, 'owner')) === owner ? readTrimmed(path.join(dir, 'pid')) : undefined;
}

/** Waits until the run's driver for that stage runs; returns its pid (its session id). */
export const waitForDriver = (env: Env, date: string, stage: string, owner: string) =>
  waitUntil(`the ${stage} driver of ${owner}`, () => {
    const pid = driverPid(env, date, stage, owner);
    return pid && processAlive(pid) ? pid : undefined;
  });

/**
 * Everything a test of whole runs needs, set up once per file: its own database, task queue and demo cluster,
 * the Spark code and each date's demo data in S3, a Temporal client and a started worker process.
 */
export class PipelineStack {
  readonly base = stackEnv();
  readonly recorder = new AwsRecorder(this.base.AWS_ENDPOINT_URL!);
  readonly config = loadConfig(['temporal', 'aws', 's3', 'postgres'], this.base);
  readonly ec2 = createEc2Client(this.config.aws);
  readonly database: string;
  readonly taskQueue: string;
  readonly clusterName: string;
  readonly worker: WorkerProcess;
  env: NodeJS.ProcessEnv = {};
  client!: Client;
  cluster!: DemoCluster;
  private readonly admin = new pg.Client({ connectionString: this.base.POSTGRES_ADMIN_URL });

  /** `name` makes the database, task queue and cluster names; `workerEnv` is laid over the worker's settings. */
  constructor(
    name: string,
    private readonly workerEnv: Env = {},
  ) {
    this.database = `${name.replace(/-/g, '_')}_${process.pid}`;
    this.taskQueue = `${name}-${process.pid}`;
    this.clusterName = `${name}-${process.pid}`;
    this.worker = new WorkerProcess(() => this.env);
  }

  async setUp(dates: string[]): Promise<void> {
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
      ...this.workerEnv,
    };
    const pool = createPool({ ...this.config.postgres, database: this.database }, { max: 1 });
    await migrate(pool);
    await pool.end();
    const s3 = createS3Client(this.config.aws);
    const { S3_BUCKET: bucket, S3_CODE_PREFIX: codePrefix, S3_RAW_DATA_PREFIX: rawPrefix } = this.config.s3;
    await uploadSparkCode({ s3, bucket, codePrefix, dir: path.join(REPO_ROOT, 'spark') });
    for (const date of dates) await uploadDemoData({ s3, bucket, rawPrefix, date });
    s3.destroy();
    this.cluster = await ensureDemoCluster(this.ec2, this.clusterName, 2);
    this.client = new Client({
      connection: await Connection.connect({ address: this.config.temporal.TEMPORAL_ADDRESS }),
    });
    await this.worker.start();
  }

  /**
   * Cancels the runs still open on the task queue and waits for their cleanup (a run left open without its
   * worker would keep its date and instances), then stops the worker and drops the database.
   */
  async tearDown(): Promise<void> {
    if (this.client) {
      const open: WorkflowHandle[] = [];
      for await (const w of this.client.workflow.list({
        query: `TaskQueue = '${this.taskQueue}' AND ExecutionStatus = 'Running'`,
      })) {
        if (w.type !== 'potholePipeline') continue;
        const handle = this.client.workflow.getHandle(w.workflowId, w.runId);
        await handle.cancel().catch(() => undefined);
        open.push(handle);
      }
      const cleanedUp = Promise.allSettled(open.map((h) => h.result()));
      await Promise.race([cleanedUp, new Promise((r) => setTimeout(r, 300_000).unref())]);
    }
    await this.worker.stop();
    await this.client?.connection.close();
    await this.admin.query(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`).catch(() => undefined);
    await this.admin.end();
    await this.recorder.stop();
    this.ec2.destroy();
  }

  /** The CLI, run without blocking this process: the recording proxy lives in it. */
  pothole(...args: string[]): Promise<CliResult> {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: REPO_ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout, stderr })));
  }

  /** The states of the cluster's instances in the emulator, master first. */
  async states(): Promise<string[]> {
    const ids = [this.cluster.masterInstanceId, ...this.cluster.workerInstanceIds];
    const states = await instanceStates(this.ec2, ids);
    return ids.map((id) => states[id] ?? 'unknown');
  }
}
