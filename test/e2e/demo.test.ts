/**
 * End to end, the demo's path for one date on the local stack: real EC2 and S3 calls to the emulator, real SSH,
 * both reference Spark jobs on the standalone cluster, the load into PostgreSQL, the views and the email.
 * It runs in a throwaway database so the dashboards' "latest date" is this run's date.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser, type ParsedMail } from 'mailparser';
import pg from 'pg';
import { createEc2Client } from '../../src/activities/aws-clients';
import { loadConfig, readEnv } from '../../src/config';
import { instanceStates } from '../../src/demo/cluster';
import { generateDemoData } from '../../src/demo/data';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { CLUSTER_TAG } from '../../src/activities/cluster';
import { withQuickSparkConfs } from '../support/quick-spark';

const root = path.resolve(__dirname, '../..');
const env = readEnv({ ...process.env, POTHOLE_ENV_FILE: path.join(root, '.stack/env') });
const batchDate = '2026-03-03';
const database = `e2e_demo_${process.pid}`;
const admin = new pg.Client({ connectionString: env.POSTGRES_ADMIN_URL });
let output = '';
let exitCode: number | null = null;
let db: pg.Client;
const startedAt = Date.now();

before(async () => {
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database} OWNER ${env.POSTGRES_USER}`);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/demo.ts'), batchDate], {
    cwd: root,
    // The demo's own settings, with the tests' quicker Spark JVMs (test/support/quick-spark.ts).
    env: {
      ...process.env,
      POSTGRES_DB: database,
      SPARK_EXTRA_CONF: withQuickSparkConfs(env.SPARK_EXTRA_CONF),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const { postgres } = loadConfig(['postgres'], env);
  db = new pg.Client({
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: postgres.password?.reveal(),
    database,
  });
  await db.connect();
});

after(async () => {
  await db?.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

describe(`the demo for ${batchDate}`, () => {
  it('runs every step and ends successfully', () => {
    assert.equal(exitCode, 0, output);
    for (const step of [
      'check_s3_input',
      'start_cluster',
      'start_spark',
      'run_stage1',
      'run_stage2',
      'stop_cluster',
      'load_to_rdb',
      'refresh_views',
      'send_email_report',
    ]) {
      assert.match(output, new RegExp(`${step}\\s+done`), `${step} done`);
    }
    assert.match(
      output,
      /Temporal UI: http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/pothole-pipeline-2026-03-03\//,
    );
  });

  it('puts the segments with injected potholes at the top of mvw_dashboard_repair_priority', async () => {
    const injected = generateDemoData(batchDate).potholeSegmentIds;
    const { rows } = await db.query<{ s_id: string; date: Date; priority_rank: string }>(
      'SELECT s_id, date, priority_rank FROM mvw_dashboard_repair_priority ORDER BY priority_rank, s_id',
    );
    assert.ok(rows.length > injected.length, 'the view holds the day');
    const top = rows.slice(0, injected.length).map((r) => r.s_id);
    assert.deepEqual([...top].sort(), [...injected].sort());
  });

  it('emails the report with those segments to the road manager', async () => {
    const mailDir = env.MAIL_DIR!;
    const mails: ParsedMail[] = [];
    for (const f of fs.readdirSync(mailDir).filter((f) => f.endsWith('.eml'))) {
      const file = path.join(mailDir, f);
      if (fs.statSync(file).mtimeMs < startedAt) continue;
      const mail = await simpleParser(fs.readFileSync(file));
      if (mail.subject === `[포트홀 탐지] 일일 리포트 - ${batchDate}`) mails.push(mail);
    }
    assert.equal(mails.length, 1, 'exactly one report for the date');
    const mail = mails[0]!;
    assert.match(String(mail.html), /repair|보수|우선/);
    for (const sId of generateDemoData(batchDate).potholeSegmentIds)
      assert.ok(String(mail.html).includes(sId) || String(mail.text).includes(sId), sId);
    assert.equal((mail.to as { text: string }).text, env.REPORT_EMAIL);
  });

  it("saves a screenshot of the road manager's dashboard", () => {
    const file = path.join(root, '.stack/dashboard.png');
    assert.match(output, /screenshot: \.stack\/dashboard\.png/);
    assert.ok(fs.statSync(file).mtimeMs >= startedAt, 'written by this run');
    assert.deepEqual([...fs.readFileSync(file).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
  });

  it('leaves every instance of the cluster stopped', async () => {
    const ec2 = createEc2Client(loadConfig(['aws'], env).aws);
    try {
      const out = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: `tag:${CLUSTER_TAG}`, Values: ['pothole-demo'] }] }),
      );
      const ids = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!);
      assert.equal(ids.length, 3);
      const states = await instanceStates(ec2, ids);
      assert.deepEqual(Object.values(states), ['stopped', 'stopped', 'stopped']);
    } finally {
      ec2.destroy();
    }
  });
});
