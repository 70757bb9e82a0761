/**
 * The Spark activities against the local stack: moto EC2 instances for the cluster, the real sshd as the
 * master, the real Spark standalone daemons and spark-submit, and moto S3 through s3a.
 *
 * A tiny PySpark job stands in for the stage code. Per batch date, a control file next to the job decides
 * how long it sleeps and whether it fails; every launch appends a line to `<date>-<stage>.launches`, so the
 * tests can count how many drivers really ran.
 *
 * The tests run in order and share one Spark cluster; the last ones stop it (stop_spark).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StopInstancesCommand, waitUntilInstanceStopped, type EC2Client } from '@aws-sdk/client-ec2';
import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { loadConfig } from '../../../src/config';
import { createClusterActivities } from '../../../src/activities/cluster';
import { createS3CheckActivities, listAll } from '../../../src/activities/s3-checks';
import { createSshExecutor } from '../../../src/activities/remote';
import { createSparkActivities, type SparkTiming } from '../../../src/activities/spark';
import { startTcpProxy } from '../../support/tcp-proxy';
import { withQuickSparkConfs } from '../../support/quick-spark';
import {
  ActivityHarness,
  FAST_TIMING,
  createTestCluster,
  ec2ClientFor,
  s3ClientFor,
  stackEnv,
  stepInput,
  unique,
  type TestCluster,
} from './cluster-support';

const baseEnv = stackEnv();
const root = unique('spark-test');
const jobDir = path.join(baseEnv.SPARK_JOB_DIR!, root);
const controlDir = path.join(jobDir, 'control');
const overrides = {
  SPARK_JOB_DIR: jobDir,
  S3_CODE_PREFIX: `${root}/code`,
  S3_RAW_DATA_PREFIX: `${root}/raw`,
  S3_STAGE1_OUTPUT_PREFIX: `${root}/stage1`,
  S3_STAGE2_OUTPUT_PREFIX: `${root}/stage2`,
  SPARK_HISTORY_SERVER: 'true',
  SPARK_EXTRA_CONF: withQuickSparkConfs(baseEnv.SPARK_EXTRA_CONF),
};
const TIMING: Partial<SparkTiming> = {
  ...FAST_TIMING,
  workersTimeoutMs: 90_000,
  statusPollMs: 500,
  killGraceSeconds: 5,
};

let ec2: EC2Client;
let s3: S3Client;
let cluster: TestCluster;
let env: Record<string, string | undefined>;
let acts: ReturnType<typeof createSparkActivities>;
let checks: ReturnType<typeof createS3CheckActivities>;
let startedSpark = false;

const sparkHome = baseEnv.SPARK_HOME!;

/** The stand-in stage job (main.py): the contract's arguments and confs, stage1's output layout. */
const MAIN_PY = `
import argparse, json, os, sys, time
import common

p = argparse.ArgumentParser()
p.add_argument("--env", required=True)
p.add_argument("--batch-date", required=True)
a = p.parse_args()
here = os.path.dirname(os.path.abspath(__file__))
cfg = json.load(open(os.path.join(here, "config_%s.json" % a.env)))
control_file = os.path.join(cfg["control_dir"], "%s.json" % a.batch_date)
control = json.load(open(control_file)) if os.path.exists(control_file) else {}
with open(os.path.join(cfg["control_dir"], "%s-%s.launches" % (a.batch_date, a.env)), "a") as f:
    f.write("%d\\n" % os.getpid())
print("job %s for %s starting (%s)" % (a.env, a.batch_date, common.GREETING), flush=True)
for i in range(int(control.get("sleep", 0))):
    print("working %d" % i, flush=True)
    time.sleep(1)
if control.get("fail"):
    print("job failing on purpose: %s" % control["fail"], flush=True)
    sys.exit(3)
if control.get("spark") is False:
    # Spark is slow to start on a busy 2-core box: tests of the driver's lifecycle skip the Spark work.
    print("job %s for %s done without Spark" % (a.env, a.batch_date), flush=True)
    sys.exit(0)

from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
conf = spark.sparkContext.getConf()
bucket = conf.get("spark.pothole.bucket")
prefix = conf.get("spark.pothole.prefix.%s" % a.env)
df = spark.createDataFrame(
    [(1739318400.0, 127.0276, 37.4979, 0.91, True), (1739318460.0, 127.0281, 37.4982, 0.12, False)],
    "timestamp double, lon double, lat double, impact_score double, is_pothole boolean",
)
df.coalesce(1).write.mode("overwrite").parquet("s3a://%s/%s/dt=%s/" % (bucket, prefix, a.batch_date))
print("job %s for %s wrote its output" % (a.env, a.batch_date), flush=True)
spark.stop()
`;
const COMMON_PY = 'GREETING = "common module loaded"\n';

/** Writes wheels of pothole-probe 1.0 and 2.0 into argv[1]; makes a venv at argv[2] whose pip uses only them. */
const MAKE_WHEELS_PY = `
import base64, hashlib, os, sys, venv, zipfile
wheels, env = sys.argv[1], sys.argv[2]
os.makedirs(wheels, exist_ok=True)
for version in ("1.0", "2.0"):
    info = "pothole_probe-%s.dist-info" % version
    files = {
        "pothole_probe/__init__.py": "VERSION = %r\\n" % version,
        info + "/METADATA": "Metadata-Version: 2.1\\nName: pothole-probe\\nVersion: %s\\n" % version,
        info + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = ""
    for name, body in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=").decode()
        record += "%s,sha256=%s,%d\\n" % (name, digest, len(body.encode()))
    files[info + "/RECORD"] = record + info + "/RECORD,,\\n"
    with zipfile.ZipFile(os.path.join(wheels, "pothole_probe-%s-py3-none-any.whl" % version), "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
venv.create(env, system_site_packages=True, with_pip=False)
with open(os.path.join(env, "pip.conf"), "w") as f:
    f.write("[global]\\nno-index = true\\nfind-links = %s\\n" % wheels)
`;

async function uploadCode(prefix: string) {
  for (const stage of ['stage1', 'stage2']) {
    const files: Record<string, string> = {
      'main.py': MAIN_PY,
      'common.py': COMMON_PY,
      [`config_${stage}.json`]: JSON.stringify({ control_dir: controlDir }),
    };
    for (const [name, body] of Object.entries(files)) {
      await s3.send(
        new PutObjectCommand({ Bucket: baseEnv.S3_BUCKET!, Key: `${prefix}/${stage}/${name}`, Body: body }),
      );
    }
  }
}

const control = (date: string, c: { sleep?: number; fail?: string; spark?: boolean }) =>
  fs.writeFileSync(path.join(controlDir, `${date}.json`), JSON.stringify(c));
const launches = (date: string, stage = 'stage1') => {
  const f = path.join(controlDir, `${date}-${stage}.launches`);
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0;
};
/** Processes (not zombies) whose command line contains `needle`. */
const processesWith = (needle: string) =>
  spawnSync('ps', ['-eo', 'stat=,pid=,args='], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes(needle) && !/^\s*Z/.test(l) && !l.includes('ps -eo'));
const sparkDaemons = () =>
  ['deploy.master.Master', 'deploy.worker.Worker', 'deploy.history.HistoryServer'].flatMap(processesWith);

async function waitUntil(what: string, cond: () => boolean, ms = 60_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function masterJson(): Promise<{ aliveworkers: number } | undefined> {
  try {
    const res = await fetch(`${baseEnv.SPARK_MASTER_WEBUI_URL}/json/`, { signal: AbortSignal.timeout(3000) });
    return (await res.json()) as { aliveworkers: number };
  } catch {
    return undefined;
  }
}

/** Runs Temporal would answer about as closed (every other run is open). */
const closedRuns = new Set<string>();

function build(extra: Record<string, string | undefined> = {}, timing: Partial<SparkTiming> = TIMING) {
  const config = loadConfig(['cluster', 'ssh', 'spark', 's3', 'aws'], { ...env, ...extra });
  return createSparkActivities({
    ec2,
    s3,
    ssh: createSshExecutor(config.ssh),
    config,
    timing,
    isRunOpen: async (run) => !closedRuns.has(run.runId),
  });
}

before(async () => {
  const foreign = sparkDaemons();
  if (foreign.length) {
    // The tests start and stop the host's only Spark: never under someone else's feet.
    throw new Error(
      `Spark daemons already run on this host, refusing to take them over:\n${foreign.join('\n')}`,
    );
  }
  ec2 = ec2ClientFor(baseEnv);
  s3 = s3ClientFor(baseEnv);
  fs.mkdirSync(controlDir, { recursive: true });
  cluster = await createTestCluster(ec2, 2);
  env = { ...baseEnv, ...overrides, ...cluster.byIds };
  await uploadCode(overrides.S3_CODE_PREFIX);
  acts = build();
  checks = createS3CheckActivities({ s3, config: loadConfig(['s3'], env) });
  const config = loadConfig(['cluster', 'ssh', 'aws'], env);
  const clusterActs = createClusterActivities({
    ec2,
    ssh: createSshExecutor(config.ssh),
    config,
    timing: FAST_TIMING,
  });
  await new ActivityHarness().run(clusterActs.start_cluster, stepInput('2030-01-01'));
});

after(async () => {
  // Leave a clean host for the next test file, whatever happened above (but never stop daemons this file
  // did not start: they belong to someone else on this host).
  if (startedSpark && (sparkDaemons().length || processesWith(jobDir).length)) {
    spawnSync(path.join(sparkHome, 'sbin', 'stop-all.sh'));
    spawnSync(path.join(sparkHome, 'sbin', 'stop-history-server.sh'));
    for (const l of processesWith(`${root}`)) spawnSync('kill', ['-KILL', l.trim().split(/\s+/)[1]!]);
  }
  if (!ec2) return;
  if (cluster) {
    const all = [cluster.masterId, ...cluster.workerIds];
    await ec2.send(new StopInstancesCommand({ InstanceIds: all })).catch(() => undefined);
    await waitUntilInstanceStopped(
      { client: ec2, maxWaitTime: 30, minDelay: 1, maxDelay: 2 },
      { InstanceIds: all },
    ).catch(() => undefined);
    await cluster.terminate();
  }
  const objects = await listAll(s3, baseEnv.S3_BUCKET!, `${root}/`);
  if (objects.length) {
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: baseEnv.S3_BUCKET!,
        Delete: { Objects: objects.map((o) => ({ Key: o.Key! })) },
      }),
    );
  }
  fs.rmSync(jobDir, { recursive: true, force: true });
  ec2.destroy();
  s3.destroy();
});

const rejectsWith = async (p: Promise<unknown>, check: (e: ApplicationFailure) => void) => {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err)}`);
    check(err);
    return;
  }
  assert.fail('expected a failure');
};

test('start_spark writes conf/workers from the workers, starts the daemons and waits for 2 ALIVE workers', async () => {
  startedSpark = true;
  const h = new ActivityHarness();
  const r = await h.run(acts.start_spark, stepInput('2030-01-01'));
  assert.deepEqual(r, { aliveWorkers: 2, expectedWorkers: 2, masterUrl: 'spark://127.0.0.1:7077' });
  assert.equal(fs.readFileSync(path.join(sparkHome, 'conf', 'workers'), 'utf8'), '127.0.0.1\n127.0.0.1\n');
  assert.equal((await masterJson())?.aliveworkers, 2);
  assert.ok(processesWith('deploy.history.HistoryServer').length > 0, 'the history server runs');
  assert.ok(h.heartbeats.length > 0);
});

test('start_spark on a complete cluster returns at once', async () => {
  const t0 = Date.now();
  const r = await new ActivityHarness().run(acts.start_spark, stepInput('2030-01-01'));
  assert.equal(r.aliveWorkers, 2);
  assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
});

test('run_stage1 after a reset past download_code fetches the code itself, runs the job and writes stage1 output', async () => {
  const date = '2030-01-02';
  control(date, {});
  assert.equal(fs.existsSync(path.join(jobDir, 'stage1', 'main.py')), false);
  const h = new ActivityHarness();
  const r = await h.run(acts.run_stage1, stepInput(date));
  assert.equal(r.stage, 'stage1');
  assert.equal(r.reattached, false);
  assert.ok(r.seconds > 0);
  assert.ok(r.lastLines.length > 0 && r.lastLines.length <= 30);
  assert.equal(launches(date), 1);
  assert.ok(fs.existsSync(path.join(jobDir, 'stage1', 'main.py')), 'the code was downloaded');
  const log = fs.readFileSync(path.join(jobDir, 'run', `${date}-stage1`, 'log'), 'utf8');
  assert.match(log, /job stage1 for 2030-01-02 starting \(common module loaded\)/);
  assert.match(log, /wrote its output/);
  const progress = h.heartbeats.at(-1) as { offset: number; lastLine: string };
  assert.ok(progress.offset > 0, 'heartbeats carry the log offset');
  const out = await new ActivityHarness().run(checks.check_s3_stage1_out, stepInput(date));
  assert.equal(out.successMarker, true);
  assert.ok(out.objects >= 1);
  assert.deepEqual(processesWith(`pothole-stage1-${date}`), []);
});

test('download_code replaces the job code on the master with what is in S3', async () => {
  const stale = path.join(jobDir, 'stage2', 'stale.py');
  fs.writeFileSync(stale, '# left over from an older deployment\n');
  const r = await new ActivityHarness().run(acts.download_code, stepInput('2030-01-01'));
  assert.equal(r.files, 6);
  assert.equal(r.unchanged + r.copied, 6);
  assert.equal(r.source, `s3://${baseEnv.S3_BUCKET}/${overrides.S3_CODE_PREFIX}/`);
  assert.equal(fs.readFileSync(path.join(jobDir, 'stage2', 'main.py'), 'utf8'), MAIN_PY);
  assert.equal(fs.readFileSync(path.join(jobDir, 'stage1', 'common.py'), 'utf8'), COMMON_PY);
  assert.equal(fs.existsSync(stale), false, 'the stage folder was swapped, not merged');
  assert.deepEqual(
    fs.readdirSync(jobDir).filter((f) => f.startsWith('.download-')),
    [],
    'no temporary folder is left',
  );
});

test('download_code fetches only what changed in S3 or on the master, and drops what S3 no longer has', async () => {
  const put = (key: string, body: string) =>
    s3.send(
      new PutObjectCommand({
        Bucket: baseEnv.S3_BUCKET!,
        Key: `${overrides.S3_CODE_PREFIX}/${key}`,
        Body: body,
      }),
    );
  const onMaster = (rel: string) => path.join(jobDir, rel);
  const inode = (rel: string) => fs.statSync(onMaster(rel)).ino;
  const settled = await new ActivityHarness().run(acts.download_code, stepInput('2030-01-01'));
  assert.deepEqual([settled.unchanged, settled.copied], [6, 0], 'nothing changed since the last download');
  const before = inode('stage2/main.py');

  const common2 = `${COMMON_PY}# second version\n`;
  await put('stage1/common.py', common2);
  await put('stage2/extra.py', 'EXTRA = 1\n');
  const changed = await new ActivityHarness().run(acts.download_code, stepInput('2030-01-01'));
  assert.deepEqual(
    [changed.files, changed.unchanged, changed.copied, changed.removed, changed.bytesCopied],
    [7, 5, 2, 0, Buffer.byteLength(common2) + Buffer.byteLength('EXTRA = 1\n')],
  );
  assert.equal(changed.detail, '5 files unchanged, 2 copied, 0 removed');
  assert.equal(fs.readFileSync(onMaster('stage1/common.py'), 'utf8'), common2);
  assert.equal(fs.readFileSync(onMaster('stage2/extra.py'), 'utf8'), 'EXTRA = 1\n');
  assert.equal(inode('stage2/main.py'), before, 'an unchanged file is kept, not fetched again');

  await s3.send(
    new DeleteObjectsCommand({
      Bucket: baseEnv.S3_BUCKET!,
      Delete: { Objects: [{ Key: `${overrides.S3_CODE_PREFIX}/stage2/extra.py` }] },
    }),
  );
  await put('stage1/common.py', COMMON_PY);
  // Edited on the master, same size: the recorded checksum tells.
  fs.writeFileSync(onMaster('stage2/main.py'), MAIN_PY.replace('import', 'IMPORT'));
  const r = await new ActivityHarness().run(acts.download_code, stepInput('2030-01-01'));
  assert.deepEqual([r.files, r.unchanged, r.copied, r.removed], [6, 4, 2, 1]);
  assert.equal(r.detail, '4 files unchanged, 2 copied, 1 removed');
  assert.equal(fs.existsSync(onMaster('stage2/extra.py')), false, 'a file removed from S3 is gone');
  assert.equal(fs.readFileSync(onMaster('stage2/main.py'), 'utf8'), MAIN_PY, 'the edited copy is replaced');
  assert.equal(fs.readFileSync(onMaster('stage1/common.py'), 'utf8'), COMMON_PY);
});

test('download_code from an empty code prefix fails non-retryably, naming the s3:// path', async () => {
  const empty = `${root}/no-code-here`;
  await rejectsWith(build({ S3_CODE_PREFIX: empty }).download_code(stepInput('2030-01-01')), (e) => {
    assert.equal(e.nonRetryable, true);
    assert.equal(e.type, 'MissingJobCode');
    assert.match(e.message, new RegExp(`s3://${baseEnv.S3_BUCKET}/${empty}/stage1/`));
    assert.match(e.message, /deploy-code/);
  });
  assert.ok(fs.existsSync(path.join(jobDir, 'stage1', 'main.py')), 'the code in place is untouched');
});

test('download_code refuses a stage folder without the configured entry, naming the file, the folder and the setting', async () => {
  const acts2 = build({ SPARK_STAGE2_ENTRY: 'stage2_spatial_clustering.py' });
  await rejectsWith(acts2.download_code(stepInput('2030-01-01')), (e) => {
    assert.equal(e.nonRetryable, true);
    assert.equal(e.type, 'MissingJobCode');
    assert.match(
      e.message,
      new RegExp(
        `s3://${baseEnv.S3_BUCKET}/${overrides.S3_CODE_PREFIX}/stage2/ has no stage2_spatial_clustering\\.py, ` +
          'which SPARK_STAGE2_ENTRY names: .*set SPARK_STAGE2_ENTRY .*holds .*main\\.py',
      ),
    );
  });
  assert.equal(
    fs.readFileSync(path.join(jobDir, 'stage2', 'main.py'), 'utf8'),
    MAIN_PY,
    'the code in place is untouched',
  );
});

test('install_deps with pyarrow already installed is quick and visits the shared host once', async () => {
  const r = await new ActivityHarness().run(acts.install_deps, stepInput('2030-01-01'));
  assert.deepEqual(r.packages, ['pyarrow']);
  assert.equal(r.hosts, 1);
  assert.deepEqual(r.hostAddresses, ['127.0.0.1']);
  assert.deepEqual(r.satisfiedHosts, ['127.0.0.1'], 'pip did not run');
  assert.equal(r.detail, 'already installed on 1 host, pip skipped');
  assert.ok(r.seconds < 60);
});

test('install_deps runs pip for a package missing or at another version, and skips it once satisfied', async () => {
  // A virtualenv over the stack's Python whose pip installs only from a folder of two local wheels.
  const venv = path.join(jobDir, 'venv');
  const wheels = path.join(jobDir, 'wheels');
  const made = spawnSync('python3', ['-c', MAKE_WHEELS_PY, wheels, venv], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const python = path.join(venv, 'bin', 'python');
  const installed = () =>
    spawnSync(python, ['-c', 'from importlib import metadata; print(metadata.version("pothole-probe"))'], {
      encoding: 'utf8',
    }).stdout.trim();
  const deps = (spec: string) =>
    new ActivityHarness().run(
      build({ SPARK_PYTHON: python, SPARK_PYTHON_PACKAGES: spec }).install_deps,
      stepInput('2030-01-01'),
    );

  const first = await deps('pothole-probe==1.0');
  assert.deepEqual(first.satisfiedHosts, []);
  assert.equal(first.detail, 'pip installed on 127.0.0.1');
  assert.equal(installed(), '1.0');
  const again = await deps('pothole-probe==1.0');
  assert.deepEqual(again.satisfiedHosts, ['127.0.0.1']);
  assert.equal(again.detail, 'already installed on 1 host, pip skipped');
  const other = await deps('pothole-probe>=2');
  assert.equal(other.detail, 'pip installed on 127.0.0.1');
  assert.equal(installed(), '2.0');
});

test('a failing job fails run_stage1 non-retryably with the last driver lines', async () => {
  const date = '2030-01-03';
  control(date, { fail: 'no sensor rows' });
  await rejectsWith(new ActivityHarness().run(acts.run_stage1, stepInput(date)), (e) => {
    assert.equal(e.nonRetryable, true);
    assert.equal(e.type, 'SparkJobFailed');
    assert.match(e.message, /spark-submit exited with status 3/);
    assert.match(e.message, /job failing on purpose: no sensor rows/);
  });
});

test('run_stage1 past SPARK_STAGE_TIMEOUT_MINUTES=1 ends with SparkStageTimeout naming the setting, and its driver is killed', async () => {
  const date = '2030-01-13';
  control(date, { sleep: 150, spark: false });
  const started = Date.now();
  await rejectsWith(
    new ActivityHarness().run(build({ SPARK_STAGE_TIMEOUT_MINUTES: '1' }).run_stage1, stepInput(date)),
    (e) => {
      assert.equal(e.type, 'SparkStageTimeout');
      assert.equal(e.nonRetryable, true);
      assert.match(e.message, /SPARK_STAGE_TIMEOUT_MINUTES=1/);
    },
  );
  const seconds = (Date.now() - started) / 1000;
  console.log(`run_stage1 ended with SparkStageTimeout after ${seconds.toFixed(1)} s (limit 60 s)`);
  assert.ok(seconds >= 60 && seconds < 120, `ended after ${seconds} s`);
  assert.deepEqual(processesWith(`pothole-stage1-${date}`), [], 'no spark-submit of that run remains');
  assert.equal(launches(date), 1);
});

test('the master status page silent for longer than SPARK_WORKER_LOSS_TIMEOUT_SECONDS: the stage completes and reports the silence', async () => {
  const date = '2030-01-14';
  control(date, { sleep: 25, spark: false });
  // The status page through a proxy of the test's own, closed while the driver runs (a blocked port).
  const master = new URL(baseEnv.SPARK_MASTER_WEBUI_URL!);
  const proxy = await startTcpProxy(master.hostname, Number(master.port));
  const acts2 = build(
    { SPARK_MASTER_WEBUI_URL: `http://${proxy.address}`, SPARK_WORKER_LOSS_TIMEOUT_SECONDS: '3' },
    { ...TIMING, workerWatchPollMs: 500 },
  );
  const running = new ActivityHarness().run(acts2.run_stage1, stepInput(date));
  await waitUntil('the driver started', () => launches(date) === 1);
  const blockedAt = Date.now();
  await proxy.cut();
  const result = await running;
  console.log(
    `stage completed ${((Date.now() - blockedAt) / 1000).toFixed(1)} s after the status page was blocked ` +
      `(SPARK_WORKER_LOSS_TIMEOUT_SECONDS=3); silent for up to ${result.masterStatusSilentSeconds} s`,
  );
  assert.equal(result.stage, 'stage1');
  assert.ok((result.masterStatusSilentSeconds ?? 0) >= 15, JSON.stringify(result));
});

test('cancelling run_stage1 kills the remote driver', async () => {
  const date = '2030-01-04';
  control(date, { sleep: 120 });
  const h = new ActivityHarness();
  const running = h.run(acts.run_stage1, stepInput(date));
  await waitUntil('the driver started', () => launches(date) === 1);
  assert.ok(processesWith(`pothole-stage1-${date}`).length > 0);
  h.cancel();
  await assert.rejects(running, (err: unknown) => err instanceof CancelledFailure);
  assert.deepEqual(processesWith(`pothole-stage1-${date}`), [], 'no spark-submit of that run remains');
  assert.deepEqual(processesWith(path.join(jobDir, 'stage1', 'main.py')), [], 'nor its Python driver');
});

test('a retried attempt re-attaches to the running driver: exactly one driver runs', async () => {
  const date = '2030-01-05';
  control(date, { sleep: 8, spark: false });
  const input = stepInput(date);
  const first = new ActivityHarness();
  const abandoned = first.run(acts.run_stage1, input);
  await waitUntil('the driver started', () => launches(date) === 1);
  // The worker goes away: the attempt ends, its connection closes, the driver keeps running.
  first.shutdownWorker();
  await assert.rejects(abandoned, (err: unknown) => err instanceof CancelledFailure);
  assert.ok(processesWith(`pothole-stage1-${date}`).length > 0, 'the driver survived its attempt');
  const second = new ActivityHarness({ attempt: 2 });
  const r = await second.run(acts.run_stage1, input);
  assert.equal(r.reattached, true);
  assert.equal(launches(date), 1, 'one driver ran');
  assert.ok(r.lastLines.some((l) => /done without Spark/.test(l)));
  const third = await new ActivityHarness({ attempt: 3 }).run(acts.run_stage1, input);
  assert.equal(third.reattached, true, 'a finished driver of this run is reported, not run again');
  assert.equal(launches(date), 1);
});

test('an attempt the server lost track of leaves the driver of its open run; the next attempt re-attaches where the log was', async () => {
  const date = '2030-01-08';
  control(date, { sleep: 8, spark: false });
  const input = stepInput(date);
  const first = new ActivityHarness();
  const lost = first.run(acts.run_stage1, input);
  await first.waitForHeartbeat((d) => ((d as { offset?: number }).offset ?? 0) > 0);
  first.env.cancel('NOT_FOUND', new ActivityCancellationDetails({ notFound: true }));
  await assert.rejects(lost, (err: unknown) => err instanceof CancelledFailure);
  assert.ok(processesWith(`pothole-stage1-${date}`).length > 0, 'the driver survived its attempt');
  const last = first.heartbeats.at(-1) as { pid: string; offset: number };
  const second = new ActivityHarness({ attempt: 2, heartbeatDetails: last });
  const r = await second.run(acts.run_stage1, input);
  assert.equal(r.reattached, true);
  assert.equal(launches(date), 1, 'one driver ran');
  const resumed = second.heartbeats.find((d) => (d as { pid?: string }).pid === last.pid) as {
    offset: number;
  };
  assert.equal(resumed.offset, last.offset, 'the log is followed on from the last heartbeat offset');
});

test('an attempt whose run has closed (reset away from) kills its driver', async () => {
  const date = '2030-01-09';
  control(date, { sleep: 120 });
  const input = stepInput(date);
  const h = new ActivityHarness();
  const running = h.run(acts.run_stage1, input);
  await waitUntil('the driver started', () => launches(date) === 1);
  closedRuns.add(input.runId);
  h.env.cancel('NOT_FOUND', new ActivityCancellationDetails({ notFound: true }));
  await assert.rejects(running, (err: unknown) => err instanceof CancelledFailure);
  assert.deepEqual(processesWith(`pothole-stage1-${date}`), [], 'the driver of the closed run is gone');
});

test('a driver left by another run is killed and replaced', async () => {
  const date = '2030-01-06';
  control(date, { sleep: 120 });
  const orphanRun = new ActivityHarness();
  const orphan = orphanRun.run(acts.run_stage1, stepInput(date, 'wf-orphan'));
  await waitUntil('the orphan driver started', () => launches(date) === 1);
  orphanRun.shutdownWorker();
  await assert.rejects(orphan);
  control(date, { spark: false });
  const r = await new ActivityHarness().run(acts.run_stage1, stepInput(date, 'wf-new'));
  assert.equal(r.reattached, false);
  assert.equal(launches(date), 2);
  assert.equal(processesWith(`pothole-stage1-${date}`).length, 0);
});

test('start_spark fails naming the worker whose daemon died and cannot be started', async () => {
  // Worker 2 dies; its stale pid file now names a live java process (the master), so the start script
  // believes it runs and never starts it again: the master sees only one worker.
  const pidDir = /SPARK_PID_DIR=(\S+)/.exec(
    fs.readFileSync(path.join(sparkHome, 'conf', 'spark-env.sh'), 'utf8'),
  )![1]!;
  const pidFiles = fs.readdirSync(pidDir);
  const worker2 = path.join(
    pidDir,
    pidFiles.find((f) => /deploy\.worker\.Worker-2\.pid$/.test(f))!,
  );
  const masterPid = fs.readFileSync(
    path.join(
      pidDir,
      pidFiles.find((f) => /deploy\.master\.Master-1\.pid$/.test(f))!,
    ),
    'utf8',
  );
  const workerPid = fs.readFileSync(worker2, 'utf8').trim();
  spawnSync('kill', ['-KILL', workerPid]);
  fs.writeFileSync(worker2, masterPid);
  await waitUntil('the master noticed', () => spawnSync('ps', ['-p', workerPid]).status !== 0, 10_000);
  try {
    const quick = build({}, { ...TIMING, workersTimeoutMs: 8_000 });
    await rejectsWith(new ActivityHarness().run(quick.start_spark, stepInput('2030-01-01')), (e) => {
      assert.equal(e.type, 'SparkWorkersMissing');
      assert.equal(e.nonRetryable, false);
      assert.match(e.message, /only 1 of 2 workers came up/);
      assert.match(e.message, new RegExp(`one of ${cluster.workerIds[0]} .*${cluster.workerIds[1]}`));
    });
  } finally {
    fs.rmSync(worker2, { force: true });
  }
  // With the stale pid file gone, start_spark heals the cluster.
  const healed = await new ActivityHarness().run(acts.start_spark, stepInput('2030-01-01'));
  assert.equal(healed.aliveWorkers, 2);
});

test('stop_spark says so when the history server died during the session, with what its start script printed', async () => {
  const date = '2030-01-08';
  const first = await new ActivityHarness().run(acts.stop_spark, stepInput(date));
  assert.equal(first.historyServerNote, undefined, 'it ran until this stop');
  const started = await new ActivityHarness().run(acts.start_spark, stepInput(date));
  assert.equal(started.aliveWorkers, 2);
  const history = () => processesWith('deploy.history.HistoryServer');
  await waitUntil('the history server runs', () => history().length > 0);
  for (const line of history()) spawnSync('kill', ['-KILL', line.trim().split(/\s+/)[1]!]);
  await waitUntil('the history server is gone', () => history().length === 0);
  const r = await new ActivityHarness().run(acts.stop_spark, stepInput(date));
  assert.match(r.historyServerNote ?? '', /history server was not running when Spark was stopped/);
  assert.match(r.historyServerNote ?? '', /start-history-server\.sh said: .*HistoryServer/);
  assert.deepEqual(sparkDaemons(), []);
});

test('stop_spark kills our drivers and leaves no Spark daemon running; it is idempotent', async () => {
  const date = '2030-01-07';
  control(date, { sleep: 120 });
  const h = new ActivityHarness();
  // Settles while stop_spark runs: keep its outcome instead of leaving a rejection unhandled.
  const running = h.run(acts.run_stage1, stepInput(date)).then(
    () => undefined,
    (err: unknown) => err,
  );
  await waitUntil('the driver started', () => launches(date) === 1);
  const r = await new ActivityHarness().run(acts.stop_spark, stepInput(date));
  assert.equal(r.masterRunning, true);
  assert.deepEqual(r.driversKilled, [`${date}-stage1`]);
  const outcome = await running;
  assert.ok(outcome instanceof ApplicationFailure, 'the stage attempt fails');
  assert.match(outcome.message, /died without an exit status/);
  assert.deepEqual(sparkDaemons(), []);
  assert.deepEqual(processesWith(jobDir), [], 'none of our drivers is left');
  assert.equal(await masterJson(), undefined);
  const again = await new ActivityHarness().run(acts.stop_spark, stepInput(date));
  assert.deepEqual(again.driversKilled, []);
});

test('stop_spark with the master instance stopped succeeds at once', async () => {
  await ec2.send(new StopInstancesCommand({ InstanceIds: [cluster.masterId] }));
  const r = await new ActivityHarness().run(acts.stop_spark, stepInput('2030-01-01'));
  assert.equal(r.masterRunning, false);
});
