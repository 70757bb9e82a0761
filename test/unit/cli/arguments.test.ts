/**
 * Bad arguments give one clear message and exit 2, before anything is contacted: the CLI is pointed at a Temporal
 * address where nothing listens, so any attempt to start a run would show up as a connection error. A failure
 * while running (that connection error) exits 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

const bin = path.resolve(__dirname, '../../../bin/pothole.js');
// An empty settings file, so that no .env of the folder the tests run from is read.
const noSettings = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-args-')), 'empty.env');
fs.writeFileSync(noSettings, '');
after(() => fs.rmSync(path.dirname(noSettings), { recursive: true, force: true }));

/**
 * The CLI's exit code and output. Run without blocking: the test runner's report must flow out while the CLI runs
 * (a report held back by a blocked process is lost at the runner's forced exit).
 */
function potholeWith(env: Record<string, string>, ...args: string[]) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH, TEMPORAL_ADDRESS: '127.0.0.1:1', POTHOLE_ENV_FILE: noSettings, ...env },
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
const pothole = (...args: string[]) => potholeWith({}, ...args);

describe('pothole CLI arguments', () => {
  const cases: [string[], RegExp][] = [
    [['run', '2026-02-30'], /DATE: batch date "2026-02-30" is not a real calendar date/],
    [['run', '2026-02-12; rm -rf /'], /is not written YYYY-MM-DD/],
    [
      ['run', '2026-02-12', '--from', 'run_stage3'],
      /--from: unknown step "run_stage3"; one of: check_s3_input, /,
    ],
    [['run', '2026-02-12', '--from', 'stop_cluster'], /--from: unknown step "stop_cluster"/],
    [['backfill', '2026-02-10', '2026-02-01'], /FROM 2026-02-10 is after TO 2026-02-01/],
    [['backfill', '2026-02-01', '2026-02-31'], /TO: batch date "2026-02-31" is not a real calendar date/],
    [['run', '--bogus'], /unknown option '--bogus'/],
    [['cancel'], /missing required argument 'date'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['list', '--last', 'many'], /--last must be a positive integer, got "many"/],
    [
      ['schedule', 'explode'],
      /'explode' is invalid for argument 'action'. Allowed choices are create, update/,
    ],
    [['doctor', '--timeout', 'soon'], /--timeout must be a positive number of seconds, got "soon"/],
    [
      ['complaints', 'load', '--from', '2026-02-30', '--to', '2026-03-01'],
      /FROM: batch date "2026-02-30" is not a real calendar date/,
    ],
    [
      ['complaints', 'load', '--from', '2026-03-10', '--to', '2026-03-01'],
      /FROM 2026-03-10 is after TO 2026-03-01/,
    ],
    [['complaints', 'load', '--to', '2026-03-01'], /required option '--from <date>' not specified/],
    [['cost', '--from', '2026-03-01'], /required option '--to <date>' not specified/],
    [['list', '--last'], /option '--last <n>' argument missing/],
    [['schedule'], /missing required argument 'action'/],
    [
      ['run', '0999-01-01'],
      /DATE: batch date "0999-01-01" is not written YYYY-MM-DD \(a year from 1000 to 9999\)/,
    ],
    [['backfill', '999-01-01', '2026-01-01'], /FROM: batch date "999-01-01" is not written YYYY-MM-DD/],
    [
      ['cost', '--from', '0026-01-01', '--to', '2026-01-01'],
      /--from: batch date "0026-01-01" is not written YYYY-MM-DD/,
    ],
    [
      // A typo in a year: ten years and more are refused before a cluster is started.
      ['backfill', '2016-01-01', '2026-12-31'],
      /FROM 2016-01-01 to TO 2026-12-31 is 4018 days, more than MAX_RANGE_DAYS \(3660\): split the range/,
    ],
    [
      ['cost', '--from', '1000-01-01', '--to', '9999-12-31'],
      /--from 1000-01-01 to --to 9999-12-31 is 3287182 days, more than MAX_RANGE_DAYS \(3660\)/,
    ],
    [
      ['complaints', 'load', '--from', '2000-01-01', '--to', '2026-03-01'],
      /FROM 2000-01-01 to TO 2026-03-01 is 9557 days, more than MAX_RANGE_DAYS \(3660\)/,
    ],
    [
      // Every missing setting at once, before anything is contacted.
      ['complaints', 'load', '--from', '2026-03-01', '--to', '2026-03-02'],
      /COMPLAINTS_API_KEY is required to load complaints[^]*POSTGRES_PASSWORD is required/,
    ],
  ];
  for (const [args, message] of cases) {
    it(`pothole ${args.join(' ')} → a clear error, exit 2, nothing started`, async () => {
      const r = await pothole(...args);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.doesNotMatch(r.err + r.out, /cannot reach the Temporal server|started/);
    });
  }

  it('MAX_RANGE_DAYS sets the longest range; a range of exactly that many days goes on to start', async () => {
    const longer = await potholeWith({ MAX_RANGE_DAYS: '10' }, 'backfill', '2026-01-01', '2026-01-11');
    assert.equal(longer.code, 2);
    assert.match(longer.err, /is 11 days, more than MAX_RANGE_DAYS \(10\)/);
    // Ten days pass the check: the start then fails on the Temporal server nobody runs, a runtime failure.
    const within = await potholeWith({ MAX_RANGE_DAYS: '10' }, 'backfill', '2026-01-01', '2026-01-10');
    assert.match(within.err, /cannot reach the Temporal server at 127\.0\.0\.1:1/);
    assert.equal(within.code, 1);
  });

  it('a failure while running exits 1: the Temporal server cannot be reached', async () => {
    const r = await pothole('status', '2026-02-12');
    assert.match(r.err, /cannot reach the Temporal server/);
    assert.equal(r.code, 1);
  });

  it('no command at all: the usage, exit 2', async () => {
    const r = await pothole();
    assert.match(r.err, /^Usage: pothole /);
    assert.equal(r.code, 2);
  });

  it('--help exits 0', async () => {
    assert.equal((await pothole('--help')).code, 0);
    assert.equal((await pothole('backfill', '--help')).code, 0);
  });

  it('every command has --help', async () => {
    for (const cmd of [
      'run',
      'status',
      'cancel',
      'list',
      'backfill',
      'schedule',
      'worker',
      'deploy-code',
      'demo-data',
      'doctor',
      'complaints',
    ]) {
      const r = await pothole(cmd, '--help');
      assert.equal(r.code, 0, `${cmd} --help: ${r.err}`);
      assert.match(r.out, new RegExp(`Usage: pothole ${cmd}`));
    }
  });
});

describe('pothole deploy-code', () => {
  const teamLayout = {
    SPARK_STAGE1_ENTRY: 'stage1_anomaly_detection.py',
    SPARK_STAGE1_PY_FILES: 'connection_stage1.py',
    SPARK_STAGE2_ENTRY: 'stage2_spatial_clustering.py',
    SPARK_STAGE2_PY_FILES: 'connection_stage2.py',
  };
  const jobs = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-deploy-args-'));
  after(() => fs.rmSync(jobs, { recursive: true, force: true }));
  for (const file of [
    'stage1/stage1_anomaly_detection.py',
    'stage1/connection_stage1.py',
    'stage2/stage2_spatial_clustering.py',
  ]) {
    fs.mkdirSync(path.dirname(path.join(jobs, file)), { recursive: true });
    fs.writeFileSync(path.join(jobs, file), '#');
  }

  it('names the entry or --py-file a stage lacks and its setting, before any S3 setting is needed', async () => {
    const r = await potholeWith(teamLayout, 'deploy-code', jobs);
    assert.equal(r.code, 2);
    assert.match(r.err, /no connection_stage2\.py for stage2 \(SPARK_STAGE2_PY_FILES\)/);
    assert.doesNotMatch(r.err, /main\.py|common\.py|S3_BUCKET/);
  });

  it('accepts a layout whose files the settings name (then asks for the bucket)', async () => {
    fs.writeFileSync(path.join(jobs, 'stage2/connection_stage2.py'), '#');
    const r = await potholeWith(teamLayout, 'deploy-code', jobs);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /S3_BUCKET is required/);
    assert.doesNotMatch(r.err, /cannot be deployed/);
  });
});
