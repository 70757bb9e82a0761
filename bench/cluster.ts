/**
 * Cluster overhead benchmark: `npm run bench:cluster [-- --runs 3] [--serving-run WORKFLOW_ID] [--spark-home DIR]`.
 *
 * Runs the cluster's steps through the real activities against the local stack (moto EC2 instances, the
 * sshd as master, the Spark standalone daemons, moto S3): start_cluster, start_spark, download_code ∥
 * install_deps, a trivial Spark job as run_stage1 and as run_stage2, stop_spark, stop_cluster. Each run
 * prints its step times; the summary prints each step's median and the cluster's overhead (the time it is
 * up beyond the two stages), next to the original Airflow sequence computed from the same step times: a
 * fixed 30 s wait after starting the instances, download_code then install_deps, and the serving steps
 * run while the cluster is still up. The serving steps are not run here: their times come from the newest
 * completed pipeline run (workflow id pothole-pipeline-*) on the local Temporal server (or --serving-run, which
 * must be one), which the output names.
 *
 * --spark-home DIR runs the steps with another SPARK_HOME than the stack's (say, one whose sbin/ scripts differ).
 * Refuses to start when Spark daemons already run on this host (they belong to someone else).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowClient } from '@temporalio/client';
import { loadConfig } from '../src/config';
import { createClusterActivities } from '../src/activities/cluster';
import { listAll } from '../src/activities/s3-checks';
import { createSshExecutor } from '../src/activities/remote';
import { createSparkActivities } from '../src/activities/spark';
import { connectTemporal } from '../src/temporal/connection';
import {
  ActivityHarness,
  FAST_TIMING,
  createTestCluster,
  ec2ClientFor,
  s3ClientFor,
  stackEnv,
  stepInput,
  unique,
} from '../test/integration/activities/cluster-support';
import { benchFailure, integerOption, readOptions, UsageError } from './options';

const ORIGINAL_FIXED_WAIT_S = 30;
const SERVING_STEPS = ['load_to_rdb', 'refresh_views', 'send_email_report'] as const;

/** The stage job: a Spark session, one tiny action, stop. */
const MAIN_PY = `
import argparse
import common
from pyspark.sql import SparkSession

p = argparse.ArgumentParser()
p.add_argument("--env", required=True)
p.add_argument("--batch-date", required=True)
a = p.parse_args()
spark = SparkSession.builder.getOrCreate()
print("%s %s: %d rows (%s)" % (a.env, a.batch_date, spark.range(1000).count(), common.NOTE), flush=True)
spark.stop()
`;
const COMMON_PY = 'NOTE = "bench"\n';

const USAGE =
  'usage: npm run bench:cluster [-- --runs N] [--serving-run pothole-pipeline-...] [--spark-home DIR]';

/** A pipeline run's workflow id (the CLI's pothole-pipeline-<date>, the schedule's pothole-pipeline-scheduled-…). */
const PIPELINE_RUN = /^pothole-pipeline-./;

function parseArgs(argv: string[]) {
  const values = readOptions(
    argv,
    {
      runs: { type: 'string', default: '3' },
      'serving-run': { type: 'string' },
      'spark-home': { type: 'string' },
    },
    USAGE,
  );
  const servingRun = values['serving-run'];
  if (servingRun !== undefined && !PIPELINE_RUN.test(servingRun)) {
    throw new UsageError(
      `--serving-run ${servingRun} is not a pipeline run (pothole-pipeline-...)\n${USAGE}`,
    );
  }
  return { runs: integerOption(values.runs, 'runs', 1, USAGE), servingRun, sparkHome: values['spark-home'] };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (s: number) => s.toFixed(1).padStart(6);

const daemonsOnHost = () =>
  spawnSync('ps', ['-eo', 'stat=,pid=,args='], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(
      (l) => /deploy\.(master\.Master|worker\.Worker|history\.HistoryServer)/.test(l) && !/^\s*Z/.test(l),
    );

/** Step → seconds (scheduled to completed) of the serving steps of a completed pipeline run. */
async function servingTimes(env: Record<string, string | undefined>, workflowId?: string) {
  const connection = await connectTemporal(loadConfig(['temporal'], env).temporal, { connectTimeout: '5s' });
  try {
    const client = new WorkflowClient({ connection, namespace: env.TEMPORAL_NAMESPACE ?? 'default' });
    const ids: { workflowId: string; runId: string }[] = [];
    if (workflowId) ids.push({ workflowId, runId: '' });
    else {
      // Pipeline runs only: tests and benchmarks start the same workflow type under ids of their own.
      const query = `WorkflowType = 'potholePipeline' AND ExecutionStatus = 'Completed'`;
      for await (const w of client.list({ query })) {
        if (!PIPELINE_RUN.test(w.workflowId)) continue;
        ids.push({ workflowId: w.workflowId, runId: w.runId });
        if (ids.length >= 20) break;
      }
    }
    for (const id of ids) {
      const history = await client.getHandle(id.workflowId, id.runId || undefined).fetchHistory();
      const scheduled = new Map<string, { name: string; at: number }>();
      const times: Record<string, number> = {};
      for (const e of history.events ?? []) {
        const at = Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
        const s = e.activityTaskScheduledEventAttributes;
        if (s) scheduled.set(String(e.eventId), { name: s.activityType?.name ?? '', at });
        const c = e.activityTaskCompletedEventAttributes;
        if (c) {
          const from = scheduled.get(String(c.scheduledEventId));
          if (from) times[from.name] = (at - from.at) / 1000;
        }
      }
      if (SERVING_STEPS.every((s) => times[s] !== undefined)) {
        return { source: `${id.workflowId}${id.runId ? ` (run ${id.runId})` : ''}`, times };
      }
    }
    return undefined;
  } finally {
    await connection.close();
  }
}

type Step =
  | 'start_cluster'
  | 'start_spark'
  | 'download_code'
  | 'install_deps'
  | 'code ∥ deps'
  | 'run_stage1'
  | 'run_stage2'
  | 'stop_spark'
  | 'stop_cluster';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const base = stackEnv();
  const foreign = daemonsOnHost();
  if (foreign.length) throw new Error(`Spark daemons already run on this host:\n${foreign.join('\n')}`);
  const root = unique('bench-cluster');
  const jobDir = path.join(base.SPARK_JOB_DIR!, root);
  const ec2 = ec2ClientFor(base);
  const s3 = s3ClientFor(base);
  const cluster = await createTestCluster(ec2, 2);
  const env: Record<string, string | undefined> = {
    ...base,
    ...cluster.byIds,
    SPARK_JOB_DIR: jobDir,
    S3_CODE_PREFIX: `${root}/code`,
    SPARK_HISTORY_SERVER: 'true',
    ...(args.sparkHome ? { SPARK_HOME: args.sparkHome } : {}),
  };
  const config = loadConfig(['cluster', 'ssh', 'spark', 's3', 'aws'], env);
  const ssh = createSshExecutor(config.ssh);
  const spark = createSparkActivities({ ec2, s3, ssh, config, isRunOpen: async () => true });
  const ec2Acts = createClusterActivities({ ec2, ssh, config, timing: FAST_TIMING });
  for (const stage of ['stage1', 'stage2']) {
    for (const [name, body] of Object.entries({ 'main.py': MAIN_PY, 'common.py': COMMON_PY })) {
      await s3.send(
        new PutObjectCommand({ Bucket: env.S3_BUCKET!, Key: `${root}/code/${stage}/${name}`, Body: body }),
      );
    }
  }

  const loadBefore = os.loadavg()[0]!;
  const runs: Record<Step, number>[] = [];
  const overheads: number[] = [];
  const details: string[] = [];
  try {
    for (let n = 1; n <= args.runs; n++) {
      const input = stepInput(`2099-01-${String(n).padStart(2, '0')}`);
      const t: Partial<Record<Step, number>> = {};
      const timed = async <R>(step: Step, fn: () => Promise<R>): Promise<R> => {
        const started = performance.now();
        const r = await fn();
        t[step] = (performance.now() - started) / 1000;
        return r;
      };
      const act = <R>(step: Step, fn: (i: typeof input) => Promise<R>) =>
        timed(step, () => new ActivityHarness().run(fn, input));
      const up = performance.now();
      await act('start_cluster', ec2Acts.start_cluster);
      await act('start_spark', spark.start_spark);
      const [code, deps] = await timed('code ∥ deps', () =>
        Promise.all([act('download_code', spark.download_code), act('install_deps', spark.install_deps)]),
      );
      await act('run_stage1', spark.run_stage1);
      await act('run_stage2', spark.run_stage2);
      await act('stop_spark', spark.stop_spark);
      await act('stop_cluster', ec2Acts.stop_cluster);
      const upSeconds = (performance.now() - up) / 1000;
      const overhead = upSeconds - t.run_stage1! - t.run_stage2!;
      runs.push(t as Record<Step, number>);
      overheads.push(overhead);
      const note = (r: object) =>
        'detail' in r ? String(r.detail) : JSON.stringify(r).replace(/"seconds":[\d.]+,?/, '');
      details.push(`run ${n}: download_code ${note(code)}; install_deps ${note(deps)}`);
      console.log(
        `run ${n}: ` +
          Object.entries(t)
            .map(([k, v]) => `${k} ${v.toFixed(2)}`)
            .join(', ') +
          ` | cluster up ${upSeconds.toFixed(1)} s, overhead ${overhead.toFixed(1)} s`,
      );
    }
  } finally {
    await spark.stop_spark(stepInput('2099-01-01')).catch(() => undefined);
    await cluster.terminate();
    const objects = await listAll(s3, env.S3_BUCKET!, `${root}/`);
    if (objects.length) {
      await s3.send(
        new DeleteObjectsCommand({
          Bucket: env.S3_BUCKET!,
          Delete: { Objects: objects.map((o) => ({ Key: o.Key! })) },
        }),
      );
    }
    fs.rmSync(jobDir, { recursive: true, force: true });
  }

  const m = (step: Step) => median(runs.map((r) => r[step]));
  const serving = await servingTimes(base, args.servingRun).catch((err: unknown) => {
    console.log(`(serving step times unavailable: ${err instanceof Error ? err.message : String(err)})`);
    return undefined;
  });
  const servingSeconds = SERVING_STEPS.map((s) => serving?.times[s] ?? 0);
  const servingTotal = servingSeconds.reduce((a, b) => a + b, 0);

  const stages = m('run_stage1') + m('run_stage2');
  const now = m('start_cluster') + m('start_spark') + m('code ∥ deps') + m('stop_spark') + m('stop_cluster');
  const original =
    m('start_cluster') +
    ORIGINAL_FIXED_WAIT_S +
    m('start_spark') +
    m('download_code') +
    m('install_deps') +
    servingTotal +
    m('stop_spark') +
    m('stop_cluster');

  console.log('');
  for (const d of details) console.log(d);
  console.log('');
  console.log(`median of ${args.runs} run(s), seconds           this sequence   original Airflow sequence`);
  const row = (label: string, ours: number | string, theirs: number | string) =>
    console.log(
      `  ${label.padEnd(36)} ${typeof ours === 'number' ? f1(ours) : ours.padStart(6)}` +
        `          ${typeof theirs === 'number' ? f1(theirs) : theirs.padStart(6)}`,
    );
  row('start_cluster', m('start_cluster'), m('start_cluster'));
  row('fixed wait after start_cluster', '-', ORIGINAL_FIXED_WAIT_S);
  row('start_spark', m('start_spark'), m('start_spark'));
  row('download_code', m('download_code'), m('download_code'));
  row('install_deps', m('install_deps'), m('install_deps'));
  row('  download_code ∥ install_deps (wall)', m('code ∥ deps'), '-');
  row('run_stage1 (trivial job)', m('run_stage1'), m('run_stage1'));
  row('run_stage2 (trivial job)', m('run_stage2'), m('run_stage2'));
  SERVING_STEPS.forEach((s, i) => row(`${s} (cluster still up)`, '-', servingSeconds[i]!));
  row('stop_spark', m('stop_spark'), m('stop_spark'));
  row('stop_cluster', m('stop_cluster'), m('stop_cluster'));
  row('CLUSTER OVERHEAD (up minus stages)', now, original);
  console.log(`  measured overhead per run: ${overheads.map((o) => o.toFixed(1)).join(', ')} s`);
  console.log(
    serving
      ? `  serving step times taken from the completed pipeline run ${serving.source} on the local Temporal server`
      : '  serving step times: no completed pipeline run with them on the local Temporal server (counted as 0)',
  );
  console.log(
    `  stage time (both trivial stages, median): ${stages.toFixed(1)} s; SPARK_HOME ${env.SPARK_HOME}`,
  );
  console.log(
    `  host: ${os.cpus().length} cores, load average ${loadBefore.toFixed(1)} at the start, ` +
      `${os.loadavg()[0]!.toFixed(1)} at the end (other work on the host slows the JVMs' start)`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => process.exit(benchFailure(err)),
);
