/**
 * The one-command demo (`npm run demo [-- DATE]`), on the local stack (`npm run stack:up` ran before):
 * schema, reference Spark code, synthetic sensor data with known potholes, a tagged 1+2 instance cluster in the
 * EC2 emulator, a worker process, then the pipeline for DATE with live progress and a summary at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { createEc2Client, createS3Client } from '../src/activities/aws-clients';
import { follow, parseDate, startRun, type Out } from '../src/cli/runs';
import { connectClient, runUrl } from '../src/temporal/client';
import { duration, table } from '../src/cli/render';
import { loadConfig, readEnv } from '../src/config';
import { screenshotDashboard } from './dashboard-screenshot';
import { migrate } from '../src/db/migrate';
import { createPool } from '../src/db/pool';
import { ensureDemoCluster, instanceStates } from '../src/demo/cluster';
import { generateDemoData } from '../src/demo/data';
import { uploadDemoData, uploadSparkCode } from '../src/demo/upload';
import type { PipelineResult } from '../src/workflows/pipeline';

const root = path.resolve(__dirname, '..');
const envFile = path.join(root, '.stack', 'env');
const demoSettings = { CLUSTER_NAME: 'pothole-demo', EXPECTED_WORKER_COUNT: '2' };

const say = (line: string) => console.log(`\x1b[1m▶ ${line}\x1b[0m`);

async function startWorkerProcess(env: NodeJS.ProcessEnv, logFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'pothole.js'), 'worker'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The worker logs JSON lines, INFO to stdout and WARN/ERROR to stderr: both go to the log file, and the
  // worker is ready once its "serving" line appears on either.
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      fs.appendFileSync(logFile, chunk);
      if (output.length < 1_000_000) output += chunk.toString();
      if (output.includes('serving')) resolve();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', (code) =>
      reject(new Error(`the worker exited (${code}) before it was ready:\n${output}`)),
    );
  });
  await ready;
  return child;
}

async function main() {
  if (!fs.existsSync(envFile)) throw new Error('the local stack is not up: run npm run stack:up first');
  const batchDate = parseDate(process.argv[2]);
  const env = { ...process.env, POTHOLE_ENV_FILE: envFile, ...demoSettings };
  const config = loadConfig(['temporal', 'aws', 's3', 'postgres', 'dashboard'], readEnv(env));
  const s3 = createS3Client(config.aws);
  const ec2 = createEc2Client(config.aws);
  const pool = createPool(config.postgres, { max: 2 });
  let worker: ChildProcess | undefined;
  try {
    say('database schema');
    const migrated = await migrate(pool);
    console.log(`  ${migrated.applied.length ? `applied ${migrated.applied.join(', ')}` : 'up to date'}`);

    say('reference Spark jobs → S3');
    const code = await uploadSparkCode({
      s3,
      bucket: config.s3.S3_BUCKET,
      codePrefix: config.s3.S3_CODE_PREFIX,
      dir: path.join(root, 'spark'),
    });
    console.log(`  ${code.length} files under s3://${config.s3.S3_BUCKET}/${config.s3.S3_CODE_PREFIX}/`);

    say(`synthetic sensor data for ${batchDate} → S3`);
    const data = await uploadDemoData({
      s3,
      bucket: config.s3.S3_BUCKET,
      rawPrefix: config.s3.S3_RAW_DATA_PREFIX,
      date: batchDate,
    });
    console.log(
      `  ${data.readings} readings at ${data.rawPath}; potholes at ${data.potholeSegmentIds.join(', ')}`,
    );

    // What Kakao's reverse geocoding would have filled in for these segments on a real first load.
    const seeded = await seedSegmentAddresses(pool, batchDate);
    console.log(`  road names of ${seeded} segments in segment_address`);

    say('cluster instances in the EC2 emulator');
    const cluster = await ensureDemoCluster(
      ec2,
      demoSettings.CLUSTER_NAME,
      Number(demoSettings.EXPECTED_WORKER_COUNT),
    );
    console.log(
      `  master ${cluster.masterInstanceId}, workers ${cluster.workerInstanceIds.join(', ')} (stopped)`,
    );

    say('worker');
    const logFile = path.join(root, '.stack', 'logs', 'demo-worker.log');
    worker = await startWorkerProcess(env, logFile);
    console.log(`  running (log: ${path.relative(root, logFile)})`);

    say(`pipeline for ${batchDate}`);
    const client = await connectClient(config.temporal);
    const out: Out = { json: false, print: (line) => console.log(line) };
    const handle = await startRun(client, config.temporal, out, { batchDate, force: true });
    const exitCode = await follow(handle, out);

    say('summary');
    const states = await instanceStates(ec2, [cluster.masterInstanceId, ...cluster.workerInstanceIds]);
    console.log(
      `  instances: ${Object.entries(states)
        .map(([id, s]) => `${id} ${s}`)
        .join(', ')}`,
    );
    if (exitCode === 0) {
      const result = (await handle.result()) as PipelineResult;
      console.log(`  cluster up ${duration(result.clusterUpSeconds)}, ${result.rowsLoaded} rows loaded`);
      const top = await pool.query<{
        priority_rank: string;
        s_id: string;
        road_name: string | null;
        district: string | null;
        priority_score: string;
        total_impacts: number;
        complaint_count: number;
      }>(
        `SELECT priority_rank, s_id, road_name, district, priority_score, total_impacts, complaint_count
           FROM mvw_dashboard_repair_priority ORDER BY priority_rank, s_id LIMIT 5`,
      );
      console.log('  top repair priorities:');
      console.log(
        table(
          ['rank', 'segment', 'road', 'district', 'score', 'impacts', 'complaints'],
          top.rows.map((r) => [
            r.priority_rank,
            r.s_id,
            r.road_name ?? '',
            r.district ?? '',
            r.priority_score,
            r.total_impacts,
            r.complaint_count,
          ]),
        ).replace(/^/gm, '    '),
      );
      const injected = new Set(data.potholeSegmentIds);
      console.log(
        `  injected potholes in the top 5: ${top.rows.filter((r) => injected.has(r.s_id)).length} of ${Math.min(5, injected.size)}`,
      );
      const mail = await latestReport(readEnv(env).MAIL_DIR, batchDate);
      if (mail)
        console.log(
          `  email: ${path.relative(root, mail.eml)}\n         ${path.relative(root, mail.html)} (open in a browser)`,
        );
    }
    const info = await handle.describe();
    console.log(`  Temporal UI: ${runUrl(config.temporal, info.workflowId, info.runId)}`);
    if (exitCode === 0) {
      say('dashboard');
      const file = path.join(root, '.stack', 'dashboard.png');
      await screenshotDashboard({ ...config, pool, file, env: readEnv(env) })
        .then(() =>
          console.log(`  screenshot: ${path.relative(root, file)}   (serve it yourself: npm run dashboard)`),
        )
        .catch((err: unknown) =>
          console.log(`  no screenshot: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`),
        );
    }
    process.exitCode = exitCode;
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker!.once('exit', r));
    }
    s3.destroy();
    ec2.destroy();
    await pool.end();
  }
}

async function seedSegmentAddresses(pool: ReturnType<typeof createPool>, batchDate: string): Promise<number> {
  const network = generateDemoData(batchDate).roadNetwork;
  await pool.query(
    `INSERT INTO segment_address (s_id, road_name, district, centroid_lon, centroid_lat, updated_at)
     SELECT s_id, road_name, '강남구', lon, lat, now()
       FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[]) AS t(s_id, road_name, lon, lat)
     ON CONFLICT (s_id) DO NOTHING`,
    [
      network.map((s) => s.s_id),
      network.map((s) => s.road),
      network.map((s) => s.centroid_lon),
      network.map((s) => s.centroid_lat),
    ],
  );
  return network.length;
}

/** The newest received report for the date, with an .html rendering beside it. */
async function latestReport(mailDir: string | undefined, batchDate: string) {
  if (!mailDir || !fs.existsSync(mailDir)) return undefined;
  const files = fs
    .readdirSync(mailDir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => path.join(mailDir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  for (const eml of files.slice(0, 20)) {
    const parsed = await simpleParser(fs.readFileSync(eml));
    if (parsed.subject?.includes(batchDate) && parsed.html) {
      const html = eml.replace(/\.eml$/, '.html');
      fs.writeFileSync(html, parsed.html);
      return { eml, html };
    }
  }
  return undefined;
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
