/**
 * A world for end-to-end and fault tests on the local stack: a database, a task queue and a tagged EC2 cluster of
 * the test file's own, the reference Spark jobs and demo data in S3, EC2 calls recorded by a pass-through proxy,
 * a real worker process (`pothole worker`) and the `pothole` CLI, both run as child processes; and what the tests
 * observe: step states, Spark processes and drivers, Spark's event logs and the instances' states in the emulator.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type pg from 'pg';
import { createEc2Client, createS3Client } from '../../src/activities/aws-clients';
import { loadConfig } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { ensureDemoCluster, instanceStates, type DemoCluster } from '../../src/demo/cluster';
import { uploadDemoData, uploadSparkCode } from '../../src/demo/upload';
import type { PipelineProgress } from '../../src/shared/types';
import { AwsRecorder } from './aws-recorder';
import { createThrowawayDatabase, type ThrowawayDatabase } from './database';
import { withQuickSparkConfs } from './quick-spark';
import { REPO_ROOT, stackEnv, stackProcessEnv, waitFor, type Env } from './stack';
import { runPothole, startWorkerProcess, stopWorkerProcess, type CliOutcome } from './worker-process';

const sparkEvents = path.join(REPO_ROOT, '.stack/spark-events');
/** Workflow types that are runs: cancelled, they clean up (stop Spark and the cluster) before they close. */
const RUN_TYPES = new Set(['potholePipeline', 'potholeBackfill']);
/** How long tearDown waits for the cleanup of the runs it cancels. */
const CLEANUP_WAIT_MS = 300_000;

/** Polls (every `everyMs`) until `fn` returns something truthy, and returns it. */
export function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 180_000,
  everyMs = 500,
): Promise<T> {
  return waitFor(what, async () => (await fn()) || undefined, { timeoutMs, intervalMs: everyMs });
}

/** Processes whose command line matches `pattern` (pgrep -f). */
export const processesMatching = (pattern: string): string[] =>
  spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);

export const describeProcesses = (pids: string[]): string =>
  pids.length
    ? spawnSync('ps', ['-o', 'pid,lstart,args', '-p', pids.join(',')], { encoding: 'utf8' }).stdout
    : '';

export const processAlive = (pid: string | number): boolean =>
  spawnSync('kill', ['-0', String(pid)]).status === 0;

/** Event logs of Spark applications of that name started since the given time, as text. */
function eventLogs(name: string, since: number): string[] {
  if (!fs.existsSync(sparkEvents)) return [];
  return fs
    .readdirSync(sparkEvents, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(sparkEvents, f))
    .filter((f) => path.basename(f).startsWith('events_') || /^(app|local)-[^/]*$/.test(path.basename(f)))
    .filter((f) => fs.statSync(f).isFile() && fs.statSync(f).mtimeMs >= since)
    .map((f) => fs.readFileSync(f, 'utf8'))
    .filter((text) => text.includes(`"App Name":"${name}"`));
}

/** Spark applications of that name started since the given time, counted from Spark's own event logs. */
export const sparkApplications = (name: string, since: number): number => eventLogs(name, since).length;

/** The spark-submit command lines of those applications, as the driver's JVM recorded them. */
export const sparkSubmitCommands = (name: string, since: number): string[] =>
  eventLogs(name, since).flatMap((text) =>
    [...text.matchAll(/"sun\.java\.command":("(?:[^"\\]|\\.)*")/g)].map((m) => JSON.parse(m[1]!) as string),
  );

/** The driver state folder of a date and stage on the master (`<SPARK_JOB_DIR>/run/<date>-<stage>`). */
export const driverDir = (env: Env, date: string, stage: string): string =>
  path.join(env.SPARK_JOB_DIR!, 'run', `${date}-${stage}`);

const readTrimmed = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : undefined);

/** The pid file of the date and stage's driver, when that folder belongs to the run (`owner`). */
function driverPid(env: Env, date: string, stage: string, owner: string): string | undefined {
  const dir = driverDir(env, date, stage);
  return readTrimmed(path.join(dir, 'owner')) === owner ? readTrimmed(path.join(dir, 'pid')) : undefined;
}

/** Waits until the run's driver for that stage runs; returns its pid (its session id). */
export const waitForDriver = (env: Env, date: string, stage: string, owner: string): Promise<string> =>
  waitUntil(`the ${stage} driver of ${owner}`, () => {
    const pid = driverPid(env, date, stage, owner);
    return pid && processAlive(pid) ? pid : undefined;
  });

export class PipelineWorld {
  readonly base: Env = stackEnv();
  readonly config = loadConfig(['temporal', 'aws', 's3', 'postgres'], this.base);
  readonly recorder = new AwsRecorder(this.base.AWS_ENDPOINT_URL!);
  readonly ec2 = createEc2Client(this.config.aws);
  readonly taskQueue: string;
  readonly clusterName: string;
  /** The worker's and the CLI's environment; tests may change it between worker restarts. */
  env: NodeJS.ProcessEnv = {};
  client!: Client;
  cluster!: DemoCluster;
  /** The worker's stdout and stderr (JSON log lines), kept for tests that read the log. */
  workerLog = '';
  private worker?: ChildProcess;
  private db?: ThrowawayDatabase;

  constructor(readonly name: string) {
    this.taskQueue = `e2e-${name}-${process.pid}`;
    this.clusterName = `e2e-${name}-${process.pid}`;
  }

  /** The world's database (created by setUp). */
  get database(): string {
    if (!this.db) throw new Error('PipelineWorld.setUp has not created the database yet');
    return this.db.name;
  }

  /** Database, code, data for the given dates, cluster and client; `env` is laid over the worker's settings. */
  async setUp(options: { dates: string[]; env?: Env; startWorker?: boolean }): Promise<void> {
    await this.recorder.start();
    this.db = await createThrowawayDatabase(`e2e_${this.name.replace(/[^a-z0-9]/g, '_')}`, {
      env: this.base,
    });
    this.env = stackProcessEnv({
      AWS_ENDPOINT_URL: this.recorder.url,
      CLUSTER_NAME: this.clusterName,
      EXPECTED_WORKER_COUNT: '2',
      SPARK_EXTRA_CONF: withQuickSparkConfs(this.base.SPARK_EXTRA_CONF),
      POSTGRES_DB: this.database,
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      ...options.env,
    });
    const s3 = createS3Client(this.config.aws);
    const { S3_BUCKET: bucket, S3_CODE_PREFIX: codePrefix, S3_RAW_DATA_PREFIX: rawPrefix } = this.config.s3;
    await uploadSparkCode({ s3, bucket, codePrefix, dir: path.join(REPO_ROOT, 'spark') });
    for (const date of options.dates) await uploadDemoData({ s3, bucket, rawPrefix, date });
    s3.destroy();
    this.cluster = await ensureDemoCluster(this.ec2, this.clusterName, 2);
    this.client = new Client({
      connection: await Connection.connect(temporalConnectionOptions(this.config.temporal)),
    });
    if (options.startWorker !== false) await this.startWorker();
  }

  /**
   * Cancels the runs still open on the task queue and waits (up to 5 min) for their cleanup: a run left open
   * without its worker would keep its date and instances. Then cancels what else is open (lock, watchdog),
   * stops the worker and drops the database.
   */
  async tearDown(): Promise<void> {
    if (this.client) {
      const runs = await this.cancelOpen((type) => RUN_TYPES.has(type));
      if (runs.length) {
        if (!this.worker) await this.startWorker().catch(() => undefined);
        const cleanedUp = Promise.allSettled(runs.map((h) => h.result()));
        await Promise.race([cleanedUp, new Promise((r) => setTimeout(r, CLEANUP_WAIT_MS).unref())]);
      }
      await this.cancelOpen(() => true);
    }
    await this.stopWorker();
    await this.client?.connection.close();
    await this.db?.drop().catch(() => undefined);
    await this.recorder.stop();
    this.ec2.destroy();
  }

  /** Terminates the task queue's open workflows: no cleanup runs (tests of what termination leaves). */
  async terminateOpen(reason: string): Promise<void> {
    for (const handle of await this.openWorkflows(() => true))
      await handle.terminate(reason).catch(() => undefined);
  }

  /** Starts the worker; `extraEnv` is laid over `env` for this worker only. */
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

  private async openWorkflows(ofType: (type: string) => boolean): Promise<WorkflowHandle[]> {
    const open: WorkflowHandle[] = [];
    for await (const w of this.client.workflow.list({
      query: `TaskQueue = '${this.taskQueue}' AND ExecutionStatus = 'Running'`,
    })) {
      if (ofType(w.type)) open.push(this.client.workflow.getHandle(w.workflowId, w.runId));
    }
    return open;
  }

  private async cancelOpen(ofType: (type: string) => boolean): Promise<WorkflowHandle[]> {
    const open = await this.openWorkflows(ofType);
    for (const handle of open) await handle.cancel().catch(() => undefined);
    return open;
  }
}
