/**
 * load_to_rdb against the local stack's PostgreSQL (a throwaway database) and moto S3 (a unique prefix),
 * with Parquet fixtures written by hyparquet-writer the way Spark lays them out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  STAGE2_SCHEMA,
  stage2ColumnsFromRows,
  writeStage2Parquet,
  type Stage2Row,
} from '../../../bench/stage2-parquet';
import type { Config } from '../../../src/config';
import { createLoadActivities } from '../../../src/activities/load';
import {
  createThrowawayDatabase,
  deletePrefix,
  putObject,
  runActivity,
  s3ClientFor,
  s3ConfigWithUniquePrefix,
  stepInput,
  type ThrowawayDatabase,
} from './serving-support';
import { putStage2Output, stage2Segments } from '../../support/stage2-output';

let db: ThrowawayDatabase;
let s3: S3Client;
let s3Config: Config['s3'];
let activities: ReturnType<typeof createLoadActivities>;

const kakaoOff: Config['kakao'] = {
  KAKAO_REST_API_KEY: undefined,
  KAKAO_API_URL: 'http://127.0.0.1:9',
  KAKAO_CONCURRENCY: 2,
};

const segments = stage2Segments;

const dayPrefix = (date: string) => `${s3Config.S3_STAGE2_OUTPUT_PREFIX}/dt=${date}/`;

/** Spark's layout: several snappy part files and a _SUCCESS marker. */
async function putDay(date: string, rows: Stage2Row[], parts = 3): Promise<string[]> {
  await deletePrefix(s3, s3Config.S3_BUCKET, dayPrefix(date));
  return putStage2Output(s3, s3Config.S3_BUCKET, dayPrefix(date), rows, parts);
}

async function rowsOf(date: string) {
  const { rows } = await db.pool.query(
    `SELECT s_id, centroid_lon, centroid_lat, date::text AS date, impact_count, total_count
       FROM pothole_segments WHERE date = $1 ORDER BY s_id`,
    [date],
  );
  return rows;
}

async function tableState() {
  const { rows } = await db.pool.query(
    `SELECT date::text AS date, count(*)::int AS n, sum(impact_count)::int AS impacts
       FROM pothole_segments GROUP BY date ORDER BY date`,
  );
  const { rows: tables } = await db.pool.query(
    `SELECT relname FROM pg_class WHERE relname LIKE 'pothole_segments%' AND relkind IN ('r', 'p') ORDER BY 1`,
  );
  return { days: rows, tables: tables.map((t) => t.relname as string) };
}

async function expectNonRetryable(date: string, pattern: RegExp): Promise<ApplicationFailure> {
  const err = await runActivity(activities.load_to_rdb, stepInput(date)).then(
    () => assert.fail('load_to_rdb succeeded on bad input'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, pattern);
  return err;
}

before(async () => {
  db = await createThrowawayDatabase('load');
  s3 = s3ClientFor();
  s3Config = s3ConfigWithUniquePrefix();
  activities = createLoadActivities({ s3, pool: db.pool, config: { s3: s3Config, kakao: kakaoOff } });
});

after(async () => {
  await deletePrefix(s3, s3Config.S3_BUCKET, `${s3Config.S3_STAGE2_OUTPUT_PREFIX}/`);
  s3.destroy();
  await db.drop();
});

describe('load_to_rdb', () => {
  test('a first load writes every row of every part file into the day partition', async () => {
    const rows = segments('2026-02-10', 250);
    await putDay('2026-02-10', rows, 3);
    const result = await runActivity(activities.load_to_rdb, stepInput('2026-02-10'));
    assert.equal(result.rowsLoaded, 250);
    assert.equal(result.files, 3);
    assert.equal(result.batchDate, '2026-02-10');
    assert.equal(result.geocoded, 0);
    const loaded = await rowsOf('2026-02-10');
    assert.equal(loaded.length, 250);
    assert.deepEqual(loaded[17], { ...rows[17], date: '2026-02-10' });
    const { rows: bound } = await db.pool.query(
      `SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_class c WHERE c.relname = 'pothole_segments_20260210'`,
    );
    assert.equal(bound[0]?.bound, "FOR VALUES FROM ('2026-02-10') TO ('2026-02-11')");
  });

  test('the day partition carries the dashboard indexes, adopted by the parent indexes', async () => {
    const { rows } = await db.pool.query(
      `SELECT c.relname AS index, p.relname AS parent
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE c.relname LIKE 'pothole_segments_20260210%' AND c.relkind = 'i' ORDER BY 1`,
    );
    assert.deepEqual(
      rows.map((r) => `${r.index} -> ${r.parent}`),
      [
        'pothole_segments_20260210_date_idx -> idx_pothole_segments_date',
        'pothole_segments_20260210_date_s_id_idx -> idx_pothole_segments_date_s_id',
        'pothole_segments_20260210_impact_idx -> idx_pothole_segments_impact',
        'pothole_segments_20260210_pkey -> pothole_segments_pkey',
        'pothole_segments_20260210_s_id_idx -> idx_pothole_segments_s_id',
      ],
    );
  });

  test('a rerun is idempotent: the same rows, nothing duplicated, other dates untouched', async () => {
    await putDay('2026-02-11', segments('2026-02-11', 120), 2);
    await runActivity(activities.load_to_rdb, stepInput('2026-02-11'));
    const before = await tableState();
    const first = await rowsOf('2026-02-10');
    const result = await runActivity(activities.load_to_rdb, stepInput('2026-02-10'));
    assert.equal(result.rowsLoaded, 250);
    assert.deepEqual(await rowsOf('2026-02-10'), first);
    assert.deepEqual(await tableState(), before);
  });

  test('a rerun with fewer segments leaves exactly the new output for that date', async () => {
    const fewer = segments('2026-02-10', 100, 50).map((r) => ({ ...r, impact_count: r.impact_count + 1 }));
    await putDay('2026-02-10', fewer, 2);
    const other = await rowsOf('2026-02-11');
    const result = await runActivity(activities.load_to_rdb, stepInput('2026-02-10'));
    assert.equal(result.rowsLoaded, 100);
    const loaded = await rowsOf('2026-02-10');
    assert.deepEqual(
      loaded.map((r) => r.s_id),
      fewer.map((r) => r.s_id),
    );
    assert.deepEqual(
      loaded.map((r) => r.impact_count),
      fewer.map((r) => r.impact_count),
    );
    assert.deepEqual(await rowsOf('2026-02-11'), other);
  });

  test('a date in a month that has no partition yet creates its partition', async () => {
    const { rows: before } = await db.pool.query(
      `SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'pothole_segments_202703%'`,
    );
    assert.equal(before[0]?.n, 0);
    await putDay('2027-03-01', segments('2027-03-01', 30), 2);
    const result = await runActivity(activities.load_to_rdb, stepInput('2027-03-01'));
    assert.equal(result.rowsLoaded, 30);
    assert.equal((await rowsOf('2027-03-01')).length, 30);
  });

  test('loads of two new dates at the same time both create their partitions', async () => {
    await putDay('2027-04-01', segments('2027-04-01', 60), 2);
    await putDay('2027-04-02', segments('2027-04-02', 70), 2);
    const [a, b] = await Promise.all([
      runActivity(activities.load_to_rdb, stepInput('2027-04-01')),
      runActivity(activities.load_to_rdb, stepInput('2027-04-02')),
    ]);
    assert.equal(a.rowsLoaded, 60);
    assert.equal(b.rowsLoaded, 70);
    assert.equal((await rowsOf('2027-04-01')).length, 60);
    assert.equal((await rowsOf('2027-04-02')).length, 70);
  });

  test('two loads of the same date at the same time leave one copy of the output', async () => {
    await putDay('2027-04-03', segments('2027-04-03', 80), 2);
    const results = await Promise.all([
      runActivity(activities.load_to_rdb, stepInput('2027-04-03')),
      runActivity(activities.load_to_rdb, stepInput('2027-04-03')),
    ]);
    assert.deepEqual(
      results.map((r) => r.rowsLoaded),
      [80, 80],
    );
    assert.equal((await rowsOf('2027-04-03')).length, 80);
  });

  test('one large row group with the longest segment ids decodes within the heap planned for it', async () => {
    const date = '2027-05-01';
    const rows = segments(date, 300_000).map((r) => ({ ...r, s_id: r.s_id!.padEnd(50, 'x') }));
    await deletePrefix(s3, s3Config.S3_BUCKET, dayPrefix(date));
    await putObject(
      s3,
      s3Config.S3_BUCKET,
      `${dayPrefix(date)}part-00000-big.c000.snappy.parquet`,
      writeStage2Parquet(stage2ColumnsFromRows(rows), { rowGroupSize: 300_000 }),
    );
    const result = await runActivity(activities.load_to_rdb, stepInput(date));
    assert.equal(result.rowsLoaded, 300_000);
    const { rows: check } = await db.pool.query(
      `SELECT count(*)::int AS n, min(length(s_id))::int AS len FROM pothole_segments WHERE date = $1`,
      [date],
    );
    assert.deepEqual(check[0], { n: 300_000, len: 50 });
  });

  test('quality findings are reported, not failures: impact > total, empty s_id, row count jump', async () => {
    // Previous loaded date before 2026-02-12 is 2026-02-11 with 120 rows; 200 rows is +66.7 %.
    const rows = segments('2026-02-12', 202);
    rows[3] = { ...rows[3]!, impact_count: 50, total_count: 5 };
    rows[4] = { ...rows[4]!, impact_count: 51, total_count: 6 };
    rows[100] = { ...rows[100]!, s_id: '' };
    rows[150] = { ...rows[150]!, s_id: '   ' };
    await putDay('2026-02-12', rows, 3);
    const result = await runActivity(activities.load_to_rdb, stepInput('2026-02-12'));
    assert.equal(result.rowsLoaded, 200);
    assert.equal(result.quality.impactExceedsTotal, 2);
    assert.equal(result.quality.emptySegmentId, 2);
    assert.equal(result.quality.previousRowCount, 120);
    assert.ok(Math.abs(result.quality.rowCountChange! - 80 / 120) < 1e-9);
    assert.equal(result.quality.warnings.length, 3);
    assert.match(result.quality.warnings.join('\n'), /2026-02-11/);
    assert.equal((await rowsOf('2026-02-12')).length, 200);
  });

  test("a committed write's _temporary/ leftovers are not loaded, even under a prefix with _ and .", async () => {
    // The configured prefix may itself hold `_` and `.`; only the path below dt=<date>/ is judged.
    const leftoverConfig = {
      ...s3Config,
      S3_STAGE2_OUTPUT_PREFIX: `${s3Config.S3_STAGE2_OUTPUT_PREFIX}/_team.data/.stage2_out`,
    };
    const load = createLoadActivities({
      s3,
      pool: db.pool,
      config: { s3: leftoverConfig, kakao: kakaoOff },
    });
    const date = '2027-06-01';
    const day = `${leftoverConfig.S3_STAGE2_OUTPUT_PREFIX}/dt=${date}/`;
    const real = segments(date, 90);
    const part = (n: number) => `part-${String(n).padStart(5, '0')}-0a1b2c3d.c000.snappy.parquet`;
    for (const [n, slice] of [real.slice(0, 45), real.slice(45)].entries()) {
      await putObject(
        s3,
        s3Config.S3_BUCKET,
        `${day}${part(n)}`,
        writeStage2Parquet(stage2ColumnsFromRows(slice)),
      );
    }
    await putObject(s3, s3Config.S3_BUCKET, `${day}_SUCCESS`, '');
    // A task attempt that was never cleaned up: valid Parquet of the same date, with rows of its own.
    const extra = segments(date, 40, 1_000);
    const attempt = '_temporary/0/_temporary/attempt_202706010200_0003_m_000001_7';
    await putObject(
      s3,
      s3Config.S3_BUCKET,
      `${day}${attempt}/${part(1)}`,
      writeStage2Parquet(stage2ColumnsFromRows(extra)),
    );
    await putObject(s3, s3Config.S3_BUCKET, `${day}.${part(0)}.crc`, 'crc');

    const result = await runActivity(load.load_to_rdb, stepInput(date));
    assert.equal(result.rowsLoaded, 90);
    assert.equal(result.files, 2);
    const loaded = await rowsOf(date);
    assert.deepEqual(
      loaded.map((r) => r.s_id),
      real.map((r) => r.s_id),
    );
  });

  test('a cancelled load rolls back and leaves the previous rows of the date', async () => {
    const date = '2026-02-10';
    const many = segments(date, 30_000, 0);
    const keys = await putDay(date, many, 3);
    assert.equal(keys.length, 3);
    const before = await tableState();
    const previous = await rowsOf(date);
    const env = new MockActivityEnvironment();
    let cancelled = false;
    env.on('heartbeat', (details: { rows?: number }) => {
      if (!cancelled && (details?.rows ?? 0) > 0) {
        cancelled = true;
        env.cancel();
      }
    });
    const err = await env.run(activities.load_to_rdb, stepInput(date)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(cancelled, 'the load heartbeated its progress');
    assert.ok(err instanceof CancelledFailure, `expected a CancelledFailure, got ${String(err)}`);
    assert.deepEqual(await rowsOf(date), previous);
    assert.deepEqual(await tableState(), before);
  });
});

describe('load_to_rdb refuses bad input and writes nothing', () => {
  const date = '2026-02-10';
  let baseline: Awaited<ReturnType<typeof tableState>>;
  let baselineRows: Awaited<ReturnType<typeof rowsOf>>;

  before(async () => {
    baseline = await tableState();
    baselineRows = await rowsOf(date);
    assert.ok(baselineRows.length > 0);
  });

  async function assertNothingWritten() {
    assert.deepEqual(await rowsOf(date), baselineRows);
    assert.deepEqual(await tableState(), baseline);
  }

  test('a missing prefix names the s3:// path', async () => {
    await deletePrefix(s3, s3Config.S3_BUCKET, dayPrefix(date));
    await expectNonRetryable(
      date,
      new RegExp(`s3://${s3Config.S3_BUCKET}/${dayPrefix(date)}.*empty or missing`),
    );
    await assertNothingWritten();
  });

  test('a prefix without parquet files says so', async () => {
    await putObject(s3, s3Config.S3_BUCKET, `${dayPrefix(date)}_SUCCESS`, '');
    await putObject(s3, s3Config.S3_BUCKET, `${dayPrefix(date)}.part-00000.crc`, 'x');
    await expectNonRetryable(date, /no parquet files under s3:\/\/.*\(2 other object\(s\)\)/);
    await assertNothingWritten();
  });

  test('a corrupt file is named', async () => {
    const keys = await putDay(date, segments(date, 90), 2);
    await putObject(s3, s3Config.S3_BUCKET, keys[1]!, 'PAR1 this is not parquet at all');
    await expectNonRetryable(
      date,
      new RegExp(`s3://${s3Config.S3_BUCKET}/${keys[1]} is not a readable Parquet file`),
    );
    await assertNothingWritten();
  });

  test('a file whose data pages are damaged fails after rows were streamed, and rolls back', async () => {
    const keys = await putDay(date, segments(date, 3000), 1);
    const good = writeStage2Parquet(stage2ColumnsFromRows(segments(date, 3000)), { rowGroupSize: 1000 });
    const damaged = Uint8Array.from(good);
    // Garble the middle of the file (data pages of a later row group), keep header and footer intact.
    const from = Math.floor(damaged.length * 0.6);
    for (let i = from; i < from + 400; i++) damaged[i] = (damaged[i]! * 31 + 7) & 0xff;
    await putObject(s3, s3Config.S3_BUCKET, keys[0]!, damaged);
    await expectNonRetryable(date, new RegExp(`s3://${s3Config.S3_BUCKET}/${keys[0]}.*row group`));
    await assertNothingWritten();
  });

  test('a missing column names the file and the column', async () => {
    const keys = await putDay(date, segments(date, 90), 3);
    const schema = STAGE2_SCHEMA.filter((el) => el.name !== 'centroid_lat').map((el) =>
      el.num_children ? { ...el, num_children: 5 } : el,
    );
    await putObject(
      s3,
      s3Config.S3_BUCKET,
      keys[2]!,
      writeStage2Parquet(stage2ColumnsFromRows(segments(date, 5)), { schema }),
    );
    await expectNonRetryable(date, new RegExp(`${keys[2]}: column "centroid_lat" is missing`));
    await assertNothingWritten();
  });

  test('a wrong column type names the file, the column and both types', async () => {
    const keys = await putDay(date, segments(date, 90), 2);
    const schema = STAGE2_SCHEMA.map((el) =>
      el.name === 'impact_count'
        ? { ...el, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const }
        : el,
    );
    const columns = stage2ColumnsFromRows(segments(date, 5));
    const asText = {
      ...columns,
      impact_count: Array.from(columns.impact_count, String),
    } as unknown as typeof columns;
    await putObject(s3, s3Config.S3_BUCKET, keys[0]!, writeStage2Parquet(asText, { schema }));
    await expectNonRetryable(
      date,
      new RegExp(`${keys[0]}: column "impact_count" has type BYTE_ARRAY/UTF8, expected integer`),
    );
    await assertNothingWritten();
  });

  test('a null s_id names the file and the row, after earlier files were streamed', async () => {
    const rows = segments(date, 90);
    rows[75] = { ...rows[75]!, s_id: null };
    const keys = await putDay(date, rows, 3);
    // Rows 60..89 are in the third file: row 75 is its row 15.
    await expectNonRetryable(date, new RegExp(`${keys[2]} row 15: s_id is null`));
    await assertNothingWritten();
  });

  test('a row of another date is refused', async () => {
    const rows = segments(date, 30);
    rows[4] = { ...rows[4]!, date: '2026-02-09' };
    const keys = await putDay(date, rows, 1);
    await expectNonRetryable(
      date,
      new RegExp(`${keys[0]} row 4: date is 2026-02-09, expected the batch date ${date}`),
    );
    await assertNothingWritten();
  });

  test('duplicate segments of one date are refused', async () => {
    const rows = segments(date, 30);
    rows[9] = { ...rows[9]!, s_id: rows[2]!.s_id };
    await putDay(date, rows, 2);
    await expectNonRetryable(date, /duplicate segments .*SEG_00002/);
    await assertNothingWritten();
  });

  test('an impossible batch date is refused before anything is read', async () => {
    await expectNonRetryable('2026-02-30', /not a real calendar date/);
    await assertNothingWritten();
  });
});
