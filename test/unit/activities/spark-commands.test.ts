/**
 * The composed remote commands, run by a real local /bin/sh (no SSH): spark-submit argv, and the driver
 * launcher's attach / replace / finished decisions with a stand-in driver.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { loadConfig } from '../../../src/config';
import {
  appName,
  followScript,
  killAllDriversScript,
  killScript,
  launchScript,
  sparkSubmitArgs,
} from '../../../src/activities/spark/scripts';
import { sh, type ShellCommand } from '../../../src/activities/shell-quote';

const env = {
  S3_BUCKET: 'pothole-data',
  SPARK_HOME: '/opt/spark',
  SPARK_JOB_DIR: '/home/ubuntu/spark-job',
  SPARK_EXTRA_CONF: 'spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:4566,spark.x=a b',
};

test('spark-submit follows the job contract, every part from configuration; no --packages by default', () => {
  const config = loadConfig(['spark', 's3'], env);
  const argv = sparkSubmitArgs(config, {
    stage: 'stage1',
    batchDate: '2026-02-12',
    masterUrl: 'spark://10.0.1.10:7077',
  });
  assert.deepEqual(argv, [
    '/opt/spark/bin/spark-submit',
    '--master',
    'spark://10.0.1.10:7077',
    '--deploy-mode',
    'client',
    '--name',
    'pothole-stage1-2026-02-12',
    '--driver-memory',
    '2g',
    '--executor-memory',
    '4g',
    '--executor-cores',
    '2',
    '--total-executor-cores',
    '8',
    '--conf',
    'spark.sql.adaptive.enabled=true',
    '--conf',
    'spark.pothole.bucket=pothole-data',
    '--conf',
    'spark.pothole.prefix.raw=raw-sensor-data',
    '--conf',
    'spark.pothole.prefix.stage1=stage1_anomaly_detected',
    '--conf',
    'spark.pothole.prefix.stage2=stage2_spatial_clustering',
    '--conf',
    'spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:4566',
    '--conf',
    'spark.x=a b',
    '--py-files',
    '/home/ubuntu/spark-job/stage1/common.py',
    '/home/ubuntu/spark-job/stage1/main.py',
    '--env',
    'stage1',
    '--batch-date',
    '2026-02-12',
  ]);
});

test('SPARK_PACKAGES adds --packages; "none" leaves it out', () => {
  const submit = (packages: string) =>
    sparkSubmitArgs(loadConfig(['spark', 's3'], { ...env, SPARK_PACKAGES: packages }), {
      stage: 'stage2',
      batchDate: '2026-02-12',
      masterUrl: 'spark://m:7077',
    });
  const withAws = submit('org.apache.hadoop:hadoop-aws:3.3.4');
  assert.deepEqual(withAws.slice(withAws.indexOf('--packages'), withAws.indexOf('--packages') + 2), [
    '--packages',
    'org.apache.hadoop:hadoop-aws:3.3.4',
  ]);
  const none = submit('none');
  assert.ok(!none.includes('--packages'));
  assert.equal(none.at(-5), '/home/ubuntu/spark-job/stage2/main.py');
});

test("another team's layout: entry, --py-files, the stage's --conf and arguments from settings, placeholders filled", () => {
  const config = loadConfig(['spark', 's3'], {
    ...env,
    SPARK_STAGE1_ENTRY: 'stage1_anomaly_detection.py',
    SPARK_STAGE1_PY_FILES: 'connection_{stage}.py, lib/helpers.py',
    SPARK_STAGE1_CONF: 'spark.team.run={stage}-{batchDate},spark.team.mode=nightly',
    SPARK_STAGE1_ARGS: "--env {stage}  --batch-date {batchDate} --note it's",
  });
  const argv = sparkSubmitArgs(config, {
    stage: 'stage1',
    batchDate: '2026-02-12',
    masterUrl: 'spark://m:7077',
  });
  // The stage's own confs come after SPARK_EXTRA_CONF, and the reference files are gone.
  assert.deepEqual(argv.slice(argv.indexOf('spark.x=a b') + 1), [
    '--conf',
    'spark.team.run=stage1-2026-02-12',
    '--conf',
    'spark.team.mode=nightly',
    '--py-files',
    '/home/ubuntu/spark-job/stage1/connection_stage1.py,/home/ubuntu/spark-job/stage1/lib/helpers.py',
    '/home/ubuntu/spark-job/stage1/stage1_anomaly_detection.py',
    '--env',
    'stage1',
    '--batch-date',
    '2026-02-12',
    '--note',
    "it's",
  ]);
  // The other stage keeps the reference layout.
  const stage2 = sparkSubmitArgs(config, {
    stage: 'stage2',
    batchDate: '2026-02-12',
    masterUrl: 'spark://m:7077',
  });
  assert.deepEqual(stage2.slice(-7), [
    '--py-files',
    '/home/ubuntu/spark-job/stage2/common.py',
    '/home/ubuntu/spark-job/stage2/main.py',
    '--env',
    'stage2',
    '--batch-date',
    '2026-02-12',
  ]);
});

test('SPARK_STAGEn_PY_FILES=none submits without --py-files; the arguments reach the driver quoted, one word each', () => {
  const config = loadConfig(['spark', 's3'], {
    ...env,
    SPARK_STAGE2_ENTRY: 'jobs/{stage}.py',
    SPARK_STAGE2_PY_FILES: 'none',
    SPARK_STAGE2_ARGS: "--date={batchDate} --label it's;rm",
  });
  const argv = sparkSubmitArgs(config, {
    stage: 'stage2',
    batchDate: '2026-02-12',
    masterUrl: 'spark://m:7077',
  });
  assert.ok(!argv.includes('--py-files'));
  assert.deepEqual(argv.slice(-4), [
    '/home/ubuntu/spark-job/stage2/jobs/stage2.py',
    '--date=2026-02-12',
    '--label',
    "it's;rm",
  ]);
  // Through the launcher's quoting, a shell sees exactly these words.
  const printed = runSh(sh`printf '%s\\n' ${argv.slice(-3)}`).stdout;
  assert.equal(printed, "--date=2026-02-12\n--label\nit's;rm\n");
});

// ---- the driver launcher, with a stand-in driver ------------------------------------------------------

let dir: string;
const runSh = (cmd: ShellCommand, timeoutMs = 30_000) => {
  const r = spawnSync('/bin/sh', ['-c', cmd.text], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
/** A live (non-zombie) process in the session. */
const alive = (pid: string) =>
  spawnSync('ps', ['-o', 'stat=', '-s', pid], { encoding: 'utf8' })
    .stdout.split('\n')
    .some((s) => s.trim() !== '' && !s.startsWith('Z'));

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-commands-test-'));
});
after(() => {
  // Whatever a failed test left running: kill it by its session id.
  for (const d of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const pidFile = path.join(dir, d, 'pid');
    if (fs.existsSync(pidFile)) spawnSync('pkill', ['-KILL', '-s', fs.readFileSync(pidFile, 'utf8').trim()]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A stand-in driver: appends to a launch log, sleeps, exits with `code`. The app name is in its argv. */
function driver(run: string, app: string, seconds: number, code = 0): string[] {
  const script = `echo launched >> ${JSON.stringify(path.join(dir, `${run}.launches`))}; echo "line one"; sleep ${seconds}; echo "line two"; exit ${code}`;
  return ['sh', '-c', script, app];
}

function launch(run: string, owner: string, argv: string[]) {
  const r = runSh(
    launchScript({ dir: path.join(dir, run), owner, app: argv[3]!, argv, killGraceSeconds: 2 }),
  );
  const [verb, ...fields] = r.stdout.trim().split('\n').at(-1)!.split(' ');
  return { ...r, verb, fields };
}

async function waitFor(cond: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a second launch by the same run attaches to the running driver instead of starting another', async () => {
  const app = appName('stage1', '2026-01-01');
  const first = launch('a', 'wf-1 run-1', driver('a', app, 3));
  assert.equal(first.verb, 'LAUNCHED', first.stderr);
  const pid = first.fields[0]!;
  assert.ok(alive(pid));
  const second = launch('a', 'wf-1 run-1', driver('a', app, 3));
  assert.equal(second.verb, 'ATTACH');
  assert.equal(second.fields[0], pid);
  await waitFor(() => fs.existsSync(path.join(dir, 'a', 'exit')));
  assert.match(fs.readFileSync(path.join(dir, 'a', 'exit'), 'utf8'), /^0 \d+\n$/);
  assert.equal(fs.readFileSync(path.join(dir, 'a.launches'), 'utf8'), 'launched\n');
  assert.match(fs.readFileSync(path.join(dir, 'a', 'log'), 'utf8'), /line one\nline two\n/);
  const third = launch('a', 'wf-1 run-1', driver('a', app, 3));
  assert.equal(third.verb, 'DONE', 'a finished driver of the same run is reported, not relaunched');
  assert.equal(third.fields[0], '0');
  assert.equal(fs.readFileSync(path.join(dir, 'a.launches'), 'utf8'), 'launched\n');
});

test('a driver of another run is killed (whole session) and replaced', async () => {
  const app = appName('stage1', '2026-01-02');
  const orphan = launch('b', 'wf-old run-old', driver('b', app, 60));
  assert.equal(orphan.verb, 'LAUNCHED');
  const replacement = launch('b', 'wf-new run-new', driver('b', app, 1));
  assert.equal(replacement.verb, 'LAUNCHED');
  assert.match(replacement.stderr, /REPLACED driver \d+ of another run \(wf-old run-old\)/);
  assert.ok(!alive(orphan.fields[0]!), 'the orphan session is gone');
  assert.notEqual(replacement.fields[0], orphan.fields[0]);
  assert.equal(fs.readFileSync(path.join(dir, 'b', 'owner'), 'utf8'), 'wf-new run-new\n');
  await waitFor(() => fs.existsSync(path.join(dir, 'b', 'exit')));
});

test('a driver of this run that died without an exit status is relaunched', () => {
  const app = appName('stage2', '2026-01-03');
  const first = launch('c', 'wf-1 run-1', driver('c', app, 60));
  execFileSync('pkill', ['-KILL', '-s', first.fields[0]!]);
  const again = launch('c', 'wf-1 run-1', driver('c', app, 1));
  assert.equal(again.verb, 'LAUNCHED');
  assert.match(again.stderr, /RESTART/);
  assert.equal(fs.readFileSync(path.join(dir, 'c.launches'), 'utf8'), 'launched\nlaunched\n');
  assert.ok(fs.existsSync(path.join(dir, 'c', 'log.previous')), 'the dead driver log is kept');
  runSh(killScript({ dir: path.join(dir, 'c'), pid: again.fields[0]!, app, graceSeconds: 1 }));
});

test('a finished driver of another run is launched again for this run', async () => {
  const app = appName('stage2', '2026-01-04');
  const old = launch('d', 'wf-old run-old', driver('d', app, 0, 0));
  await waitFor(() => fs.existsSync(path.join(dir, 'd', 'exit')));
  const fresh = launch('d', 'wf-new run-new', driver('d', app, 0, 3));
  assert.equal(fresh.verb, 'LAUNCHED');
  assert.notEqual(fresh.fields[0], old.fields[0]);
  await waitFor(() => fs.existsSync(path.join(dir, 'd', 'exit')));
  assert.match(fs.readFileSync(path.join(dir, 'd', 'exit'), 'utf8'), /^3 /, 'the exit status is recorded');
});

test('killScript stops the driver session and its children', () => {
  const app = appName('stage1', '2026-01-05');
  const l = launch('e', 'wf run', driver('e', app, 60));
  const pid = l.fields[0]!;
  const r = runSh(killScript({ dir: path.join(dir, 'e'), pid, app, graceSeconds: 2 }));
  assert.match(r.stdout, new RegExp(`KILLED ${pid}`));
  assert.ok(!alive(pid));
  assert.match(
    runSh(killScript({ dir: path.join(dir, 'e'), pid, app, graceSeconds: 2 })).stdout,
    /NOT_RUNNING/,
  );
});

test('killScript does not touch a process whose session is not our driver', () => {
  const other = spawnSync('setsid', ['-f', 'sh', '-c', 'echo $$; exec sleep 30 >/dev/null 2>&1'], {
    encoding: 'utf8',
  });
  const pid = other.stdout.trim();
  try {
    const r = runSh(
      killScript({ dir: path.join(dir, 'x'), pid, app: appName('stage1', '2026-01-06'), graceSeconds: 1 }),
    );
    assert.match(r.stdout, /NOT_RUNNING/);
    assert.ok(alive(pid));
  } finally {
    spawnSync('pkill', ['-KILL', '-s', pid]);
  }
});

test('killAllDriversScript kills every driver still running under the job folder', () => {
  const jobDir = path.join(dir, 'job');
  const runRoot = path.join(jobDir, 'run');
  fs.mkdirSync(runRoot, { recursive: true });
  const pids: string[] = [];
  for (const [n, stage] of [
    [1, 'stage1'],
    [2, 'stage2'],
  ] as const) {
    const app = appName(stage, `2026-02-0${n}`);
    const argv = driver(`all${n}`, app, 60);
    const r = runSh(
      launchScript({
        dir: path.join(runRoot, `2026-02-0${n}-${stage}`),
        owner: 'o',
        app,
        argv,
        killGraceSeconds: 1,
      }),
    );
    pids.push(r.stdout.trim().split(' ')[1]!);
  }
  const r = runSh(killAllDriversScript({ jobDir, graceSeconds: 1 }));
  assert.match(r.stdout, /KILLED 2026-02-01-stage1/);
  assert.match(r.stdout, /KILLED 2026-02-02-stage2/);
  for (const pid of pids) assert.ok(!alive(pid));
  assert.equal(runSh(killAllDriversScript({ jobDir, graceSeconds: 1 })).stdout, '', 'nothing left to kill');
});

test('followScript streams the log from an offset and ends when the driver ends', () => {
  const app = appName('stage1', '2026-01-07');
  const l = launch('f', 'wf run', driver('f', app, 2));
  const r = runSh(followScript({ dir: path.join(dir, 'f'), pid: l.fields[0]!, app, offset: 5 }));
  assert.equal(r.stdout, 'one\nline two\n');
  assert.match(r.stderr, /@@alive \d+/);
});
