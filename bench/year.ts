/**
 * A year of history: `npm run bench:year -- [--segments 20000] [--repeat 5] [--keep]`.
 *
 * Two throwaway databases of the local PostgreSQL, one holding 30 days of that many segments a day, the other 365
 * (with their months rolled up, a repair a day and its check, as a year of nights would have left them). In each,
 * the same night is measured: load_to_rdb of the next day (the same Parquet files in the local S3), refresh_views,
 * and the dashboard's APIs through a `pothole dashboard` process started before the night (its caches full of the
 * day before): the first request right after the refresh, then the median of --repeat more.
 * Targets (printed, not enforced): every figure at 365 days within 1.2× of the 30-day one (figures under 20 ms
 * compare as 20 ms: below that the loopback's noise is the figure), the 12-month trends ≤ 200 ms.
 */
import path from 'node:path';
import type pg from 'pg';
import { createLoadActivities } from '../src/activities/load';
import { partitionIndexes } from '../src/activities/load/partition';
import { createViewActivities } from '../src/activities/views';
import { createS3Client } from '../src/activities/aws-clients';
import { loadConfig, readEnv, type Config } from '../src/config';
import { rollUpDay } from '../src/db/monthly-rollup';
import { runActivity, deletePrefix, stepInput } from '../test/integration/activities/serving-support';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../test/support/database';
import { putStage2Output, stage2Segments } from '../test/support/stage2-output';
import { startDashboardProcess } from './dashboard-process';
import { benchFailure, integerOption, readOptions } from './options';

const USAGE = 'usage: npm run bench:year [-- --segments N] [--repeat N] [--keep]';
const TARGET_RATIO = 1.2;
const TARGET_TREND_MS = 200;
/** Below this an API's figure is the loopback's noise: ratios compare from here. */
const NOISE_FLOOR_MS = 20;
const HISTORIES = [30, 365];
/** The night measured: the day after the last one kept. */
const NIGHT = '2026-11-30';

const day = (from: string, offset: number) => {
  const d = new Date(`${from}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
};
const segmentId = (expr: string) =>
  `'SEG_' || lpad((${expr})::text, greatest(5, length((${expr})::text)), '0')`;
const seconds = (since: number) => (performance.now() - since) / 1000;

interface Args {
  segments: number;
  repeat: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const v = readOptions(
    argv,
    {
      segments: { type: 'string', default: '20000' },
      repeat: { type: 'string', default: '5' },
      keep: { type: 'boolean', default: false },
    },
    USAGE,
  );
  return {
    segments: integerOption(v.segments, 'segments', 100, USAGE),
    repeat: integerOption(v.repeat, 'repeat', 1, USAGE),
    keep: v.keep,
  };
}

/** `days` day partitions up to the day before NIGHT, built as load_to_rdb builds them, then rolled up. */
async function fillHistory(pool: pg.Pool, days: number, segments: number): Promise<void> {
  await pool.query(
    `INSERT INTO segment_address (s_id, road_name, district, centroid_lon, centroid_lat)
     SELECT ${segmentId('i')}, '도로 ' || (i % 500), '구 ' || (i % 25), 126.9 + i / 100000.0, 37.5 + i / 100000.0
       FROM generate_series(0, $1 - 1) i`,
    [segments],
  );
  for (let n = days; n >= 1; n--) {
    const date = day(NIGHT, -n);
    const table = `pothole_segments_${date.replaceAll('-', '')}`;
    await pool.query(
      `CREATE TABLE ${table} (LIKE pothole_segments INCLUDING DEFAULTS,
         CONSTRAINT ${table}_date_check CHECK (date >= DATE '${date}' AND date < DATE '${day(date, 1)}'))`,
    );
    // The same segments every day (as Stage2 writes them), with impacts that move from day to day.
    await pool.query(
      `INSERT INTO ${table} (s_id, centroid_lon, centroid_lat, date, impact_count, total_count)
       SELECT ${segmentId('i')}, 126.9 + i / 100000.0, 37.5 + i / 100000.0, $1::date,
              (i + $2) % 7, 10 + (i % 13)
         FROM generate_series(0, $3 - 1) i`,
      [date, n, segments],
    );
    for (const [suffix, sql] of partitionIndexes(table))
      await pool.query(sql.replace('$name', `${table}_${suffix}`));
    await pool.query(
      `ALTER TABLE pothole_segments ATTACH PARTITION ${table} FOR VALUES FROM ('${date}') TO ('${day(date, 1)}')`,
    );
    // A repair a day, as the road managers' 보수완료 changes would leave them.
    await pool.query(
      `INSERT INTO segment_repair_status_history (s_id, from_status, to_status, changed_by, changed_at)
       VALUES (${segmentId('$1::int')}, '보수중', '보수완료', 'bench', $2::date + time '10:00')`,
      [(n * 37) % segments, date],
    );
  }
  // Each month: its first day joins it, then counting it again rebuilds the month from all its days.
  const months = new Set<string>();
  for (let n = days; n >= 1; n--) months.add(day(NIGHT, -n));
  const firsts = new Map<string, string>();
  for (const d of months) if (!firsts.has(d.slice(0, 7))) firsts.set(d.slice(0, 7), d);
  for (const first of firsts.values()) {
    await rollUpDay(pool, first);
    await rollUpDay(pool, first);
  }
  await pool.query(
    `INSERT INTO segment_repair_status (s_id, repair_status)
     SELECT DISTINCT s_id, '보수완료' FROM segment_repair_status_history ON CONFLICT DO NOTHING`,
  );
  await pool.query('VACUUM ANALYZE');
}

/** What the page asks for, and the popup of a segment repaired a few days ago. */
const apis = (segments: number) => [
  { name: 'map segments', path: '/api/map/segments' },
  { name: 'map marks', path: '/api/map' },
  { name: 'list (first page)', path: '/api/priority?limit=100' },
  { name: 'list (재발 only)', path: `/api/priority?check=${encodeURIComponent('재발')}` },
  { name: '7-day trend', path: '/api/trend' },
  { name: '12-month trend (network)', path: '/api/trend/months', trend: true },
  {
    name: '12-month trend (segment)',
    path: `/api/segments/SEG_${String((3 * 37) % segments).padStart(5, '0')}`,
    trend: true,
  },
];

async function timeRequest(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return performance.now() - started;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface NightFigures {
  loadSeconds: number;
  refreshSeconds: number;
  apis: { name: string; firstMs: number; medianMs: number; trend?: boolean }[];
  rows: number;
  sizeMb: number;
}

async function measureNight(
  db: ThrowawayDatabase,
  env: Record<string, string | undefined>,
  s3Config: Config['s3'],
  args: Args,
): Promise<NightFigures> {
  const s3 = createS3Client(loadConfig(['aws'], env).aws);
  const dashboard = await startDashboardProcess({ ...env, POSTGRES_DB: db.name }, { stdout: 'ignore' });
  try {
    const { load_to_rdb } = createLoadActivities({
      s3,
      pool: db.pool,
      config: { s3: s3Config, kakao: { ...loadConfig(['kakao'], env).kakao, KAKAO_REST_API_KEY: undefined } },
    });
    const { refresh_views } = createViewActivities({ pool: db.pool, history: db.config.history });
    // The day before, as last night left it; and the dashboard's caches full of it.
    await runActivity(refresh_views, stepInput(day(NIGHT, -1)));
    for (const a of apis(args.segments)) await timeRequest(dashboard.origin + a.path);

    let started = performance.now();
    await runActivity(load_to_rdb, stepInput(NIGHT));
    const loadSeconds = seconds(started);
    started = performance.now();
    await runActivity(refresh_views, stepInput(NIGHT));
    const refreshSeconds = seconds(started);
    const figures: NightFigures['apis'] = [];
    for (const a of apis(args.segments)) {
      const firstMs = await timeRequest(dashboard.origin + a.path);
      const more: number[] = [];
      for (let i = 0; i < args.repeat; i++) more.push(await timeRequest(dashboard.origin + a.path));
      figures.push({ name: a.name, firstMs, medianMs: median(more), trend: a.trend });
    }
    const { rows } = await db.pool.query<{ rows: string; mb: string }>(
      `SELECT (SELECT count(*) FROM pothole_segments) AS rows,
              pg_database_size(current_database()) / 1048576 AS mb`,
    );
    return {
      loadSeconds,
      refreshSeconds,
      apis: figures,
      rows: Number(rows[0]!.rows),
      sizeMb: Number(rows[0]!.mb),
    };
  } finally {
    await dashboard.stop();
    s3.destroy();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const envFile = process.env.POTHOLE_ENV_FILE ?? path.join(__dirname, '../.stack/env');
  const env = readEnv({ ...process.env, POTHOLE_ENV_FILE: envFile, DASHBOARD_TILE_URL: 'none' });
  const s3Base = loadConfig(['s3'], env).s3;
  const s3Config = { ...s3Base, S3_STAGE2_OUTPUT_PREFIX: `bench-year-${Date.now().toString(36)}/stage2` };
  const s3 = createS3Client(loadConfig(['aws'], env).aws);
  const dbs: ThrowawayDatabase[] = [];
  try {
    console.log(`the night of ${NIGHT}: ${args.segments.toLocaleString('en-US')} segments a day`);
    await putStage2Output(
      s3,
      s3Config.S3_BUCKET,
      `${s3Config.S3_STAGE2_OUTPUT_PREFIX}/dt=${NIGHT}/`,
      stage2Segments(NIGHT, args.segments),
      4,
    );
    const results: NightFigures[] = [];
    for (const days of HISTORIES) {
      const db = await createThrowawayDatabase(`bench_year_${days}`, { env });
      dbs.push(db);
      const started = performance.now();
      await fillHistory(db.pool, days, args.segments);
      console.log(`  ${days} days kept in ${db.name}: filled in ${seconds(started).toFixed(0)} s`);
      results.push(await measureNight(db, env, s3Config, args));
    }
    print(results, args);
  } finally {
    await deletePrefix(s3, s3Config.S3_BUCKET, `${s3Config.S3_STAGE2_OUTPUT_PREFIX}/`).catch(() => undefined);
    s3.destroy();
    for (const db of dbs) {
      if (args.keep) console.log(`kept ${db.name}`);
      else await db.drop();
    }
  }
}

function print([month, year]: NightFigures[], args: Args): void {
  const lines: [string, number, number, string, boolean][] = [];
  const ratioOk = (a: number, b: number, floor: number) =>
    Math.max(b, floor) / Math.max(a, floor) <= TARGET_RATIO;
  lines.push([
    'load_to_rdb (s)',
    month!.loadSeconds,
    year!.loadSeconds,
    '',
    ratioOk(month!.loadSeconds, year!.loadSeconds, 0),
  ]);
  lines.push([
    'refresh_views (s)',
    month!.refreshSeconds,
    year!.refreshSeconds,
    '',
    ratioOk(month!.refreshSeconds, year!.refreshSeconds, 0),
  ]);
  month!.apis.forEach((a, i) => {
    const b = year!.apis[i]!;
    for (const [label, x, y] of [
      ['first after refresh', a.firstMs, b.firstMs],
      ['median', a.medianMs, b.medianMs],
    ] as const) {
      const trendOk = !a.trend || y <= TARGET_TREND_MS;
      lines.push([
        `${a.name}, ${label} (ms)`,
        x,
        y,
        a.trend ? `≤ ${TARGET_TREND_MS} ms` : '',
        ratioOk(x, y, NOISE_FLOOR_MS) && trendOk,
      ]);
    }
  });
  console.log(
    `\n${args.segments.toLocaleString('en-US')} segments a day; pothole_segments rows: ${month!.rows.toLocaleString('en-US')} (30 days, ${month!.sizeMb} MB) vs ${year!.rows.toLocaleString('en-US')} (365 days, ${year!.sizeMb} MB)`,
  );
  console.log(`${'measure'.padEnd(46)} ${'30 days'.padStart(9)} ${'365 days'.padStart(9)}  ratio  target`);
  for (const [name, a, b, extra, ok] of lines) {
    const ratio = b / a;
    console.log(
      `${name.padEnd(46)} ${a.toFixed(a < 10 ? 2 : 0).padStart(9)} ${b.toFixed(b < 10 ? 2 : 0).padStart(9)}  ${ratio.toFixed(2).padStart(5)}  ≤ ${TARGET_RATIO}× ${extra} ${ok ? 'met' : 'MISSED'}`,
    );
  }
  const missed = lines.filter((l) => !l[4]).length;
  console.log(missed === 0 ? '\nevery target met' : `\n${missed} target(s) missed`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => process.exit(benchFailure(err)),
);
