/**
 * `pothole doctor`, run as the on-call engineer runs it, against the local stack: on a healthy stack every check
 * passes; each part broken in turn (a stopped service, a changed host key, a missing entry file, a paused
 * schedule, a refused SMTP login, an unknown instance, …) makes exactly its own check fail, with its fix.
 * The schedules are created on a task queue of this file's own; the SMTP login is checked against a second
 * SMTP sink started with a required login; Slack and Kakao are local stand-ins.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { loadConfig } from '../../../src/config';
import { uploadSparkCode } from '../../../src/demo/upload';
import { yesterdayInSeoul } from '../../../src/shared/steps';
import { readMigrations } from '../../../src/db/migrate';
import { runDoctor, type CheckResult } from '../../../src/cli/doctor';
import { exitCode } from '../../../src/cli/doctor/format';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../support/database';
import {
  portAnswers,
  restoreStack,
  stopPostgres,
  stopSmtpSink,
  waitUntilClosed,
} from '../../support/services';
import { SlackSink } from '../../support/slack-sink';
import {
  REPO_ROOT,
  stackEc2Client,
  stackEnv,
  stackProcessEnv,
  stackS3Client,
  uniqueName,
} from '../../support/stack';
import { runPothole, type CliOutcome } from '../../support/worker-process';
import { createTestCluster, type TestCluster } from '../activities/cluster-support';
import { deletePrefix, putObject } from '../activities/serving-support';
import {
  fakeKakao,
  listening,
  silentServer,
  startSmtpSinkWithLogin,
  writeOtherHostKey,
} from './doctor-support';

const base = stackEnv();
const config = loadConfig(['temporal', 's3', 'ssh', 'postgres', 'email'], base);
const bucket = config.s3.S3_BUCKET;
const taskQueue = uniqueName('doctor');
const codePrefix = uniqueName('test-doctor-code');
const noEntryPrefix = uniqueName('test-doctor-code-no-entry');
const rawPrefix = uniqueName('test-doctor-raw');
const smtpLogin = { user: 'doctor', password: crypto.randomBytes(12).toString('hex') };
const kakaoKey = `kakao-${crypto.randomBytes(8).toString('hex')}`;
const slackSecretPath = `T0/B0/${crypto.randomBytes(8).toString('hex')}`;
const UNKNOWN_INSTANCE = 'i-0123456789abcdef0';
/** Every check's name, in the order the doctor reports them. */
const ALL = [
  'configuration',
  'temporal',
  'schedule pothole-nightly',
  'schedule pothole-watchdog',
  'cluster instances',
  'cluster start/stop permission',
  'ssh to the master',
  'spark job code',
  'input data',
  'postgresql',
  'smtp',
  'slack',
  'kakao',
];

let tmp: string;
let s3: S3Client;
let cluster: TestCluster;
let db: ThrowawayDatabase;
let unmigrated: ThrowawayDatabase;
let temporal: Client;
let slack: SlackSink;
let kakao: http.Server;
let silent: net.Server;
let loginSink: { port: number; stop(): void };
let silentSmtpPort: number;
let healthy: NodeJS.ProcessEnv;

/** A known_hosts file naming the stack's SSH address with a key its server does not have. */
const knownHostsWithOtherKey = () =>
  writeOtherHostKey(path.join(tmp, 'known_hosts'), config.ssh.SSH_HOST!, config.ssh.SSH_PORT);

function pothole(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/pothole.js'), ...args], {
    encoding: 'utf8',
    env,
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `pothole ${args.join(' ')}: ${r.stderr}`);
}

async function doctor(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<CliOutcome & { results: CheckResult[] }> {
  const out = await runPothole(env, 'doctor', '--json', ...args);
  let results: CheckResult[];
  try {
    results = JSON.parse(out.stdout) as CheckResult[];
  } catch {
    assert.fail(`pothole doctor printed no JSON (exit ${out.status}):\n${out.stdout}\n${out.stderr}`);
  }
  return { ...out, results };
}

/**
 * The same report without a process of its own: the CLI's start-up (compiling the sources) is what costs time
 * here, and the command itself is run as a process by the other tests.
 */
async function doctorInProcess(env: NodeJS.ProcessEnv): Promise<CliOutcome & { results: CheckResult[] }> {
  const results = await runDoctor({ sendTest: false, timeoutMs: 10_000 }, env, REPO_ROOT);
  return { status: exitCode(results), stdout: '', stderr: '', results };
}

const result = (results: CheckResult[], name: string) => {
  const found = results.find((r) => r.name === name);
  assert.ok(found, `no result for ${name}: ${JSON.stringify(results)}`);
  return found;
};
const withStatus = (results: CheckResult[], status: CheckResult['status']) =>
  results.filter((r) => r.status === status).map((r) => r.name);

/** Exactly the named check has a problem, with a detail and a fix as given; exit code 1. */
function onlyProblem(
  outcome: CliOutcome & { results: CheckResult[] },
  name: string,
  detail: RegExp,
  fix: RegExp,
): CheckResult {
  assert.equal(outcome.status, 1, outcome.stderr);
  assert.deepEqual(withStatus(outcome.results, 'problem'), [name], JSON.stringify(outcome.results, null, 1));
  const r = result(outcome.results, name);
  assert.match(r.detail, detail);
  assert.match(r.fix ?? '', fix);
  return r;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-doctor-'));
  s3 = stackS3Client();
  const ec2 = stackEc2Client();
  [cluster, db, unmigrated] = await Promise.all([
    createTestCluster(ec2, 2),
    createThrowawayDatabase('doctor'),
    createThrowawayDatabase('doctor_unmigrated', { migrate: false }),
  ]);
  ec2.destroy();
  const spark = path.join(REPO_ROOT, 'spark');
  await uploadSparkCode({ s3, bucket, codePrefix, dir: spark });
  await uploadSparkCode({ s3, bucket, codePrefix: noEntryPrefix, dir: spark });
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${noEntryPrefix}/stage2/main.py` }));
  await putObject(s3, bucket, `${rawPrefix}/dt=${yesterdayInSeoul(new Date())}/part-0.json`, '{"v":1}\n');

  slack = new SlackSink();
  await slack.start();
  kakao = fakeKakao(kakaoKey);
  const kakaoPort = await listening(kakao);
  silent = silentServer();
  silentSmtpPort = await listening(silent);
  loginSink = await startSmtpSinkWithLogin(smtpLogin, path.join(tmp, 'mail'));

  healthy = stackProcessEnv({
    TEMPORAL_TASK_QUEUE: taskQueue,
    // Far apart, so that no watchdog round starts while the schedules exist.
    WATCHDOG_INTERVAL_SECONDS: '86400',
    ...cluster.byIds,
    S3_CODE_PREFIX: codePrefix,
    S3_RAW_DATA_PREFIX: rawPrefix,
    POSTGRES_DB: db.name,
    SMTP_PORT: String(loginSink.port),
    SMTP_USER: smtpLogin.user,
    SMTP_PASSWORD: smtpLogin.password,
    SLACK_WEBHOOK_URL: slack.url(slackSecretPath),
    KAKAO_REST_API_KEY: kakaoKey,
    KAKAO_API_URL: `http://127.0.0.1:${kakaoPort}`,
  });

  // The schedules have fixed IDs: start from none, as the schedule tests do, then create them for this queue.
  spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/pothole.js'), 'schedule', 'delete'], {
    env: healthy,
  });
  pothole(healthy, 'schedule', 'create');
  temporal = new Client({
    connection: await Connection.connect({ address: config.temporal.TEMPORAL_ADDRESS }),
    namespace: config.temporal.TEMPORAL_NAMESPACE,
  });
});

after(async () => {
  spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/pothole.js'), 'schedule', 'delete'], {
    env: healthy,
  });
  for await (const w of temporal.workflow.list({
    query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
  })) {
    await temporal.workflow
      .getHandle(w.workflowId)
      .terminate('test finished')
      .catch(() => undefined);
  }
  await temporal?.connection.close();
  loginSink?.stop();
  await slack?.stop();
  kakao?.close();
  silent?.close();
  await cluster?.terminate();
  await Promise.all([db?.drop(), unmigrated?.drop()]);
  for (const prefix of [codePrefix, noEntryPrefix, rawPrefix]) await deletePrefix(s3, bucket, `${prefix}/`);
  s3?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('pothole doctor', () => {
  it('on a healthy stack reports every check ok, sends the Slack test message and prints no secret', async () => {
    const since = slack.messages.length;
    const out = await doctor(healthy, '--send-test');
    assert.equal(out.status, 0, out.stdout + out.stderr);
    assert.deepEqual(
      out.results.map((r) => r.name),
      ALL,
    );
    assert.deepEqual(withStatus(out.results, 'ok'), ALL, JSON.stringify(out.results, null, 1));
    assert.match(
      result(out.results, 'input data').detail,
      /1 object\(s\), 8 bytes for \d{4}-\d\d-\d\d \(yesterday in Asia\/Seoul\)/,
    );
    assert.match(
      result(out.results, 'cluster start/stop permission').detail,
      /permitted for 3 instance\(s\)/,
    );
    assert.match(result(out.results, 'smtp').detail, /accepted the login of doctor/);
    assert.match(
      result(out.results, 'temporal').detail,
      /namespace default exists, keeps closed runs for 31 days/,
    );
    assert.equal(slack.messages.length, since + 1);
    assert.match(slack.messages.at(-1)!.text, /pothole doctor/);
    for (const secret of [smtpLogin.password, kakaoKey, slackSecretPath, base.POSTGRES_PASSWORD!]) {
      assert.ok(!out.stdout.includes(secret) && !out.stderr.includes(secret), 'a secret was printed');
    }
    // The instances were only asked about: still stopped.
    const human = await runPothole(healthy, 'doctor');
    assert.equal(human.status, 0, human.stdout);
    console.log(human.stdout);
    assert.equal(human.stdout.trim().split('\n').length, ALL.length);
    assert.match(human.stdout, /^ok {6}cluster instances: .*\(master, stopped\)/m);
  });

  it('names each broken part with its fix, and only that one', async () => {
    const [
      hostKey,
      entryFile,
      unknownInstance,
      smtpPassword,
      kakaoRefused,
      pending,
      settings,
      namespace,
      stoppedMaster,
    ] = await Promise.all([
      doctorInProcess({ ...healthy, SSH_KNOWN_HOSTS_PATH: knownHostsWithOtherKey() }),
      doctorInProcess({ ...healthy, S3_CODE_PREFIX: noEntryPrefix }),
      doctorInProcess({
        ...healthy,
        WORKER_INSTANCE_IDS: `${cluster.workerIds.join(',')},${UNKNOWN_INSTANCE}`,
      }),
      doctorInProcess({ ...healthy, SMTP_PASSWORD: 'not-the-password' }),
      doctorInProcess({ ...healthy, KAKAO_REST_API_KEY: 'not-the-key' }),
      doctorInProcess({ ...healthy, POSTGRES_DB: unmigrated.name }),
      doctorInProcess({ ...healthy, S3_BUCKET: '', SSH_PORT: 'twenty-two' }),
      doctorInProcess({ ...healthy, TEMPORAL_NAMESPACE: 'no-such-namespace' }),
      // As on EC2: the master is reached at its private IP, which a stopped instance does not have.
      doctorInProcess({ ...healthy, SSH_HOST: '' }),
    ]);

    onlyProblem(
      hostKey,
      'ssh to the master',
      /HOST KEY MISMATCH for \[127\.0\.0\.1\]:2222/,
      /ssh-keygen -R '\[127\.0\.0\.1\]:2222' -f \S+known_hosts && ssh-keyscan -p 2222 127\.0\.0\.1 >> /,
    );
    onlyProblem(
      namespace,
      'temporal',
      /127\.0\.0\.1:7233 answers but has no namespace no-such-namespace/,
      /temporal operator namespace create --namespace no-such-namespace/,
    );
    assert.deepEqual(withStatus(namespace.results, 'skipped'), [
      'schedule pothole-nightly',
      'schedule pothole-watchdog',
    ]);
    assert.equal(stoppedMaster.status, 0);
    assert.deepEqual(withStatus(stoppedMaster.results, 'skipped'), ['ssh to the master']);
    assert.equal(
      result(stoppedMaster.results, 'ssh to the master').detail,
      `the master ${cluster.masterId} is stopped: SSH can only be checked while it runs (the doctor does not start it)`,
    );
    onlyProblem(entryFile, 'spark job code', /stage2\/ has no main\.py/, /pothole deploy-code spark/);
    onlyProblem(unknownInstance, 'cluster instances', new RegExp(UNKNOWN_INSTANCE), /WORKER_INSTANCE_IDS/);
    assert.equal(result(unknownInstance.results, 'cluster start/stop permission').status, 'skipped');
    onlyProblem(smtpPassword, 'smtp', /refused the login of doctor/, /SMTP_PASSWORD/);
    onlyProblem(kakaoRefused, 'kakao', /refused: .* answered 401/, /KAKAO_REST_API_KEY/);
    const shipped = readMigrations();
    onlyProblem(
      pending,
      'postgresql',
      new RegExp(`${shipped.length} migration\\(s\\) not applied: ${shipped.map((m) => m.file).join(', ')}`),
      /^pothole db migrate$/,
    );

    // Broken settings: every problem at once; the checks that need them are skipped, the others still run.
    assert.equal(settings.status, 1);
    assert.deepEqual(withStatus(settings.results, 'problem'), ['configuration']);
    assert.match(
      result(settings.results, 'configuration').detail,
      /S3_BUCKET is required; SSH_PORT must be a port number/,
    );
    assert.deepEqual(withStatus(settings.results, 'skipped'), [
      'ssh to the master',
      'spark job code',
      'input data',
    ]);
    assert.match(
      result(settings.results, 'spark job code').detail,
      /needs the s3 settings, which are invalid/,
    );
  });

  it('gives up on a server that accepts and never answers after the time limit', async () => {
    const started = Date.now();
    const hung = await doctor({ ...healthy, SMTP_PORT: String(silentSmtpPort) }, '--timeout', '3');
    onlyProblem(hung, 'smtp', /no answer within 3 s/, /start the SMTP server, or fix SMTP_HOST \/ SMTP_PORT/);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds < 15, `the doctor took ${seconds} s`);
  });

  it('reports a paused nightly schedule with the command that unpauses it', async () => {
    const handle = temporal.schedule.getHandle('pothole-nightly');
    await handle.pause('paused by the doctor test');
    try {
      const out = await doctor(healthy);
      onlyProblem(
        out,
        'schedule pothole-nightly',
        /is paused \(note: paused by the doctor test\)/,
        /temporal schedule toggle --unpause --schedule-id pothole-nightly/,
      );
    } finally {
      await handle.unpause('doctor test done');
    }
  });

  it('reports a namespace that keeps closed runs less than a month, with the command that keeps them longer', async () => {
    // A namespace of its own: the stack's default one keeps a month of runs (stack/up.sh), as it should.
    const namespace = uniqueName('doctor-one-day');
    await temporal.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const out = await doctor({ ...healthy, TEMPORAL_NAMESPACE: namespace });
    const check = result(out.results, 'temporal');
    assert.equal(check.status, 'problem', JSON.stringify(check));
    assert.match(
      check.detail,
      new RegExp(`namespace ${namespace} keeps closed runs only 1 day: pothole status, pothole cost`),
    );
    assert.equal(check.fix, `temporal operator namespace update --namespace ${namespace} --retention 744h`);
    assert.equal(out.status, 1);
  });

  it('reports a stopped PostgreSQL', async () => {
    stopPostgres();
    try {
      await waitUntilClosed(config.postgres.host, config.postgres.port);
      const human = await runPothole(healthy, 'doctor');
      console.log(human.stdout);
      assert.equal(human.status, 1);
      assert.match(
        human.stdout,
        /^PROBLEM postgresql: 127\.0\.0\.1:55432\/\S+ is not reachable: .*ECONNREFUSED.*\n {2}fix: start PostgreSQL/m,
      );
      assert.equal((human.stdout.match(/^PROBLEM/gm) ?? []).length, 1, human.stdout);
    } finally {
      restoreStack();
    }
    assert.ok(await portAnswers(config.postgres.host, config.postgres.port), 'PostgreSQL answers again');
  });

  it('reports a stopped SMTP sink', async () => {
    const { host, port } = config.email.smtp;
    const sharedSink = { ...healthy, SMTP_PORT: String(port), SMTP_USER: '', SMTP_PASSWORD: '' };
    stopSmtpSink();
    try {
      await waitUntilClosed(host, port);
      onlyProblem(
        await doctor(sharedSink),
        'smtp',
        /cannot reach 127\.0\.0\.1:2525: .*ECONNREFUSED/,
        /start the SMTP server/,
      );
    } finally {
      restoreStack();
    }
    assert.ok(await portAnswers(host, port), 'the SMTP sink answers again');
  });
});
