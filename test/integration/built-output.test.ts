/**
 * The build the image runs: `npm run build`, then `node dist/cli/main.js worker --role all` (the image's ENTRYPOINT and
 * CMD) and `node dist/cli/main.js run DATE --from load_to_rdb --wait`, from a folder laid out like the image's /app
 * (dist/, bin/, spark/, package.json, node_modules) whose node_modules holds only the production dependencies, as
 * `npm ci --omit=dev` installs them: whatever would still need the TypeScript sources or a dev dependency at run time
 * (tsx, the local stack's SMTP sink and mail parser; the worker, the workflow bundle, load_to_rdb's decoder thread)
 * fails the run. One run through the serving steps, on the local stack; its log is the production log, one JSON
 * object a line.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config';
import { workflowIdFor } from '../../src/shared/steps';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../support/database';
import { REPO_ROOT, stackEnv, stackProcessEnv, stackS3Client, uniqueName } from '../support/stack';
import { putStage2Output, stage2Segments } from '../support/stage2-output';
import { startWorkerProcess, stopWorkerProcess } from '../support/worker-process';
import { deletePrefix } from './activities/serving-support';

const DIST = path.join(REPO_ROOT, 'dist');
const BUNDLE = path.join(DIST, 'workflow-bundle.js');
const date = '2026-06-21';
const ROWS = 300;
const config = loadConfig(['s3'], stackEnv());
const taskQueue = uniqueName('built-output');
const stage2Prefix = uniqueName('test-stage2-built');

let app: string;
let db: ThrowawayDatabase;
let s3: S3Client;
let worker: ChildProcess | undefined;
let log = '';

/** The newest modification time of the files a build is made from. */
function newestSource(): number {
  const inputs = ['src', 'scripts/build.ts', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
  return Math.max(
    ...inputs.flatMap((input) => {
      const full = path.join(REPO_ROOT, input);
      const files = fs.statSync(full).isDirectory()
        ? fs.readdirSync(full, { recursive: true, encoding: 'utf8' }).map((f) => path.join(full, f))
        : [full];
      return files.map((f) => fs.statSync(f).mtimeMs);
    }),
  );
}

/** The packages `npm ci --omit=dev` installs, as paths under the repository's node_modules (hoisted or nested). */
function productionPackages(): string[] {
  const listed = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  assert.equal(listed.status, 0, listed.stderr);
  const modules = path.join(REPO_ROOT, 'node_modules') + path.sep;
  return listed.stdout
    .split('\n')
    .filter((line) => line.startsWith(modules))
    .map((line) => line.slice(modules.length));
}

/** A copy of dist, bin/, spark/ and the production dependencies only, like the image's /app. */
function productionApp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-app-'));
  fs.cpSync(DIST, path.join(dir, 'dist'), { recursive: true });
  fs.cpSync(path.join(REPO_ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(REPO_ROOT, 'spark'), path.join(dir, 'spark'));
  // The hoisted packages, each linked at its own name; a nested one lives inside its hoisted parent.
  for (const name of productionPackages().filter((p) => !p.includes(`${path.sep}node_modules${path.sep}`))) {
    const link = path.join(dir, 'node_modules', name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(fs.realpathSync(path.join(REPO_ROOT, 'node_modules', name)), link);
  }
  return dir;
}

/** The environment of the image's processes: the stack's settings, and no NODE_OPTIONS (no `--import tsx`). */
function appEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = stackProcessEnv({
    POSTGRES_DB: db.name,
    TEMPORAL_TASK_QUEUE: taskQueue,
    S3_STAGE2_OUTPUT_PREFIX: stage2Prefix,
    CLUSTER_NAME: taskQueue,
    ...extra,
  });
  delete env.NODE_OPTIONS;
  return env;
}

function runBuilt(env: NodeJS.ProcessEnv, ...args: string[]) {
  const child = spawn(process.execPath, ['dist/cli/main.js', ...args], {
    cwd: app,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise<{ status: number | null; out: string }>((resolve) =>
    child.once('exit', (status) => resolve({ status, out })),
  );
}

before(async () => {
  const stale = !fs.existsSync(BUNDLE) || fs.statSync(BUNDLE).mtimeMs < newestSource();
  if (stale) {
    const started = Date.now();
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stdout + build.stderr);
    console.log(`npm run build: ${((Date.now() - started) / 1000).toFixed(1)} s; ${build.stdout.trim()}`);
  } else {
    console.log('dist is newer than every source: reusing it');
  }
  app = productionApp();
  db = await createThrowawayDatabase('built_output');
  s3 = stackS3Client();
  await putStage2Output(
    s3,
    config.s3.S3_BUCKET,
    `${stage2Prefix}/dt=${date}/`,
    stage2Segments(date, ROWS),
    3,
  );
});

after(async () => {
  await stopWorkerProcess(worker);
  await deletePrefix(s3, config.s3.S3_BUCKET, `${stage2Prefix}/`);
  s3.destroy();
  await db?.drop();
  if (app) fs.rmSync(app, { recursive: true, force: true });
});

test('the built worker runs a date through load_to_rdb, refresh_views and the report, with the production dependencies only', async () => {
  for (const devOnly of ['tsx/cjs', 'smtp-server', 'mailparser', 'typescript']) {
    assert.throws(
      () => require.resolve(devOnly, { paths: [path.join(app, 'dist')] }),
      `${devOnly} is not in the app`,
    );
  }
  // bin/pothole.js (`npx pothole`, `npm start`) runs the compiled entry where tsx is not installed.
  const version = spawnSync(process.execPath, ['bin/pothole.js', '--help'], {
    cwd: app,
    env: appEnv(),
    encoding: 'utf8',
  });
  assert.equal(version.status, 0, version.stdout + version.stderr);
  assert.match(version.stdout, /Usage: pothole/);
  const env = appEnv({ LOG_LEVEL: 'debug' });
  const started = Date.now();
  worker = await startWorkerProcess(env, ['--role', 'all'], (t) => (log += t), ['dist/cli/main.js'], app);
  const workerUp = Date.now();
  const run = await runBuilt(env, 'run', date, '--from', 'load_to_rdb', '--wait');
  const runDone = Date.now();
  // Everything it printed, to its last line (the stop line is written just before it exits).
  const closed = new Promise((resolve) => worker!.once('close', resolve));
  await stopWorkerProcess(worker);
  await closed;
  console.log(
    `worker up in ${((workerUp - started) / 1000).toFixed(1)} s; run ${((runDone - workerUp) / 1000).toFixed(1)} s\n` +
      run.out.trim(),
  );
  assert.equal(run.status, 0, run.out + log);
  assert.match(run.out, new RegExp(`rows loaded: ${ROWS}\\b`));
  assert.match(run.out, /email sent: yes/);
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pothole_segments WHERE date = $1',
    [date],
  );
  assert.equal(rows[0]!.n, ROWS);

  // The log: every line one JSON object; the prebuilt bundle, never a bundling at start.
  const lines = log.split('\n').filter(Boolean);
  const entries = lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      assert.fail(`not a JSON line in the worker's log: ${line}`);
    }
  });
  const said = (pattern: RegExp) => entries.filter((e) => pattern.test(String(e.message)));
  assert.equal(said(/^workflows from the prebuilt bundle /).length, 1, log);
  assert.equal(
    String(said(/^workflows from the prebuilt bundle /)[0]!.message).endsWith('/dist/workflow-bundle.js'),
    true,
  );
  assert.deepEqual(said(/Workflow bundle created/), [], 'the worker did not bundle the workflows');
  assert.equal(said(/^worker \(all\) serving /).length, 1);
  assert.equal(said(/^worker \(all\) stopped$/).length, 1, 'the stop line after SIGTERM');

  // Activity and workflow lines name the run, the date and the step.
  const workflowId = workflowIdFor(date);
  for (const step of ['load_to_rdb', 'refresh_views', 'send_email_report']) {
    const done = entries.find((e) => e.message === 'Activity completed' && e.step === step);
    assert.ok(done, `a completed line for ${step}`);
    assert.equal(done.workflowId, workflowId);
    assert.equal(done.batchDate, date);
  }
  const completed = entries.find((e) => e.message === 'Workflow completed' && e.workflowId === workflowId);
  assert.ok(completed, 'the workflow logs its completion at DEBUG');
  assert.equal(completed.batchDate, date);
  console.log(`the run's completion line: ${JSON.stringify(completed)}`);
  // The last step it scheduled: the Slack message that ends every run.
  assert.equal(completed.step, 'notify_slack');
  assert.ok(entries.every((e) => ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(String(e.level))));
});
