/**
 * Secrets never leave the worker's memory: every secret setting carries a distinctive value, the pipeline runs end to
 * end on the local stack (a successful run and a run that fails), and none of the values appears in any event of the recorded histories (payloads decoded), in the worker's
 * log, in the Slack payloads or in `pothole status --json`. The values are real: the database role, Slack, SMTP and
 * the Kakao and complaints-portal stand-ins all receive them, so a test that never used them could not pass by
 * accident. The portal refuses the key and quotes it back, so the nightly complaints step fails with it in hand.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import pg from 'pg';
import { workflowIdFor } from '../../src/shared/steps';
import { PipelineWorld } from '../support/e2e';
import { SlackSink } from '../support/slack-sink';

const world = new PipelineWorld('secrets');
const slack = new SlackSink();
const mark = crypto.randomBytes(6).toString('hex');
const secret = (name: string) => `${name}-${mark}-do-not-print`;
const secrets = {
  AWS_SECRET_ACCESS_KEY: secret('aws-secret'),
  AWS_SESSION_TOKEN: secret('aws-token'),
  POSTGRES_PASSWORD: secret('pg-password'),
  SMTP_PASSWORD: secret('smtp-password'),
  GMAIL_PASSWORD: secret('gmail-password'),
  KAKAO_REST_API_KEY: secret('kakao-key'),
  COMPLAINTS_API_KEY: secret('complaints-key'),
  SLACK_WEBHOOK_URL: '',
  DATABASE_URL: '',
};
const role = `secrets_${process.pid}`;
const dates = { ok: '2026-06-01', missingInput: '2026-06-02' };
const kakaoKeysSeen: string[] = [];
let kakao: http.Server;
const portalKeysSeen: string[] = [];
let portal: http.Server;

before(async () => {
  await slack.start();
  kakao = http.createServer((req, res) => {
    kakaoKeysSeen.push(String(req.headers.authorization));
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ meta: { total_count: 0 }, documents: [] }));
  });
  await new Promise<void>((resolve) => kakao.listen(0, '127.0.0.1', resolve));
  portal = http.createServer((req, res) => {
    const key = new URL(req.url ?? '/', 'http://portal').searchParams.get('serviceKey') ?? '';
    portalKeysSeen.push(key);
    res.writeHead(403, { 'content-type': 'text/plain' }).end(`key ${key} is not registered`);
  });
  await new Promise<void>((resolve) => portal.listen(0, '127.0.0.1', resolve));
  secrets.SLACK_WEBHOOK_URL = slack.url(secret('slack-path'));
  await world.setUp({ dates: [dates.ok], startWorker: false });

  // A database role whose password is the distinctive value, owning the world's database.
  const admin = new pg.Client({ connectionString: world.base.POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${secrets.POSTGRES_PASSWORD}'`);
    await admin.query(`GRANT ${world.base.POSTGRES_USER} TO ${role}`);
  } finally {
    await admin.end();
  }
  const { POSTGRES_HOST: host, POSTGRES_PORT: port } = world.base;
  secrets.DATABASE_URL = `postgres://${role}:${secrets.POSTGRES_PASSWORD}@${host}:${port}/${world.database}`;
  world.env = {
    ...world.env,
    ...secrets,
    POSTGRES_USER: role,
    AWS_ACCESS_KEY_ID: 'testing',
    SMTP_USER: 'pothole',
    KAKAO_API_URL: `http://127.0.0.1:${(kakao.address() as AddressInfo).port}`,
    COMPLAINTS_NIGHTLY: 'true',
    COMPLAINTS_API_URL: `http://127.0.0.1:${(portal.address() as AddressInfo).port}/minPotholeLatLonInfo`,
  };
  await world.startWorker();
});

after(async () => {
  await world.tearDown();
  await slack.stop();
  await new Promise((r) => kakao.close(r));
  await new Promise((r) => portal.close(r));
  const admin = new pg.Client({ connectionString: world.base.POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  await admin.end();
});

/** Every string in a history, with each payload's data decoded from base64 as well. */
function historyText(json: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown, key?: string) => {
    if (typeof v === 'string') {
      out.push(v);
      if (key === 'data') out.push(Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) v.forEach((x) => walk(x));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(json);
  return out.join('\n');
}

function assertNoSecret(where: string, text: string): void {
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(!text.includes(value), `${name} appears in ${where}`);
  }
  // Every distinctive value carries the mark; a fragment of one would too.
  assert.ok(!text.includes(mark), `a secret's mark ${mark} appears in ${where}`);
}

describe('secrets', () => {
  it('appear in no history, log line, Slack payload or status output of successful and failed runs', async () => {
    const ok = await world.pothole('run', dates.ok, '--wait');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const failure = await world.pothole('run', dates.missingInput, '--wait');
    assert.notEqual(failure.status, 0);

    // The values were really used.
    assert.ok(kakaoKeysSeen.includes(`KakaoAK ${secrets.KAKAO_REST_API_KEY}`), 'Kakao got the key');
    assert.ok(portalKeysSeen.includes(secrets.COMPLAINTS_API_KEY), 'the complaints portal got the key');
    assert.match(
      ok.stdout,
      /load_complaints failed .*refused the service key \(HTTP 403: key \*\*\* is not registered/,
    );
    assert.equal(slack.messages.length, 2, slack.messages.map((m) => m.text).join('\n---\n'));

    let events = 0;
    for (const date of Object.values(dates)) {
      const handle = world.client.workflow.getHandle(workflowIdFor(date));
      const history = await handle.fetchHistory();
      events += history.events?.length ?? 0;
      assertNoSecret(`the history of ${date}`, historyText(JSON.parse(historyToJSON(history))));
      const status = await world.pothole('status', date, '--json');
      assert.equal(status.status, 0, status.stderr);
      assertNoSecret(`pothole status ${date} --json`, status.stdout + status.stderr);
    }
    for (const r of [ok, failure]) assertNoSecret('pothole run output', r.stdout + r.stderr);
    assertNoSecret('the worker log', world.workerLog);
    // download_code's presigned URLs stay out of logs as well.
    assert.ok(!world.workerLog.includes('X-Amz-Signature'), 'a presigned URL appears in the worker log');
    assertNoSecret('the Slack payloads', slack.messages.map((m) => m.text).join('\n'));
    console.log(
      `checked ${events} history events, ${world.workerLog.split('\n').length} worker log lines and ` +
        `${slack.messages.length} Slack messages for ${Object.keys(secrets).length} secret values`,
    );
  });
});
