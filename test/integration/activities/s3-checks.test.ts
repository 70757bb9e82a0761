/** check_s3_input / check_s3_stage1_out / check_s3_stage2_out against the stack's S3 (moto). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../../../src/config';
import { createS3CheckActivities, listAll } from '../../../src/activities/s3-checks';
import { ActivityHarness, s3ClientFor, stackEnv, stepInput, unique } from './cluster-support';

const env = stackEnv();
let s3: S3Client;
// Prefixes of our own: other test files share the bucket.
const root = unique('s3-checks');
const overrides = {
  S3_RAW_DATA_PREFIX: `${root}/raw`,
  S3_STAGE1_OUTPUT_PREFIX: `${root}/stage1`,
  S3_STAGE2_OUTPUT_PREFIX: `${root}/stage2`,
};
const config = loadConfig(['s3'], { ...env, ...overrides });
const bucket = config.s3.S3_BUCKET;
let acts: ReturnType<typeof createS3CheckActivities>;

// Unique dates per test: every test gets its own dt= folder.
let day = 0;
const nextDate = () => `2031-01-${String(++day).padStart(2, '0')}`;

const put = (key: string, body: string | Buffer = 'x') =>
  s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the check to fail');
}

before(() => {
  s3 = s3ClientFor(env);
  acts = createS3CheckActivities({ s3, config });
});

after(async () => {
  const objects = await listAll(s3, bucket, `${root}/`);
  for (let i = 0; i < objects.length; i += 1000) {
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: objects.slice(i, i + 1000).map((o) => ({ Key: o.Key! })) },
      }),
    );
  }
  s3.destroy();
});

const run = <R>(fn: (i: ReturnType<typeof stepInput>) => Promise<R>, date: string) =>
  new ActivityHarness().run(fn, stepInput(date));

test('input present: counts the non-empty objects under dt=<date>/', async () => {
  const date = nextDate();
  await put(`${overrides.S3_RAW_DATA_PREFIX}/dt=${date}/sensor-a.csv`, 'a,b\n1,2\n');
  await put(`${overrides.S3_RAW_DATA_PREFIX}/dt=${date}/nested/sensor-b.csv`, 'a,b\n');
  await put(`${overrides.S3_RAW_DATA_PREFIX}/dt=${date}/empty.csv`, '');
  const r = await run(acts.check_s3_input, date);
  assert.equal(r.path, `s3://${bucket}/${overrides.S3_RAW_DATA_PREFIX}/dt=${date}/`);
  assert.equal(r.objects, 2);
  assert.equal(r.bytes, 12);
});

test('a missing input fails non-retryably and names the s3:// path', async () => {
  const date = nextDate();
  const f = await failureOf(run(acts.check_s3_input, date));
  assert.equal(f.nonRetryable, true);
  assert.equal(f.type, 'MissingInput');
  assert.match(f.message, new RegExp(`s3://${bucket}/${overrides.S3_RAW_DATA_PREFIX}/dt=${date}/`));
  assert.match(f.message, /Upload the day's sensor files/);
});

test('an input folder holding only empty objects counts as missing', async () => {
  const date = nextDate();
  await put(`${overrides.S3_RAW_DATA_PREFIX}/dt=${date}/empty.csv`, '');
  const f = await failureOf(run(acts.check_s3_input, date));
  assert.match(f.message, /only 1 empty object/);
});

test('a neighbouring date does not count (dt=<date>/ is matched with its slash)', async () => {
  const date = nextDate();
  await put(`${overrides.S3_RAW_DATA_PREFIX}/dt=${date}x/sensor.csv`, 'data');
  await failureOf(run(acts.check_s3_input, date));
});

test('stage1 output with parquet files and _SUCCESS passes and reports the marker', async () => {
  const date = nextDate();
  const base = `${overrides.S3_STAGE1_OUTPUT_PREFIX}/dt=${date}`;
  await put(`${base}/_SUCCESS`, '');
  await put(`${base}/part-00000-abc.snappy.parquet`, Buffer.alloc(300, 1));
  await put(`${base}/part-00001-abc.snappy.parquet`, Buffer.alloc(200, 1));
  const r = await run(acts.check_s3_stage1_out, date);
  assert.deepEqual(r, { path: `s3://${bucket}/${base}/`, objects: 2, bytes: 500, successMarker: true });
});

test('stage2 output without parquet files fails naming the path and the step to rerun', async () => {
  const date = nextDate();
  const base = `${overrides.S3_STAGE2_OUTPUT_PREFIX}/dt=${date}`;
  await put(`${base}/_SUCCESS`, '');
  await put(`${base}/result.csv`, 'x');
  const f = await failureOf(run(acts.check_s3_stage2_out, date));
  assert.equal(f.type, 'MissingStageOutput');
  assert.equal(f.nonRetryable, true);
  assert.match(f.message, new RegExp(`s3://${bucket}/${base}/`));
  assert.match(f.message, /no non-empty \.parquet/);
  assert.match(f.message, /from run_stage2/);
});

test('stage output with a _temporary/ folder and no _SUCCESS is incomplete', async () => {
  const date = nextDate();
  const base = `${overrides.S3_STAGE1_OUTPUT_PREFIX}/dt=${date}`;
  await put(`${base}/part-00000.parquet`, Buffer.alloc(10, 1));
  await put(`${base}/_temporary/0/_temporary/attempt_x/part-00001.parquet`, Buffer.alloc(10, 1));
  const f = await failureOf(run(acts.check_s3_stage1_out, date));
  assert.equal(f.type, 'IncompleteStageOutput');
  assert.match(f.message, /never committed/);
});

test('a missing stage output fails the same way', async () => {
  const date = nextDate();
  const f = await failureOf(run(acts.check_s3_stage1_out, date));
  assert.equal(f.type, 'MissingStageOutput');
  assert.match(f.message, /is empty or does not exist/);
});

test('listing follows pagination past 1000 objects', async () => {
  const date = nextDate();
  const base = `${overrides.S3_RAW_DATA_PREFIX}/dt=${date}`;
  // 1001 empty objects, then one non-empty object that sorts last: only a paginated listing sees it.
  const keys = Array.from({ length: 1001 }, (_, i) => `${base}/a-${String(i).padStart(5, '0')}.csv`);
  for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => put(k, '')));
  await put(`${base}/z-last.csv`, 'data');
  const r = await run(acts.check_s3_input, date);
  assert.equal(r.objects, 1);
});

test('an invalid batch date is refused before S3 is asked', async () => {
  const f = await failureOf(run(acts.check_s3_input, '2026-02-12; rm -rf /'));
  assert.equal(f.type, 'InvalidBatchDate');
});
