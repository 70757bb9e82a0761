/**
 * Another team's Spark job layout runs with settings only: each stage folder holds
 * `stageN_<name>.py` (the entry), `connection_stageN.py` (shipped with --py-files) and `config_stageN.yaml`,
 * called as `spark-submit … --py-files <connection> <entry> --env stageN --batch-date <date>`.
 *
 * The jobs are written by this file (a minimal but contract-true Stage1 and Stage2: Stage2 groups the
 * readings into grid cells named `cell-…`, so rows of the reference jobs could never pass for them),
 * deployed with `pothole deploy-code` to a code prefix of their own, and the whole pipeline runs through
 * Temporal, a real worker process and the local Spark cluster, with no --packages (SPARK_PACKAGES unset).
 *
 * The same run is the one the worker's Prometheus endpoint (METRICS_PORT) is checked against: scraped while Stage1
 * runs and after the run, its figures must be the run's own (its result and its progress).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workflowIdFor } from '../../src/shared/steps';
import type { PipelineProgress } from '../../src/shared/types';
import type { PipelineResult } from '../../src/workflows/pipeline';
import { stackS3Client, uniqueName } from '../support/stack';
import { driverDir, PipelineWorld, sparkSubmitCommands, waitUntil } from '../support/e2e';
import { freePort } from '../support/free-port';
import { sample, samples, scrape, type Sample } from '../support/prometheus';
import { deletePrefix } from '../integration/activities/serving-support';

const world = new PipelineWorld('job-layout');
const date = '2026-07-14';
const root = uniqueName('test-job-layout');
const jobsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-job-layout-'));
const jobDir = path.join(world.base.SPARK_JOB_DIR!, root);
const prefixes = {
  S3_CODE_PREFIX: `${root}/code`,
  S3_STAGE1_OUTPUT_PREFIX: `${root}/stage1`,
  S3_STAGE2_OUTPUT_PREFIX: `${root}/stage2`,
};
const settings = {
  ...prefixes,
  SPARK_JOB_DIR: jobDir,
  // One JVM less to start and stop on a busy machine; the event logs are read from their folder.
  SPARK_HISTORY_SERVER: 'false',
  // Unset: the default, no --packages (the local Spark has the S3A jars in SPARK_HOME/jars).
  SPARK_PACKAGES: '',
  SPARK_STAGE1_ENTRY: 'stage1_anomaly_detection.py',
  SPARK_STAGE1_PY_FILES: 'connection_stage1.py',
  SPARK_STAGE1_CONF: 'spark.layout.tag={stage}-{batchDate}',
  SPARK_STAGE2_ENTRY: 'stage2_spatial_clustering.py',
  SPARK_STAGE2_PY_FILES: 'connection_{stage}.py',
  SPARK_STAGE2_CONF: 'spark.layout.tag={stage}-{batchDate}',
};

/** The team's connection module (one per stage): Spark session, data locations, the YAML config. */
const CONNECTION_PY = `
from pyspark.sql import SparkSession


def connect():
    spark = SparkSession.builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def location(spark, name, batch_date):
    bucket = spark.conf.get("spark.pothole.bucket")
    return "s3a://%s/%s/dt=%s" % (bucket, spark.conf.get("spark.pothole.prefix." + name), batch_date)


def read_config(path):
    """Flat 'key: value' YAML, read by hand: the cluster's Python need not have PyYAML."""
    values = {}
    with open(path) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                key, value = line.split(":", 1)
                values[key.strip()] = value.strip()
    return values
`;

/** The start both entries share: the arguments and conf they must receive, checked before any work. */
const entry = (stage: string, body: string) => `
import argparse, os, re, sys
from connection_${stage} import connect, location, read_config

parser = argparse.ArgumentParser()
parser.add_argument("--env", required=True)
parser.add_argument("--batch-date", required=True)
args = parser.parse_args()
if args.env != "${stage}" or not re.fullmatch(r"\\d{4}-\\d{2}-\\d{2}", args.batch_date):
    print("[layout] ${stage} got unexpected arguments %s" % sys.argv[1:], flush=True)
    sys.exit(3)
config = read_config(os.path.join(os.path.dirname(os.path.abspath(__file__)), "config_${stage}.yaml"))
spark = connect()
tag = spark.conf.get("spark.layout.tag", "")
if tag != "${stage}-" + args.batch_date:
    print("[layout] ${stage} got spark.layout.tag=%r" % tag, flush=True)
    sys.exit(4)
print("[layout] ${stage} received --env %s --batch-date %s, spark.layout.tag=%s, config %s"
      % (args.env, args.batch_date, tag, sorted(config.items())), flush=True)

from pyspark.sql import functions as F
${body}
spark.stop()
`;

// The schemas are given, not inferred: Spark skips a job per stage (the test's time is mostly Spark's).
const STAGE1_BODY = `
raw = spark.read.schema("timestamp long, lon double, lat double, accel_z double").parquet(
    location(spark, "raw", args.batch_date)
)
# How far the vertical acceleration strays from gravity (m/s²).
score = F.abs(F.col("accel_z") - F.lit(9.81))
raw.select(
    "timestamp",
    "lon",
    "lat",
    score.alias("impact_score"),
    (score >= float(config["impact_threshold"])).cast("int").alias("is_pothole"),
).write.mode("overwrite").option("compression", "snappy").parquet(location(spark, "stage1", args.batch_date))
`;

const STAGE2_BODY = `
size = float(config["cell_size_degrees"])
readings = spark.read.schema("lon double, lat double, is_pothole int").parquet(
    location(spark, "stage1", args.batch_date)
)
cell = F.concat(
    F.lit("cell-"),
    F.floor(F.col("lat") / size).cast("string"),
    F.lit("-"),
    F.floor(F.col("lon") / size).cast("string"),
)
readings.groupBy(cell.alias("s_id")).agg(
    F.sum("is_pothole").cast("int").alias("impact_count"),
    F.count(F.lit(1)).cast("int").alias("total_count"),
    F.avg("lon").alias("centroid_lon"),
    F.avg("lat").alias("centroid_lat"),
).select(
    "s_id",
    F.to_date(F.lit(args.batch_date)).alias("date"),
    "impact_count",
    "total_count",
    "centroid_lon",
    "centroid_lat",
).coalesce(1).write.mode("overwrite").option("compression", "snappy").parquet(
    location(spark, "stage2", args.batch_date)
)
`;

const JOBS: Record<string, string> = {
  'stage1/stage1_anomaly_detection.py': entry('stage1', STAGE1_BODY),
  'stage1/connection_stage1.py': CONNECTION_PY,
  'stage1/config_stage1.yaml': '# the team settings\nimpact_threshold: 2.5\n',
  'stage2/stage2_spatial_clustering.py': entry('stage2', STAGE2_BODY),
  'stage2/connection_stage2.py': CONNECTION_PY,
  'stage2/config_stage2.yaml': 'cell_size_degrees: 0.0005\n',
};

const driverLog = (stage: string) =>
  fs.readFileSync(path.join(driverDir(settings, date, stage), 'log'), 'utf8');

let metricsPort = 0;
/** The worker's /metrics while run_stage1 ran (with the run's progress then), and once the run had ended. */
const scraped: {
  during?: { samples: Sample[]; progress: PipelineProgress };
  after?: Sample[];
  text?: string;
} = {};

before(async () => {
  for (const [file, body] of Object.entries(JOBS)) {
    fs.mkdirSync(path.dirname(path.join(jobsDir, file)), { recursive: true });
    fs.writeFileSync(path.join(jobsDir, file), body);
  }
  metricsPort = await freePort();
  await world.setUp({
    dates: [date],
    env: { ...settings, METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.1' },
  });
});

after(async () => {
  await world.tearDown();
  const s3 = stackS3Client();
  await deletePrefix(s3, world.config.s3.S3_BUCKET, `${root}/`).finally(() => s3.destroy());
  fs.rmSync(jobsDir, { recursive: true, force: true });
  fs.rmSync(jobDir, { recursive: true, force: true });
});

describe("another team's Spark job layout, with settings only", () => {
  it('deploys with `pothole deploy-code`, runs the whole pipeline and loads what its Stage2 wrote', async () => {
    const since = Date.now();
    const deploy = await world.pothole('deploy-code', jobsDir);
    assert.equal(deploy.status, 0, deploy.stdout + deploy.stderr);
    assert.match(deploy.stdout, new RegExp(`uploaded 6 files to s3://[^/]+/${prefixes.S3_CODE_PREFIX}/`));

    const running = world.pothole('run', date, '--wait');
    const handle = world.client.workflow.getHandle(workflowIdFor(date));
    const progress = await waitUntil('run_stage1 running', async () => {
      const p = await world.progress(handle);
      return p?.steps.find((s) => s.step === 'run_stage1')?.status === 'running' ? p : undefined;
    });
    scraped.during = { samples: (await scrape(metricsPort)).samples, progress };
    const run = await running;
    assert.equal(run.status, 0, run.stdout + run.stderr);
    // The workflow's figures reach the endpoint once its last task is done: wait for the run's outcome.
    const ended = await waitUntil('the run counted on /metrics', async () => {
      const now = await scrape(metricsPort);
      return samples(now.samples, 'pothole_runs_total', { outcome: 'succeeded' })[0]?.value ? now : undefined;
    });
    Object.assign(scraped, { after: ended.samples, text: ended.text });

    // Each driver got the team's arguments, its stage's conf and its own YAML config.
    assert.match(
      driverLog('stage1'),
      /\[layout\] stage1 received --env stage1 --batch-date 2026-07-14, spark\.layout\.tag=stage1-2026-07-14, config \[\('impact_threshold', '2\.5'\)\]/,
    );
    assert.match(
      driverLog('stage2'),
      /\[layout\] stage2 received --env stage2 --batch-date 2026-07-14, spark\.layout\.tag=stage2-2026-07-14, config \[\('cell_size_degrees', '0\.0005'\)\]/,
    );
    // Spark's own record of the command line: the connection module, the entry file, no --packages.
    for (const [stage, file] of [
      ['stage1', 'stage1_anomaly_detection.py'],
      ['stage2', 'stage2_spatial_clustering.py'],
    ] as const) {
      const [command, ...more] = sparkSubmitCommands(`pothole-${stage}-${date}`, since);
      assert.ok(command, `no event log of pothole-${stage}-${date}`);
      assert.equal(more.length, 0, 'one application per stage');
      const dir = path.join(jobDir, stage);
      assert.ok(
        command.endsWith(
          `--py-files ${dir}/connection_${stage}.py ${dir}/${file} --env ${stage} --batch-date ${date}`,
        ),
        command,
      );
      assert.doesNotMatch(command, /--packages|main\.py|common\.py/);
    }
    // The whole stage folder reached the master, the YAML config included.
    assert.ok(fs.existsSync(path.join(jobDir, 'stage2', 'config_stage2.yaml')));

    const db = world.pool();
    try {
      const { rows } = await db.query<{ cells: string; named: string; readings: string }>(
        `SELECT count(*) AS cells, count(*) FILTER (WHERE s_id LIKE 'cell-%') AS named,
                sum(total_count) AS readings
           FROM pothole_segments WHERE date = $1`,
        [date],
      );
      assert.ok(Number(rows[0]!.cells) > 0, 'rows were loaded');
      assert.equal(rows[0]!.named, rows[0]!.cells, 'every row is one of the team job’s grid cells');
      assert.ok(Number(rows[0]!.readings) > 0);
    } finally {
      await db.end();
    }
  });

  it("exports the run on METRICS_PORT: the SDK's metrics and each step, the cluster while it is up, the result", async () => {
    const { during, after: end, text } = scraped;
    assert.ok(during && end && text, 'the run above was scraped');
    const handle = world.client.workflow.getHandle(workflowIdFor(date));
    const result = (await handle.result()) as PipelineResult;
    const progress = await handle.query<PipelineProgress>('progress');
    const run = { taskQueue: world.taskQueue, workflowType: 'potholePipeline' };
    const step = (name: string, outcome = 'success') => ({ taskQueue: world.taskQueue, step: name, outcome });
    const timeOf = (iso?: string) => Date.parse(iso!) / 1000;

    // While Stage1 ran: the SDK's own figures, the cluster up since the run took it, the steps done so far.
    assert.ok(samples(during.samples, 'temporal_worker_task_slots_available').length > 0, 'SDK metrics');
    assert.ok(samples(during.samples, 'temporal_activity_execution_latency_count').length > 0, 'SDK metrics');
    const upSince = sample(during.samples, 'pothole_cluster_up_since_timestamp_seconds', run);
    const startCluster = during.progress.steps.find((s) => s.step === 'start_cluster')!;
    assert.ok(Math.abs(upSince - timeOf(startCluster.startedAt)) < 1, `up since ${upSince}`);
    for (const done of during.progress.steps.filter((s) => s.status === 'done')) {
      assert.equal(sample(during.samples, 'pothole_step_attempts_total', step(done.step)), 1, done.step);
    }
    // Every step's counters start at 0 with the worker: run_stage1 has not ended yet.
    assert.equal(sample(during.samples, 'pothole_step_attempts_total', step('run_stage1')), 0);
    assert.equal(sample(during.samples, 'pothole_runs_total', { ...run, outcome: 'succeeded' }), 0);

    // After the run: one successful attempt of every step it ran, timed within the step's time in the run.
    const ran = progress.steps.filter((s) => s.status === 'done').map((s) => s.step);
    assert.equal(ran.length, 14, ran.join(' '));
    for (const name of ran) {
      assert.equal(sample(end, 'pothole_step_attempts_total', step(name)), 1, name);
      assert.equal(sample(end, 'pothole_step_attempts_total', step(name, 'failure')), 0, name);
      assert.equal(sample(end, 'pothole_step_duration_seconds_count', step(name)), 1, name);
      const seconds = sample(end, 'pothole_step_duration_seconds_sum', step(name));
      assert.ok(seconds > 0 && seconds <= result.stepSeconds[name]! + 0.5, `${name}: ${seconds} s`);
    }
    assert.equal(sample(end, 'pothole_rows_loaded_total', run), result.rowsLoaded);
    assert.ok(result.rowsLoaded! > 0);
    assert.equal(sample(end, 'pothole_cluster_up_seconds_count', run), 1);
    assert.ok(Math.abs(sample(end, 'pothole_cluster_up_seconds_sum', run) - result.clusterUpSeconds) < 0.001);
    assert.equal(sample(end, 'pothole_cluster_up_since_timestamp_seconds', run), 0, 'the cluster is stopped');
    const quality = { ...run, finding: 'impact_exceeds_total' };
    assert.equal(sample(end, 'pothole_quality_rows_total', quality), result.quality!.impactExceedsTotal);
    assert.equal(sample(end, 'pothole_quality_warnings_total', run), result.quality!.warnings.length);
    assert.equal(sample(end, 'pothole_runs_total', { ...run, outcome: 'succeeded' }), 1);
    assert.equal(sample(end, 'pothole_runs_total', { ...run, outcome: 'failed' }), 0);
    assert.equal(sample(end, 'pothole_cleanup_failures_total', run), 0);
    assert.equal(sample(end, 'pothole_lock_wait_seconds_count', run), 1);
    const lastSuccess = sample(end, 'pothole_last_success_timestamp_seconds', run);
    assert.ok(
      Math.abs(lastSuccess - timeOf(progress.steps.at(-1)!.endedAt)) < 5,
      `last success ${lastSuccess}`,
    );

    console.log(
      text
        .split('\n')
        .filter(
          (l) =>
            (l.startsWith('pothole_') && l.includes('step="run_stage1"')) ||
            l.startsWith('temporal_worker_task_slots_available'),
        )
        .join('\n'),
    );
  });
});
