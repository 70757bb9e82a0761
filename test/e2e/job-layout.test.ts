/**
 * Another team's Spark job layout runs with settings only: each stage folder holds
 * `stageN_<name>.py` (the entry), `connection_stageN.py` (shipped with --py-files) and `config_stageN.yaml`,
 * called as `spark-submit … --py-files <connection> <entry> --env stageN --batch-date <date>`.
 *
 * The jobs are written by this file (a minimal but contract-true Stage1 and Stage2: Stage2 groups the
 * readings into grid cells named `cell-…`, so rows of the reference jobs could never pass for them),
 * deployed with `pothole deploy-code` to a code prefix of their own, and the whole pipeline runs through
 * Temporal, a real worker process and the local Spark cluster, with no --packages (SPARK_PACKAGES unset).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stackS3Client, uniqueName } from '../support/stack';
import { driverDir, PipelineWorld, sparkSubmitCommands } from '../support/e2e';
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

before(async () => {
  for (const [file, body] of Object.entries(JOBS)) {
    fs.mkdirSync(path.dirname(path.join(jobsDir, file)), { recursive: true });
    fs.writeFileSync(path.join(jobsDir, file), body);
  }
  await world.setUp({ dates: [date], env: settings });
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

    const run = await world.pothole('run', date, '--wait');
    assert.equal(run.status, 0, run.stdout + run.stderr);

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
});
