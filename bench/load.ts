/**
 * Load benchmark: `npm run bench:load -- --rows 1000000 [--files 4] [--repeat 3] [--keep]`.
 *
 * Writes that many Stage2 rows as snappy Parquet part files to the local S3 endpoint, then, on a
 * throwaway database of the local PostgreSQL, runs load_to_rdb twice (first load, then a rerun that
 * replaces the date), each in its own process so its peak RSS is the load's own, and measures the
 * floor in the same run: psql \copy of a CSV of the same rows into a fresh table, the same indexes,
 * and attaching it as that day's partition. With --repeat N the three are measured N times (each
 * round's first load on a day without partition) and the targets are checked on the medians.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { loadConfig, readEnv } from '../src/config';
import { nextDay, partitionName } from '../src/activities/load';
import type { ChildSpec } from './load-child';
import { migrate } from '../src/db/migrate';
import { createPool } from '../src/db/pool';
import { writeStage2Parquet, type Stage2Columns } from './stage2-parquet';
import { deletePrefix, putObject } from '../test/integration/activities/serving-support';
import { createS3Client } from '../src/clients';

const TARGET_ROWS_PER_SECOND = 250_000;
const TARGET_FLOOR_RATIO = 1.5;
const TARGET_RSS_MB = 300;

interface Args {
  rows: number;
  files: number;
  repeat: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { rows: 1_000_000, files: 4, repeat: 1, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--rows') args.rows = Number(value());
    else if (a === '--files') args.files = Number(value());
    else if (a === '--repeat') args.repeat = Number(value());
    else if (a === '--keep') args.keep = true;
    else throw new Error(`unknown option ${a} (use --rows N, --files N, --repeat N, --keep)`);
  }
  if (!Number.isInteger(args.rows) || args.rows < 1) throw new Error('--rows must be a positive integer');
  if (!Number.isInteger(args.files) || args.files < 1) throw new Error('--files must be a positive integer');
  if (!Number.isInteger(args.repeat) || args.repeat < 1)
    throw new Error('--repeat must be a positive integer');
  return args;
}

function env() {
  const file = process.env.POTHOLE_ENV_FILE ?? path.join(__dirname, '../.stack/env');
  return readEnv({ ...process.env, POTHOLE_ENV_FILE: file });
}

function s3Client(e: Record<string, string | undefined>): S3Client {
  return createS3Client(loadConfig(['aws'], e).aws);
}

interface LoadFigures {
  seconds: number;
  rows: number;
  maxRssMB: number;
  phaseSeconds?: Record<string, number>;
}

function runLoadInChild(spec: ChildSpec): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []),
        '--import',
        'tsx',
        path.join(__dirname, 'load-child.ts'),
        JSON.stringify(spec),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load child exited with ${code}`));
      const line = out.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(line));
    });
  });
}

// ---- data -------------------------------------------------------------------------------------------------

/** Deterministic pseudo-random numbers, so every run measures the same data. */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeRows(rows: number, date: string): Stage2Columns {
  const random = mulberry32(20260212);
  // Spark writes segments in hash-partition order, not sorted: shuffle the ids.
  const order = Array.from({ length: rows }, (_, i) => i);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const day = Date.parse(`${date}T00:00:00Z`) / 86_400_000;
  const total = new Int32Array(rows);
  const impact = new Int32Array(rows);
  const lon = new Float64Array(rows);
  const lat = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    total[i] = 1 + Math.floor(random() * 400);
    impact[i] = Math.floor(random() * random() * 30);
    lon[i] = 126.7 + random() * 0.5;
    lat[i] = 37.4 + random() * 0.3;
  }
  return {
    s_id: order.map((n) => `SEG_${String(n).padStart(8, '0')}`),
    date: new Array<number>(rows).fill(day),
    impact_count: impact,
    total_count: total,
    centroid_lon: lon,
    centroid_lat: lat,
  };
}

function sliceColumns(c: Stage2Columns, from: number, to: number): Stage2Columns {
  return {
    s_id: c.s_id.slice(from, to),
    date: c.date.slice(from, to),
    impact_count: Array.prototype.slice.call(c.impact_count, from, to) as number[],
    total_count: Array.prototype.slice.call(c.total_count, from, to) as number[],
    centroid_lon: Array.prototype.slice.call(c.centroid_lon, from, to) as number[],
    centroid_lat: Array.prototype.slice.call(c.centroid_lat, from, to) as number[],
  };
}

async function writeCsv(file: string, c: Stage2Columns, date: string): Promise<void> {
  const out = fs.createWriteStream(file);
  const n = c.s_id.length;
  for (let at = 0; at < n; at += 50_000) {
    let chunk = '';
    for (let i = at; i < Math.min(n, at + 50_000); i++) {
      chunk += `${c.s_id[i]},${c.centroid_lon[i]},${c.centroid_lat[i]},${date},${c.impact_count[i]},${c.total_count[i]}\n`;
    }
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

// ---- the floor: psql only ----------------------------------------------------------------------------------

function floorScript(csv: string, date: string): string {
  const part = partitionName(date);
  const t = `${part}_floor`;
  return `
\\set ON_ERROR_STOP 1
SET maintenance_work_mem = '256MB';
CREATE TABLE ${t} (LIKE pothole_segments INCLUDING DEFAULTS,
  CHECK (date >= DATE '${date}' AND date < DATE '${nextDay(date)}'));
\\copy ${t} (s_id, centroid_lon, centroid_lat, date, impact_count, total_count) FROM '${csv}' WITH (FORMAT csv)
ALTER TABLE ${t} ADD PRIMARY KEY (s_id, date);
CREATE INDEX ON ${t} (date DESC);
CREATE INDEX ON ${t} (s_id);
CREATE INDEX ON ${t} (date DESC, s_id);
CREATE INDEX ON ${t} (impact_count DESC);
BEGIN;
ALTER TABLE pothole_segments DETACH PARTITION ${part};
DROP TABLE ${part};
ALTER TABLE pothole_segments ATTACH PARTITION ${t} FOR VALUES FROM ('${date}') TO ('${nextDay(date)}');
ALTER TABLE ${t} RENAME TO ${part};
COMMIT;
`;
}

// ---- main -----------------------------------------------------------------------------------------------

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));

  const e = env();
  const adminUrl = e.POSTGRES_ADMIN_URL;
  if (!adminUrl) throw new Error('POSTGRES_ADMIN_URL is not set: start the local stack (npm run stack:up)');
  const { s3, postgres } = loadConfig(['s3', 'postgres'], e);
  const suffix = `${Date.now().toString(36)}`;
  const database = `bench_load_${suffix}`;
  const prefix = `bench-stage2-${suffix}`;
  const date = '2026-02-12';
  const client = s3Client(e);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database} OWNER ${postgres.user}`);
  const pool = createPool({ ...postgres, connectionString: undefined, database });
  const csv = path.join(os.tmpdir(), `${database}.csv`);
  try {
    await migrate(pool);
    const { rows: version } = await pool.query<{ v: string }>(
      `SELECT current_setting('server_version') AS v`,
    );

    console.log(`generating ${fmt(args.rows)} Stage2 rows in ${args.files} part files…`);
    const data = makeRows(args.rows, date);
    let bytes = 0;
    const per = Math.ceil(args.rows / args.files);
    for (let f = 0; f < args.files; f++) {
      const body = writeStage2Parquet(sliceColumns(data, f * per, Math.min(args.rows, (f + 1) * per)), {
        rowGroupSize: 128 * 1024,
      });
      bytes += body.byteLength;
      const key = `${prefix}/dt=${date}/part-${String(f).padStart(5, '0')}-bench.c000.snappy.parquet`;
      await putObject(client, s3.S3_BUCKET, key, body);
    }
    await writeCsv(csv, data, date);

    const spec = { database, prefix, date };
    const psqlEnv = {
      ...process.env,
      PGHOST: postgres.host,
      PGPORT: String(postgres.port),
      PGUSER: postgres.user,
      PGPASSWORD: postgres.password?.reveal(),
      PGDATABASE: database,
    };
    const scriptFile = path.join(os.tmpdir(), `${database}.sql`);
    fs.writeFileSync(scriptFile, floorScript(csv, date));
    // Every measurement starts from written-back page cache, so one does not pay for another's writes.
    const settle = () => promisify(execFile)('sync');

    // Other work on the machine slows every measurement: each line shows the 1-minute load average
    // at its start, so figures from a busy moment can be told apart.
    const load = () => os.loadavg()[0] ?? 0;
    const runs: {
      first: LoadFigures & { load: number };
      rerun: LoadFigures & { load: number };
      floor: number;
      floorLoad: number;
    }[] = [];
    for (let r = 0; r < args.repeat; r++) {
      // Each round's first load finds no partition for the day, as on a new date.
      await pool.query(`DROP TABLE IF EXISTS ${partitionName(date)}`);
      await settle();
      const first = { load: load(), ...(await runLoadInChild(spec)) };
      await settle();
      const rerun = { load: load(), ...(await runLoadInChild(spec)) };
      await settle();
      const floorLoad = load();
      const floorStarted = process.hrtime.bigint();
      await promisify(execFile)('psql', ['-X', '-q', '-f', scriptFile], { env: psqlEnv });
      const floor = Number(process.hrtime.bigint() - floorStarted) / 1e9;
      const { rows: check } = await pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM pothole_segments WHERE date = $1',
        [date],
      );
      if (Number(check[0]?.n) !== args.rows) {
        throw new Error(`floor left ${check[0]?.n} rows, expected ${args.rows}`);
      }
      runs.push({ first, rerun, floor, floorLoad });
    }
    fs.rmSync(scriptFile, { force: true });

    const line = (label: string, seconds: number, loadAvg: number, rss?: number) =>
      `${label.padEnd(46)} ${seconds.toFixed(2).padStart(6)} s ${fmt(args.rows / seconds).padStart(10)} rows/s` +
      `   load ${loadAvg.toFixed(1).padStart(4)}` +
      (rss !== undefined ? `   peak RSS ${rss.toFixed(0)} MB` : '');
    const phases = (f: LoadFigures) =>
      Object.entries(f.phaseSeconds ?? {})
        .filter(([name]) => name !== 'geocode')
        .map(([name, sec]) => `${name} ${sec.toFixed(2)}`)
        .join(', ');
    console.log('');
    console.log(
      `load_to_rdb benchmark: ${fmt(args.rows)} rows, ${args.files} snappy parquet files ` +
        `(${(bytes / 1048576).toFixed(1)} MB) on ${os.cpus().length} cores, PostgreSQL ${version[0]?.v}`,
    );
    runs.forEach((run, i) => {
      const tag = args.repeat > 1 ? `[${i + 1}] ` : '';
      console.log(
        line(
          `${tag}first load (S3 parquet → day partition)`,
          run.first.seconds,
          run.first.load,
          run.first.maxRssMB,
        ),
      );
      console.log(`      phases (s): ${phases(run.first)}`);
      console.log(
        line(`${tag}rerun (replaces the day)`, run.rerun.seconds, run.rerun.load, run.rerun.maxRssMB),
      );
      console.log(`      phases (s): ${phases(run.rerun)}`);
      console.log(line(`${tag}floor (psql \\copy CSV + indexes + attach)`, run.floor, run.floorLoad));
    });
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((x, y) => x - y);
      return sorted[Math.floor((sorted.length - 1) / 2)]!;
    };
    const first = median(runs.map((r) => r.first.seconds));
    const rerun = median(runs.map((r) => r.rerun.seconds));
    const floorSeconds = median(runs.map((r) => r.floor));
    const rss = Math.max(...runs.flatMap((r) => [r.first.maxRssMB, r.rerun.maxRssMB]));
    if (args.repeat > 1) {
      console.log(
        `median of ${args.repeat}: first load ${first.toFixed(2)} s, rerun ${rerun.toFixed(2)} s, floor ${floorSeconds.toFixed(2)} s`,
      );
    }
    const checks = [
      [
        `first load ≥ ${fmt(TARGET_ROWS_PER_SECOND)} rows/s (${fmt(args.rows / first)})`,
        args.rows / first >= TARGET_ROWS_PER_SECOND,
      ],
      [
        `rerun ≥ ${fmt(TARGET_ROWS_PER_SECOND)} rows/s (${fmt(args.rows / rerun)})`,
        args.rows / rerun >= TARGET_ROWS_PER_SECOND,
      ],
      [
        `first load within ${TARGET_FLOOR_RATIO}× floor (${(first / floorSeconds).toFixed(2)}×)`,
        first <= TARGET_FLOOR_RATIO * floorSeconds,
      ],
      [
        `rerun within ${TARGET_FLOOR_RATIO}× floor (${(rerun / floorSeconds).toFixed(2)}×)`,
        rerun <= TARGET_FLOOR_RATIO * floorSeconds,
      ],
      [`peak RSS ≤ ${TARGET_RSS_MB} MB (${rss.toFixed(0)} MB)`, rss <= TARGET_RSS_MB],
    ] as const;
    for (const [label, ok] of checks) console.log(`  ${ok ? 'met   ' : 'MISSED'}  ${label}`);
  } finally {
    fs.rmSync(csv, { force: true });
    await pool.end();
    if (!args.keep) {
      await deletePrefix(client, s3.S3_BUCKET, `${prefix}/`);
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } else {
      console.log(`kept database ${database} and s3://${s3.S3_BUCKET}/${prefix}/`);
    }
    await admin.end();
    client.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
