/**
 * Reverse geocoding during load_to_rdb, against a local HTTP server answering in the Kakao Local API's
 * documented coord2address format, with the real PostgreSQL and S3 of the local stack.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { Secret, type Config } from '../../../src/config';
import { createLoadActivities } from '../../../src/activities/load';
import { stage2ColumnsFromRows, writeStage2Parquet, type Stage2Row } from '../../../bench/stage2-parquet';
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

let db: ThrowawayDatabase;
let s3: S3Client;
let s3Config: Config['s3'];
let server: http.Server;
let baseUrl: string;

/** Per segment longitude (x): how the fake Kakao answers. */
const X_THROTTLED_ONCE = '127.0001';
const X_ALWAYS_500 = '127.0002';
const X_LOT_ONLY = '127.0003';
const X_NO_ADDRESS = '127.0004';

const requests: { x: string; auth: string | undefined }[] = [];
let inFlight = 0;
let maxInFlight = 0;
const throttled = new Set<string>();

function kakaoAnswer(x: string): { status: number; body: unknown } {
  if (x === X_THROTTLED_ONCE && !throttled.has(x)) {
    throttled.add(x);
    return { status: 429, body: { errorType: 'RequestThrottled', message: 'API limit has been exceeded.' } };
  }
  if (x === X_ALWAYS_500) return { status: 500, body: { errorType: 'InternalServerError', message: 'oops' } };
  if (x === X_NO_ADDRESS) return { status: 200, body: { meta: { total_count: 0 }, documents: [] } };
  const address = {
    address_name: '서울 중구 태평로1가 31',
    region_1depth_name: '서울',
    region_2depth_name: '중구',
    region_3depth_name: '태평로1가',
    mountain_yn: 'N',
    main_address_no: '31',
    sub_address_no: '',
    zip_code: '',
  };
  const road_address =
    x === X_LOT_ONLY
      ? null
      : {
          address_name: '서울특별시 중구 세종대로 110',
          region_1depth_name: '서울',
          region_2depth_name: '중구',
          region_3depth_name: '',
          road_name: `세종대로 ${x}`,
          underground_yn: 'N',
          main_building_no: '110',
          sub_building_no: '',
          building_name: '서울특별시청',
          zone_no: '04524',
        };
  return { status: 200, body: { meta: { total_count: 1 }, documents: [{ road_address, address }] } };
}

function segment(i: number, x: string, date = '2026-06-01'): Stage2Row {
  return {
    s_id: `GEO_${i}`,
    date,
    impact_count: i,
    total_count: 10,
    centroid_lon: Number(x),
    centroid_lat: 37.5665,
  };
}

const kakao = (key: string | undefined): Config['kakao'] => ({
  KAKAO_REST_API_KEY: key ? new Secret(key) : undefined,
  KAKAO_API_URL: baseUrl,
  KAKAO_CONCURRENCY: 2,
});

async function putDay(date: string, rows: Stage2Row[]) {
  const prefix = `${s3Config.S3_STAGE2_OUTPUT_PREFIX}/dt=${date}/`;
  await deletePrefix(s3, s3Config.S3_BUCKET, prefix);
  const half = Math.ceil(rows.length / 2);
  for (const [p, slice] of [rows.slice(0, half), rows.slice(half)].entries()) {
    await putObject(
      s3,
      s3Config.S3_BUCKET,
      `${prefix}part-0000${p}.snappy.parquet`,
      writeStage2Parquet(stage2ColumnsFromRows(slice)),
    );
  }
}

before(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const x = url.searchParams.get('x') ?? '';
    requests.push({ x, auth: req.headers.authorization });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      if (url.pathname !== '/v2/local/geo/coord2address.json') {
        res.writeHead(404).end();
        return;
      }
      const { status, body } = kakaoAnswer(x);
      res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8' }).end(JSON.stringify(body));
    }, 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  db = await createThrowawayDatabase('geocode');
  s3 = s3ClientFor();
  s3Config = s3ConfigWithUniquePrefix();
});

after(async () => {
  await deletePrefix(s3, s3Config.S3_BUCKET, `${s3Config.S3_STAGE2_OUTPUT_PREFIX}/`);
  s3.destroy();
  await db?.drop();
  await new Promise((r) => server.close(r));
});

describe('reverse geocoding in load_to_rdb', () => {
  test('without KAKAO_REST_API_KEY it is skipped and Kakao is never called', async () => {
    await putDay('2026-05-31', [segment(1, '127.0100', '2026-05-31')]);
    const { load_to_rdb } = createLoadActivities({
      s3,
      pool: db.pool,
      config: { s3: s3Config, kakao: kakao(undefined) },
    });
    const result = await runActivity(load_to_rdb, stepInput('2026-05-31'));
    assert.equal(result.geocoded, 0);
    assert.equal(requests.length, 0);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM segment_address');
    assert.equal(rows[0].n, 0);
  });

  test('new segments get addresses; a 429 is retried; one segment failing forever does not fail the load', async () => {
    const xs = [X_THROTTLED_ONCE, X_ALWAYS_500, X_LOT_ONLY, X_NO_ADDRESS, '127.0005', '127.0006', '127.0007'];
    await putDay(
      '2026-06-01',
      xs.map((x, i) => segment(i + 1, x)),
    );
    const { load_to_rdb } = createLoadActivities({
      s3,
      pool: db.pool,
      config: { s3: s3Config, kakao: kakao('test-rest-key') },
      geocode: { attempts: 3, backoffMs: 20 },
    });
    const result = await runActivity(load_to_rdb, stepInput('2026-06-01'));
    assert.equal(result.rowsLoaded, 7);
    assert.equal(result.geocoded, 5);

    const { rows } = await db.pool.query(
      `SELECT s_id, road_name, district, centroid_lon FROM segment_address ORDER BY s_id`,
    );
    assert.deepEqual(rows, [
      { s_id: 'GEO_1', road_name: `세종대로 ${X_THROTTLED_ONCE}`, district: '중구', centroid_lon: 127.0001 },
      // lot address only: region_3depth_name as the road name
      { s_id: 'GEO_3', road_name: '태평로1가', district: '중구', centroid_lon: 127.0003 },
      { s_id: 'GEO_5', road_name: '세종대로 127.0005', district: '중구', centroid_lon: 127.0005 },
      { s_id: 'GEO_6', road_name: '세종대로 127.0006', district: '중구', centroid_lon: 127.0006 },
      { s_id: 'GEO_7', road_name: '세종대로 127.0007', district: '중구', centroid_lon: 127.0007 },
    ]);
    const count = (x: string) => requests.filter((r) => r.x === x).length;
    assert.equal(count(X_THROTTLED_ONCE), 2, '429 then success');
    assert.equal(count(X_ALWAYS_500), 3, 'retried up to the attempt limit');
    assert.ok(requests.every((r) => r.auth === 'KakaoAK test-rest-key'));
    assert.ok(maxInFlight <= 2, `at most KAKAO_CONCURRENCY requests at once, saw ${maxInFlight}`);
    assert.equal(maxInFlight, 2, 'the concurrency is used');
  });

  test('a rerun asks Kakao only about segments still without an address', async () => {
    requests.length = 0;
    const { load_to_rdb } = createLoadActivities({
      s3,
      pool: db.pool,
      config: { s3: s3Config, kakao: kakao('test-rest-key') },
      geocode: { attempts: 1, backoffMs: 1 },
    });
    await runActivity(load_to_rdb, stepInput('2026-06-01'));
    assert.deepEqual(requests.map((r) => r.x).sort(), [X_ALWAYS_500, X_NO_ADDRESS]);
  });
});
