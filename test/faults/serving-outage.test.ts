/**
 * Outages of the serving side, caused for real on the local stack, through a real worker process and the
 * `pothole` CLI: PostgreSQL stopped with pg_ctl (as stack/down.sh does), the SMTP sink killed through its
 * pid file; both are restored with stack/up.sh, also when a test fails.
 *
 * The runs start with `pothole run DATE --from load_to_rdb`, with the day's Stage2 output written to S3
 * by the test: no cluster and no Spark, so the file takes minutes, not the length of two Spark stages.
 * The first test keeps PostgreSQL down for 80 s on purpose: the serving steps' earlier retry policy gave
 * up after about 70 s, and the issue reported a run failed by an 80 s outage.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { workflowIdFor } from '../../src/shared/steps';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../support/database';
import { portAnswers, restoreStack, stopPostgres, stopSmtpSink, waitUntilClosed } from '../support/services';
import {
  deliveredCopies,
  stackEnv,
  stackProcessEnv,
  stackS3Client,
  uniqueName,
  waitFor,
} from '../support/stack';
import { putStage2Output, stage2Segments } from '../support/stage2-output';
import {
  runPothole,
  startWorkerProcess,
  stopWorkerProcess,
  type CliOutcome,
} from '../support/worker-process';
import { deletePrefix } from '../integration/activities/serving-support';

/** Mail delivered before this file started (earlier runs of the suite) is not counted. */
const fileStarted = Date.now();

const base = stackEnv();
const config = loadConfig(['temporal', 's3', 'postgres', 'email'], base);
const pgHost = config.postgres.host;
const pgPort = config.postgres.port;
const smtp = config.email.smtp;
const mailDir = base.MAIL_DIR!;
const taskQueue = uniqueName('serving-outage');
const stage2Prefix = uniqueName('test-stage2-outage');
const ROWS = 240;
const dates = { recovered: '2026-05-11', windowOut: '2026-05-12', smtpDown: '2026-05-13' };

let db: ThrowawayDatabase;
let s3: S3Client;
let client: Client;
let worker: ChildProcess | undefined;

function workerEnv(retryWindowSeconds?: number): NodeJS.ProcessEnv {
  return stackProcessEnv({
    POSTGRES_DB: db.name,
    TEMPORAL_TASK_QUEUE: taskQueue,
    S3_STAGE2_OUTPUT_PREFIX: stage2Prefix,
    CLUSTER_NAME: taskQueue,
    SERVING_RETRY_WINDOW_SECONDS: retryWindowSeconds === undefined ? '' : String(retryWindowSeconds),
  });
}

async function restartWorker(retryWindowSeconds?: number): Promise<NodeJS.ProcessEnv> {
  await stopWorkerProcess(worker);
  const env = workerEnv(retryWindowSeconds);
  worker = await startWorkerProcess(env);
  return env;
}

const runFromLoad = (env: NodeJS.ProcessEnv, date: string): Promise<CliOutcome> =>
  runPothole(env, 'run', date, '--from', 'load_to_rdb', '--wait');

/** The attempt a pending step of the run is on (0 while it is not pending). */
async function pendingAttempt(handle: WorkflowHandle, step: string): Promise<number> {
  const d = await handle.describe().catch(() => undefined);
  const pending = d?.raw.pendingActivities?.find((a) => a.activityType?.name === step);
  return pending?.attempt ?? 0;
}

/** The attempt on which a step of the latest run of the date completed, from its history. */
async function completedOnAttempt(date: string, step: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowIdFor(date)).fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === step);
  const started = events.find(
    (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled?.eventId),
  );
  return started?.activityTaskStartedEventAttributes?.attempt ?? 0;
}

async function loadedDay(date: string) {
  const { rows } = await db.pool.query<{ rows: number; segments: number; tables: number }>(
    `SELECT (SELECT count(*)::int FROM pothole_segments WHERE date = $1) AS rows,
            (SELECT count(DISTINCT s_id)::int FROM pothole_segments WHERE date = $1) AS segments,
            (SELECT count(*)::int FROM pg_class
              WHERE relname LIKE 'pothole_segments_' || to_char($1::date, 'YYYYMMDD') || '%'
                AND relkind = 'r') AS tables`,
    [date],
  );
  return rows[0];
}

async function deliveries(date: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ message_id: string }>(
    'SELECT message_id FROM report_deliveries WHERE batch_date = $1',
    [date],
  );
  return rows.map((r) => r.message_id);
}

async function postgresBack(): Promise<void> {
  restoreStack();
  await waitFor(
    'PostgreSQL to answer',
    () =>
      db.pool.query('SELECT 1').then(
        () => true,
        () => undefined,
      ),
    {
      timeoutMs: 60_000,
      intervalMs: 500,
    },
  );
}

before(async () => {
  db = await createThrowawayDatabase('serving_outage');
  s3 = stackS3Client();
  for (const date of Object.values(dates)) {
    const day = `${stage2Prefix}/dt=${date}/`;
    await putStage2Output(s3, config.s3.S3_BUCKET, day, stage2Segments(date, ROWS), 3);
  }
  client = new Client({
    connection: await Connection.connect({ address: config.temporal.TEMPORAL_ADDRESS }),
  });
});

after(async () => {
  await stopWorkerProcess(worker);
  // Whatever happened above, the stack is left running.
  restoreStack();
  assert.ok(await portAnswers(pgHost, pgPort), 'PostgreSQL answers again');
  assert.ok(await portAnswers(smtp.host, smtp.port), 'the SMTP sink answers again');
  await deletePrefix(s3, config.s3.S3_BUCKET, `${stage2Prefix}/`);
  s3.destroy();
  await client?.connection.close();
  await db?.drop();
});

describe('the serving steps wait out an outage of their servers', () => {
  it('PostgreSQL down for 80 s when load_to_rdb starts: the run completes and the date is loaded once', async () => {
    const env = await restartWorker();
    const date = dates.recovered;
    stopPostgres();
    const stoppedAt = Date.now();
    let outcome: CliOutcome;
    try {
      await waitUntilClosed(pgHost, pgPort);
      const run = runFromLoad(env, date);
      const handle = client.workflow.getHandle(workflowIdFor(date));
      await waitFor(
        'load_to_rdb to fail an attempt',
        async () => ((await pendingAttempt(handle, 'load_to_rdb')) >= 2 ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      await sleep(Math.max(0, 80_000 - (Date.now() - stoppedAt)));
      await postgresBack();
      const downSeconds = (Date.now() - stoppedAt) / 1000;
      outcome = await run;
      const attempt = await completedOnAttempt(date, 'load_to_rdb');
      console.log(
        `PostgreSQL down ${downSeconds.toFixed(0)} s; load_to_rdb completed on attempt ${attempt}, ` +
          `the run ${((Date.now() - stoppedAt) / 1000).toFixed(0)} s after the stop`,
      );
      assert.ok(attempt > 4, `more attempts (${attempt}) than the earlier policy's 4`);
    } finally {
      await postgresBack();
    }
    assert.equal(outcome.status, 0, outcome.stdout + outcome.stderr);
    assert.match(outcome.stdout, new RegExp(`rows loaded: ${ROWS}\\b`));
    assert.deepEqual(await loadedDay(date), { rows: ROWS, segments: ROWS, tables: 1 });
  });

  it('PostgreSQL down past the window: the run fails naming the database; a rerun from load_to_rdb finishes it', async () => {
    const env = await restartWorker(20);
    const date = dates.windowOut;
    stopPostgres();
    let failed: CliOutcome;
    try {
      await waitUntilClosed(pgHost, pgPort);
      const started = Date.now();
      failed = await runFromLoad(env, date);
      console.log(`with a 20 s window the run failed after ${((Date.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      await postgresBack();
    }
    assert.notEqual(failed.status, 0);
    const said = failed.stdout + failed.stderr;
    console.log(said.split('\n').find((l) => l.startsWith('run ended')));
    assert.match(said, /load_to_rdb still failing after its 20 s retry window/);
    assert.match(said, new RegExp(`PostgreSQL ${pgHost}:${pgPort}/${db.name} is unavailable`));
    const password = config.postgres.password?.reveal();
    if (password) assert.ok(!said.includes(password), 'the password is never shown');

    const rerun = await runFromLoad(env, date);
    assert.equal(rerun.status, 0, rerun.stdout + rerun.stderr);
    assert.deepEqual(await loadedDay(date), { rows: ROWS, segments: ROWS, tables: 1 });
  });

  it('SMTP down: send_email_report retries until the sink is back; a rerun does not deliver the report twice', async () => {
    const env = await restartWorker();
    const date = dates.smtpDown;
    stopSmtpSink();
    let first: CliOutcome;
    try {
      await waitUntilClosed(smtp.host, smtp.port);
      const run = runFromLoad(env, date);
      const handle = client.workflow.getHandle(workflowIdFor(date));
      await waitFor(
        'send_email_report to fail an attempt',
        async () => ((await pendingAttempt(handle, 'send_email_report')) >= 2 ? true : undefined),
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      const { raw } = await handle.describe();
      const lastFailure = raw.pendingActivities?.[0]?.lastFailure?.message;
      console.log(`while the sink is down: ${lastFailure}`);
      assert.match(lastFailure ?? '', new RegExp(`SMTP server ${smtp.host}:${smtp.port} is unavailable`));
      restoreStack();
      first = await run;
      console.log(
        `send_email_report completed on attempt ${await completedOnAttempt(date, 'send_email_report')}`,
      );
    } finally {
      restoreStack();
    }
    assert.equal(first.status, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /email sent: yes/);
    const [messageId, ...more] = await deliveries(date);
    assert.ok(messageId, 'the accepted report is recorded');
    assert.deepEqual(more, []);
    assert.equal(deliveredCopies(mailDir, messageId, fileStarted), 1);

    const rerun = await runFromLoad(env, date);
    assert.equal(rerun.status, 0, rerun.stdout + rerun.stderr);
    assert.match(rerun.stdout, /email sent: no/);
    assert.deepEqual(await deliveries(date), [messageId]);
    assert.equal(
      deliveredCopies(mailDir, messageId, fileStarted),
      1,
      'the rerun did not deliver the report again',
    );
    console.log(
      `report ${messageId}: ${deliveredCopies(mailDir, messageId, fileStarted)} copy in the sink after a rerun`,
    );
  });
});
