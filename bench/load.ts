/**
 * Load benchmark: `npm run bench:load -- --rows 1000000 [--files 4] [--repeat 3] [--keep]`, or
 * `npm run bench:load -- --scale` for 1M, 4M and 10M rows plus one file holding a single huge row group.
 *
 * Writes that many Stage2 rows as snappy Parquet part files to the local S3 endpoint, then, on a
 * throwaway database of the local PostgreSQL, runs load_to_rdb twice (first load, then a rerun that
 * replaces the date), each in its own process so its peak RSS is the load's own, and measures the
 * floor in the same run: psql \copy of a CSV of the same rows into a fresh table, the same indexes
 * built one after the other by one process (no parallel maintenance worker), and attaching it as that
 * day's partition; and the same psql path again with the server's parallel maintenance worker. With --repeat N the three are
 * measured N times (each round's first load on a day without partition) and the targets are checked
 * on the medians. Everything the run wrote (database, S3 objects, CSV) is dropped at the end.
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
import { createS3Client } from '../src/activities/aws-clients';
import { benchFailure, integerOption, readOptions } from './options';

const TARGET_ROWS_PER_SECOND = 250_000;
/** Load time over floor time, checked at 4M rows and above (smaller loads are dominated by fixed costs). */
const TARGET_FLOOR_RATIO = 0.8;
const TARGET_FLOOR_RATIO_FROM_ROWS = 4_000_000;
const TARGET_RSS_MB = 300;
const SCALE_SIZES = [1_000_000, 4_000_000, 10_000_000];
/** Rows per row group of the part files, as Spark's default 128 MB blocks hold about that many. */
const ROW_GROUP_ROWS = 128 * 1024;

interface Args {
  sizes: number[];
  files: number;
  repeat: number;
  keep: boolean;
  /** Also load the largest size from one file holding one row group. */
  oneGroup: boolean;
}

const USAGE =
  'usage: npm run bench:load [-- --rows N[,N…] | --scale] [--one-group] [--files N] [--repeat N] [--keep]';

function parseArgs(argv: string[]): Args {
  const values = readOptions(
    argv,
    {
      rows: { type: 'string' },
      scale: { type: 'boolean', default: false },
      'one-group': { type: 'boolean', default: false },
      files: { type: 'string', default: '4' },
      repeat: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
    },
    USAGE,
  );
  const sizes = values.scale
    ? SCALE_SIZES
    : (values.rows ?? '1000000').split(',').map((n) => integerOption(n, 'rows', 1, USAGE));
  return {
    sizes,
    files: integerOption(values.files, 'files', 1, USAGE),
    repeat: integerOption(values.repeat, 'repeat', 1, USAGE),
    keep: values.keep,
    oneGroup: values.scale || values['one-group'],
  };
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

/**
 * The floor: one psql session, one statement after the other. `parallelWorker` lets PostgreSQL help each
 * index build with its parallel maintenance workers, as the server allows any session (the load uses them
 * too); without it the floor is the sequential path, one process doing everything.
 */
function floorScript(csv: string, date: string, parallelWorker: boolean): string {
  const part = partitionName(date);
  const t = `${part}_floor`;
  return `
\\set ON_ERROR_STOP 1
SET maintenance_work_mem = '256MB';
${parallelWorker ? '' : 'SET max_parallel_maintenance_workers = 0;'}
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

interface Layout {
  name: string;
  files: number;
  rowGroupSize: number;
  prefix: string;
  bytes: number;
}

/** One line of the table: a load (or the floor) of one size, median over the rounds. */
interface Measured {
  rows: number;
  label: string;
  seconds: number;
  floorSeconds: number;
  /** The floor helped by the server's parallel maintenance workers. */
  parallelFloorSeconds: number;
  loadAvg: number;
  rssMB?: number;
  phases?: string;
  failed?: string;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
};

const phasesOf = (f: LoadFigures) =>
  Object.entries(f.phaseSeconds ?? {})
    .filter(([name]) => name !== 'geocode')
    .map(([name, sec]) => `${name} ${sec.toFixed(1)}`)
    .join(', ');

function printTable(results: Measured[]): void {
  const header = ['rows', 'case', 'seconds', 'rows/s', '× floor', '× psql ∥', 'peak RSS', 'load avg'];
  const lines = results.map((m) =>
    m.failed
      ? [fmt(m.rows), m.label, 'failed', m.failed.slice(0, 60), '', '', '', '']
      : [
          fmt(m.rows),
          m.label,
          m.seconds.toFixed(1),
          fmt(m.rows / m.seconds),
          `${(m.seconds / m.floorSeconds).toFixed(2)}×`,
          `${(m.seconds / m.parallelFloorSeconds).toFixed(2)}×`,
          m.rssMB === undefined ? '' : `${m.rssMB.toFixed(0)} MB`,
          m.loadAvg.toFixed(1),
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(row(header));
  console.log(`|${widths.map((w, i) => (i === 1 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const l of lines) console.log(row(l));
  const withPhases = results.filter((m) => m.phases);
  if (withPhases.length > 0) {
    console.log('');
    console.log('phases of each load (s):');
    for (const m of withPhases) console.log(`  ${fmt(m.rows).padStart(10)} ${m.label}: ${m.phases}`);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));

  const e = env();
  const adminUrl = e.POSTGRES_ADMIN_URL;
  if (!adminUrl) throw new Error('POSTGRES_ADMIN_URL is not set: start the local stack (npm run stack:up)');
  const { s3, postgres } = loadConfig(['s3', 'postgres'], e);
  const suffix = `${Date.now().toString(36)}`;
  const database = `bench_load_${suffix}`;
  const basePrefix = `bench-stage2-${suffix}`;
  const date = '2026-02-12';
  const client = s3Client(e);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database} OWNER ${postgres.user}`);
  const pool = createPool({ ...postgres, connectionString: undefined, database });
  const csv = path.join(os.tmpdir(), `${database}.csv`);
  const scriptFile = path.join(os.tmpdir(), `${database}.sql`);
  const parallelScriptFile = path.join(os.tmpdir(), `${database}-parallel.sql`);
  const results: Measured[] = [];
  try {
    await migrate(pool);
    const { rows: version } = await pool.query<{ v: string }>(
      `SELECT current_setting('server_version') AS v`,
    );
    const psqlEnv = {
      ...process.env,
      PGHOST: postgres.host,
      PGPORT: String(postgres.port),
      PGUSER: postgres.user,
      PGPASSWORD: postgres.password?.reveal(),
      PGDATABASE: database,
    };
    fs.writeFileSync(scriptFile, floorScript(csv, date, false));
    fs.writeFileSync(parallelScriptFile, floorScript(csv, date, true));
    // Every measurement starts from written-back page cache, so one does not pay for another's writes.
    const settle = () => promisify(execFile)('sync');
    // Other work on the machine slows every measurement: each line shows the 1-minute load average
    // at its start, so figures from a busy moment can be told apart.
    const load = () => os.loadavg()[0] ?? 0;
    const largest = Math.max(...args.sizes);

    for (const rows of args.sizes) {
      console.error(`${fmt(rows)} rows: generating the Stage2 output and its CSV…`);
      const data = makeRows(rows, date);
      const layouts: Layout[] = [
        {
          name: `${args.files} files, ${fmt(ROW_GROUP_ROWS)}-row groups`,
          files: args.files,
          rowGroupSize: ROW_GROUP_ROWS,
          prefix: `${basePrefix}-${rows}-parts`,
          bytes: 0,
        },
      ];
      if (args.oneGroup && rows === largest) {
        layouts.push({
          name: `1 file, one ${fmt(rows)}-row group`,
          files: 1,
          rowGroupSize: rows,
          prefix: `${basePrefix}-${rows}-one-group`,
          bytes: 0,
        });
      }
      for (const layout of layouts) {
        const per = Math.ceil(rows / layout.files);
        for (let f = 0; f < layout.files; f++) {
          const body = writeStage2Parquet(sliceColumns(data, f * per, Math.min(rows, (f + 1) * per)), {
            rowGroupSize: layout.rowGroupSize,
          });
          layout.bytes += body.byteLength;
          const key = `${layout.prefix}/dt=${date}/part-${String(f).padStart(5, '0')}-bench.c000.snappy.parquet`;
          await putObject(client, s3.S3_BUCKET, key, body);
        }
      }
      await writeCsv(csv, data, date);

      const runs: Record<string, { seconds: number[]; rss: number[]; load: number[]; phases: string[] }> = {};
      const record = (label: string, f: LoadFigures, loadAvg: number) => {
        const r = (runs[label] ??= { seconds: [], rss: [], load: [], phases: [] });
        r.seconds.push(f.seconds);
        r.rss.push(f.maxRssMB);
        r.load.push(loadAvg);
        r.phases.push(phasesOf(f));
        if (f.rows !== rows) throw new Error(`${label} loaded ${f.rows} rows, expected ${rows}`);
      };
      const failures: Record<string, string> = {};
      const measure = async (label: string, prefix: string) => {
        await settle();
        const loadAvg = load();
        try {
          record(label, await runLoadInChild({ database, prefix, date }), loadAvg);
        } catch (err) {
          failures[label] = (err as Error).message;
        }
      };
      const floors: number[] = [];
      const parallelFloors: number[] = [];
      const floorLoads: number[] = [];
      const parallelFloorLoads: number[] = [];
      const runFloor = async (script: string, times: number[], loads: number[]) => {
        await settle();
        loads.push(load());
        const started = process.hrtime.bigint();
        await promisify(execFile)('psql', ['-X', '-q', '-f', script], { env: psqlEnv });
        times.push(Number(process.hrtime.bigint() - started) / 1e9);
        const { rows: check } = await pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM pothole_segments WHERE date = $1',
          [date],
        );
        if (Number(check[0]?.n) !== rows) throw new Error(`floor left ${check[0]?.n} rows, expected ${rows}`);
      };
      const [parts, ...others] = layouts;
      for (let r = 0; r < args.repeat; r++) {
        // Each round's first load finds no partition for the day, as on a new date.
        await pool.query(`DROP TABLE IF EXISTS ${partitionName(date)}`);
        await measure(`first load (${parts!.name})`, parts!.prefix);
        await measure(`rerun (${parts!.name})`, parts!.prefix);
        await runFloor(scriptFile, floors, floorLoads);
        await runFloor(parallelScriptFile, parallelFloors, parallelFloorLoads);
        for (const layout of others) {
          await pool.query(`DROP TABLE IF EXISTS ${partitionName(date)}`);
          await measure(`first load (${layout.name})`, layout.prefix);
        }
      }
      const floorSeconds = median(floors);
      const parallelFloorSeconds = median(parallelFloors);
      results.push(
        {
          rows,
          label: 'floor (psql \\copy CSV + indexes + attach)',
          seconds: floorSeconds,
          floorSeconds,
          parallelFloorSeconds,
          loadAvg: median(floorLoads),
        },
        {
          rows,
          label: 'psql, indexes helped by a parallel worker',
          seconds: parallelFloorSeconds,
          floorSeconds,
          parallelFloorSeconds,
          loadAvg: median(parallelFloorLoads),
        },
      );
      for (const [label, r] of Object.entries(runs)) {
        results.push({
          rows,
          label,
          seconds: median(r.seconds),
          floorSeconds,
          parallelFloorSeconds,
          loadAvg: median(r.load),
          rssMB: Math.max(...r.rss),
          phases: r.phases.join(' | '),
        });
      }
      for (const [label, message] of Object.entries(failures)) {
        results.push({
          rows,
          label,
          seconds: NaN,
          floorSeconds,
          parallelFloorSeconds,
          loadAvg: NaN,
          failed: message,
        });
      }
      console.error(
        `${fmt(rows)} rows done: parquet ${layouts.map((l) => `${(l.bytes / 1048576).toFixed(0)} MB (${l.name})`).join(', ')}`,
      );
      // A long run shows each size as soon as it is measured; the whole table follows at the end.
      printTable(results.filter((m) => m.rows === rows));
      console.log('');
      // moto keeps objects in memory: free each size's files before the next one.
      if (!args.keep) for (const l of layouts) await deletePrefix(client, s3.S3_BUCKET, `${l.prefix}/`);
    }

    console.log('');
    console.log(
      `load_to_rdb benchmark on ${os.cpus().length} cores, PostgreSQL ${version[0]?.v}` +
        (args.repeat > 1 ? `, median of ${args.repeat} rounds` : ''),
    );
    printTable(results);
    console.log('');
    const loads = results.filter((m) => m.rssMB !== undefined);
    const checks: [string, boolean][] = [];
    for (const m of loads) {
      const tag = `${fmt(m.rows)} ${m.label}`;
      checks.push([
        `${tag}: peak RSS ≤ ${TARGET_RSS_MB} MB (${m.rssMB!.toFixed(0)} MB)`,
        m.rssMB! <= TARGET_RSS_MB,
      ]);
      checks.push([
        `${tag}: ≥ ${fmt(TARGET_ROWS_PER_SECOND)} rows/s (${fmt(m.rows / m.seconds)})`,
        m.rows / m.seconds >= TARGET_ROWS_PER_SECOND,
      ]);
      if (m.rows >= TARGET_FLOOR_RATIO_FROM_ROWS) {
        const ratio = m.seconds / m.floorSeconds;
        checks.push([
          `${tag}: ≤ ${TARGET_FLOOR_RATIO}× floor (${ratio.toFixed(2)}×)`,
          ratio <= TARGET_FLOOR_RATIO,
        ]);
      }
    }
    for (const m of results.filter((r) => r.failed))
      checks.push([`${fmt(m.rows)} ${m.label}: ${m.failed}`, false]);
    for (const [label, ok] of checks) console.log(`  ${ok ? 'met   ' : 'MISSED'}  ${label}`);
  } finally {
    fs.rmSync(csv, { force: true });
    fs.rmSync(scriptFile, { force: true });
    fs.rmSync(parallelScriptFile, { force: true });
    await pool.end();
    if (!args.keep) {
      for (const rows of args.sizes) {
        for (const kind of ['parts', 'one-group']) {
          await deletePrefix(client, s3.S3_BUCKET, `${basePrefix}-${rows}-${kind}/`);
        }
      }
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } else {
      console.log(`kept database ${database} and s3://${s3.S3_BUCKET}/${basePrefix}-*/`);
    }
    await admin.end();
    client.destroy();
  }
}

main().catch((err: unknown) => process.exit(benchFailure(err)));
