/**
 * Both reference jobs on the local stack exactly as the pipeline runs them: the demo data and the job code
 * uploaded to S3 (moto), the code fetched back from S3, spark-submit in client mode against the standalone
 * master with the contract's arguments, reading and writing S3 through s3a; the output read back with hyparquet.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { loadConfig, type Config } from '../../../src/config';
import { generateDemoData, type DemoData, type Reading } from '../../../src/demo/data';
import { deleteKeys, listKeys } from '../../../src/demo/s3-sync';
import { uploadDemoData, uploadSparkCode, type UploadDemoDataResult } from '../../../src/demo/upload';
import {
  haversineM,
  jobLines,
  physicalSchema,
  readS3Parquet,
  run,
  s3ClientFor,
  SPARK_DIR,
  sparkSubmit,
  STAGE1_CONTRACT,
  STAGE2_CONTRACT,
  stackEnv,
  uniqueDate,
  type ParquetFiles,
  type ProcessResult,
} from './support';

const date = uniqueDate();
const codePrefix = `test-spark-code/${randomUUID()}`;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-stages-'));

let env: Record<string, string | undefined>;
let s3: S3Client;
let bucket: string;
let prefixes: Config['s3'];
let spark: Config['spark'];
let masterUrl: string;
let webUi: string;
let startedDaemons = false;
let upload: UploadDemoDataResult;
let demo: DemoData;
const runs: Partial<Record<'stage1' | 'stage2', ProcessResult>> = {};

const partition = (prefix: string) => `${prefix}/dt=${date}/`;

async function masterState(): Promise<
  { aliveworkers?: number; completedapps?: { name: string }[] } | undefined
> {
  try {
    const response = await fetch(`${webUi}/json/`, { signal: AbortSignal.timeout(3000) });
    return response.ok ? ((await response.json()) as { aliveworkers?: number }) : undefined;
  } catch {
    return undefined;
  }
}

/** Fetches the deployed code back from S3, as download_code does on the master. */
async function downloadCode(target: string): Promise<void> {
  for (const key of await listKeys(s3, bucket, `${codePrefix}/`)) {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const file = path.join(target, key.slice(codePrefix.length + 1));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, await object.Body!.transformToByteArray());
  }
}

const submit = (stage: 'stage1' | 'stage2') =>
  sparkSubmit({
    sparkHome: spark.SPARK_HOME,
    master: masterUrl,
    stage,
    codeDir: path.join(workDir, 'code'),
    date,
    confs: {
      'spark.pothole.bucket': bucket,
      'spark.pothole.prefix.raw': prefixes.S3_RAW_DATA_PREFIX,
      'spark.pothole.prefix.stage1': prefixes.S3_STAGE1_OUTPUT_PREFIX,
      'spark.pothole.prefix.stage2': prefixes.S3_STAGE2_OUTPUT_PREFIX,
    },
    extra: [
      '--executor-memory',
      spark.SPARK_EXECUTOR_MEMORY,
      '--executor-cores',
      String(spark.SPARK_EXECUTOR_CORES),
      '--total-executor-cores',
      String(spark.SPARK_TOTAL_EXECUTOR_CORES),
    ],
  });

async function decodeReadings(data: DemoData): Promise<Reading[]> {
  const rows: Reading[] = [];
  for (const part of data.readingParts) {
    const buffer = part.body.buffer.slice(part.body.byteOffset, part.body.byteOffset + part.body.byteLength);
    for (const o of await parquetReadObjects({ file: buffer as ArrayBuffer })) {
      rows.push({ ...(o as unknown as Reading), timestamp: Number(o.timestamp) });
    }
  }
  return rows;
}

const pointKey = (r: Reading | Record<string, unknown>) =>
  `${Number(r.timestamp)}|${String(r.lon)}|${String(r.lat)}`;

before(async () => {
  env = stackEnv();
  ({ s3: prefixes, spark } = loadConfig(['s3', 'spark'], env));
  bucket = prefixes.S3_BUCKET;
  s3 = s3ClientFor(env);
  const host = spark.SPARK_MASTER_HOST ?? '127.0.0.1';
  masterUrl = `spark://${host}:${spark.SPARK_MASTER_PORT}`;
  webUi = spark.SPARK_MASTER_WEBUI_URL ?? `http://${host}:${spark.SPARK_MASTER_WEBUI_PORT}`;

  // Reuse daemons someone else started (and leave them running); otherwise start our own two workers.
  if (!(await masterState())?.aliveworkers) {
    fs.writeFileSync(path.join(spark.SPARK_HOME, 'conf/workers'), '127.0.0.1\n127.0.0.1\n');
    const started = await run('bash', [path.join(spark.SPARK_HOME, 'sbin/start-all.sh')], {
      env: { ...process.env, SPARK_HOME: spark.SPARK_HOME },
    });
    assert.equal(started.code, 0, `start-all.sh failed:\n${started.output}`);
    startedDaemons = true;
  }

  // A file of an earlier deploy that is gone locally, and an earlier Stage1 output: both must disappear.
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: `${codePrefix}/stage1/old_helper.py`, Body: '#' }),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `${partition(prefixes.S3_STAGE1_OUTPUT_PREFIX)}part-99999-stale.snappy.parquet`,
      Body: 'stale',
    }),
  );
  upload = await uploadDemoData({ s3, bucket, rawPrefix: prefixes.S3_RAW_DATA_PREFIX, date });
  demo = generateDemoData(date);
  await uploadSparkCode({ s3, bucket, codePrefix, dir: SPARK_DIR });
  await downloadCode(path.join(workDir, 'code'));

  for (const stage of ['stage1', 'stage2'] as const) {
    runs[stage] = await submit(stage);
    console.log(
      `# ${stage} for ${date} on ${masterUrl}: exit ${runs[stage].code} in ${runs[stage].seconds.toFixed(1)} s`,
    );
    console.log(jobLines(runs[stage].output).replace(/^/gm, '#   '));
    if (runs[stage].code !== 0) break;
  }
});

after(async () => {
  if (s3) {
    for (const prefix of [
      partition(prefixes.S3_RAW_DATA_PREFIX),
      partition(prefixes.S3_STAGE1_OUTPUT_PREFIX),
      partition(prefixes.S3_STAGE2_OUTPUT_PREFIX),
      `${codePrefix}/`,
    ]) {
      await deleteKeys(s3, bucket, await listKeys(s3, bucket, prefix));
    }
    s3.destroy();
  }
  if (startedDaemons) {
    const stopped = await run('bash', [path.join(spark.SPARK_HOME, 'sbin/stop-all.sh')], {
      env: { ...process.env, SPARK_HOME: spark.SPARK_HOME },
    });
    assert.equal(stopped.code, 0, `stop-all.sh failed:\n${stopped.output}`);
  }
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe(`the reference jobs on the standalone cluster, through S3 (date ${date})`, () => {
  it('deploys each stage folder with exactly main.py, common.py and its config', async () => {
    const keys = (await listKeys(s3, bucket, `${codePrefix}/`))
      .map((k) => k.slice(codePrefix.length + 1))
      .sort();
    assert.deepEqual(keys, [
      'stage1/common.py',
      'stage1/config_stage1.json',
      'stage1/main.py',
      'stage2/common.py',
      'stage2/config_stage2.json',
      'stage2/main.py',
    ]);
  });

  it('uploads the demo readings as several parquet part files under raw-sensor-data/dt=<date>/', async () => {
    const keys = await listKeys(s3, bucket, partition(prefixes.S3_RAW_DATA_PREFIX));
    assert.equal(keys.length, demo.readingParts.length);
    assert.ok(
      keys.length >= 2 && keys.every((k) => /\/part-\d{5}\.snappy\.parquet$/.test(k)),
      keys.join(', '),
    );
    assert.equal(upload.readings, demo.stats.readings);
    assert.deepEqual(upload.potholeSegmentIds, demo.potholeSegmentIds);
  });

  // Runtimes are printed, not asserted: on a shared 2-core box they say more about the neighbours.
  it('runs both stages to success as applications of the standalone master', async () => {
    for (const stage of ['stage1', 'stage2'] as const) {
      const result = runs[stage];
      assert.ok(result, `${stage} did not run`);
      assert.equal(result.code, 0, `${stage} failed:\n${result.output.slice(-4000)}`);
    }
    const apps = ((await masterState())?.completedapps ?? []).map((a) => a.name);
    for (const stage of ['stage1', 'stage2'])
      assert.ok(apps.includes(`pothole-${stage}-${date}`), apps.join(', '));
  });

  describe('Stage1', () => {
    let out: ParquetFiles;
    before(async () => {
      out = await readS3Parquet(s3, bucket, partition(prefixes.S3_STAGE1_OUTPUT_PREFIX));
    });

    it('keeps exactly the moving, well-fixed readings: stationary and bad-GPS ones are gone', async () => {
      const readings = await decodeReadings(demo);
      const kept = readings.filter((r) => r.velocity > 5.0 && r.hdop <= 5.0 && r.satellites >= 4);
      const keptSet = new Set(kept);
      const dropped = readings.filter((r) => !keptSet.has(r));
      assert.ok(dropped.some((r) => r.velocity <= 5) && dropped.some((r) => r.hdop > 5 || r.satellites < 4));
      assert.equal(out.rows.length, demo.stats.kept);
      const written = new Set(out.rows.map(pointKey));
      assert.equal(written.size, out.rows.length);
      assert.deepEqual(
        kept.filter((r) => !written.has(pointKey(r))),
        [],
        'every kept reading is in the output',
      );
      assert.equal(dropped.filter((r) => written.has(pointKey(r))).length, 0, 'no dropped reading is');
    });

    it('overwrites the partition and writes the contract columns as snappy parquet', () => {
      assert.ok(!out.files.some((f) => f.includes('stale')), out.files.join(', '));
      for (const schema of out.schemas) assert.deepEqual(physicalSchema(schema), STAGE1_CONTRACT);
      assert.deepEqual([...out.codecs], ['SNAPPY']);
    });
  });

  describe('Stage2', () => {
    let out: ParquetFiles;
    let stage1: ParquetFiles;
    before(async () => {
      out = await readS3Parquet(s3, bucket, partition(prefixes.S3_STAGE2_OUTPUT_PREFIX));
      stage1 = await readS3Parquet(s3, bucket, partition(prefixes.S3_STAGE1_OUTPUT_PREFIX));
    });

    it('writes s_id string, date date, impact_count int, total_count int, centroid_lon/lat double, snappy', () => {
      assert.ok(out.files.length >= 1);
      for (const schema of out.schemas) assert.deepEqual(physicalSchema(schema), STAGE2_CONTRACT);
      assert.deepEqual([...out.codecs], ['SNAPPY']);
      for (const row of out.rows) {
        assert.equal((row.date as Date).toISOString().slice(0, 10), date);
        const segment = demo.roadNetwork.find((s) => s.s_id === row.s_id);
        assert.ok(segment, `unknown segment ${String(row.s_id)}`);
        assert.equal(row.centroid_lon, (segment.start_lon + segment.end_lon) / 2);
        assert.equal(row.centroid_lat, (segment.start_lat + segment.end_lat) / 2);
      }
    });

    it('ranks the segments with injected potholes first, by a clear margin', () => {
      const ranked = [...out.rows].sort((a, b) => (b.impact_count as number) - (a.impact_count as number));
      const top = ranked.slice(0, demo.potholeSegmentIds.length).map((r) => r.s_id as string);
      assert.deepEqual([...top].sort(), demo.potholeSegmentIds);
      const potholes = ranked.filter((r) => demo.potholeSegmentIds.includes(r.s_id as string));
      const others = ranked.filter((r) => !demo.potholeSegmentIds.includes(r.s_id as string));
      const weakestPothole = Math.min(...potholes.map((r) => r.impact_count as number));
      const strongestOther = Math.max(0, ...others.map((r) => r.impact_count as number));
      console.log(`#   pothole segments: ${potholes.map((r) => `${r.s_id}=${r.impact_count}`).join(', ')}`);
      console.log(`#   highest other segment impact_count: ${strongestOther}`);
      assert.ok(weakestPothole > 2 * strongestOther, `${weakestPothole} vs ${strongestOther}`);
    });

    it('assigns every Stage1 reading to its nearest centroid within 50 m, as a brute-force search does', () => {
      const centroids = demo.roadNetwork.map((s) => ({
        s_id: s.s_id,
        lon: (s.start_lon + s.end_lon) / 2,
        lat: (s.start_lat + s.end_lat) / 2,
      }));
      const expected = new Map<string, { impact_count: number; total_count: number }>();
      for (const p of stage1.rows) {
        let best: { s_id: string; d: number } | undefined;
        for (const c of centroids) {
          const d = haversineM(p.lon as number, p.lat as number, c.lon, c.lat);
          if (d <= 50 && (!best || d < best.d || (d === best.d && c.s_id < best.s_id)))
            best = { s_id: c.s_id, d };
        }
        if (!best) continue;
        const counts = expected.get(best.s_id) ?? { impact_count: 0, total_count: 0 };
        counts.total_count++;
        counts.impact_count += p.is_pothole as number;
        expected.set(best.s_id, counts);
      }
      const actual = new Map(
        out.rows.map((r) => [r.s_id as string, { impact_count: r.impact_count, total_count: r.total_count }]),
      );
      assert.deepEqual(actual, expected);
    });
  });
});
