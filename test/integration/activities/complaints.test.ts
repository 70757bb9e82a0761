/**
 * load_complaints and `pothole complaints load` against a stand-in of the portal's minPotholeLatLonInfo (node:http,
 * answering the way the portal does: both wrappings, several pages, a malformed item, a 500) and the local
 * PostgreSQL (a throwaway database): the counts, a second load adding nothing, the key never shown, and the
 * repair-priority view weighing the complaints once refreshed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createComplaintActivities, loadComplaints } from '../../../src/activities/complaints';
import { createViewActivities } from '../../../src/activities/views';
import { loadConfig } from '../../../src/config';
import type { LoadComplaintsResult } from '../../../src/shared/types';
import { runPothole } from '../../support/worker-process';
import {
  createThrowawayDatabase,
  insertSegments,
  runActivity,
  stackEnv,
  stepInput,
  type ThrowawayDatabase,
} from './serving-support';

const KEY = 'portal+key/secret==-do-not-print';
const LATEST = '2026-03-20';

/** Segment centroids: S_A and S_B on the latest day, S_C only the day before (still a place complaints land on). */
const SEGMENTS = {
  S_A: { lon: 127.0, lat: 37.5, impacts: 10, date: LATEST },
  S_B: { lon: 127.01, lat: 37.5, impacts: 60, date: LATEST },
  S_C: { lon: 127.05, lat: 37.5, impacts: 5, date: '2026-03-19' },
};

const item = (create_dt: string, event_lat: unknown, event_lon: unknown) => ({
  create_dt,
  event_lat,
  event_lon,
});
// 0.0009° of latitude ≈ 100 m; 0.0005° of longitude at 37.5° ≈ 44 m.
const c1 = item('2026-03-02 09:10:00', '37.5009', '127.0000'); // S_A, ≈100 m
const c2 = item('20260303', 37.5, 127.0095); // S_B, ≈44 m
const c3 = item('2026-03-03', '37.5100', '127.0000'); // ≈1.1 km from everything: unmatched
const c4 = item('2026-03-05', '37.4995', '127.0003'); // S_A
const c5 = item('2026-03-02 18:00:00', '37.5009', '127.0000'); // c1 again (same day, same place)
const c6 = item('2026-03-06', 'abc', '127.0'); // malformed
const c7 = item('2026-03-10', '37.5', '127.0503'); // S_C
const c8 = item('2026-03-18', '37.5001', '127.0001'); // S_A
const c9 = { event_lat: '37.5', event_lon: '127.0' }; // malformed: no create_dt

const header = { resultCode: '00', resultMsg: 'NORMAL SERVICE.' };
type Answer = { status: number; body: unknown };
const ok = (body: unknown): Answer => ({ status: 200, body });

/**
 * What the stand-in answers, per dateFrom-dateTo-pageNo; each request takes the next answer, the last one
 * repeats. Like the portal, it pages on its own (3 items a page here), whatever numOfRows asks.
 */
const ANSWERS: Record<string, Answer[]> = {
  '20260301-20260315-1': [
    ok({ response: { header, body: { items: { item: [c1, c2, c3] }, totalCount: 7 } } }),
  ],
  '20260301-20260315-2': [
    { status: 500, body: 'Internal Server Error' },
    ok({ body: { items: [c4, c5, c6], numOfRows: 3, pageNo: 2, totalCount: '7' } }),
  ],
  '20260301-20260315-3': [ok({ header, body: { items: { item: c7 }, totalCount: 7 } })],
  '20260316-20260320-1': [
    ok({ response: { header, body: { items: [{ item: c8 }, { item: c9 }], totalCount: 2 } } }),
  ],
  // No totalCount at all: pages go on until one is short.
  '20260401-20260402-1': [ok({ body: { items: [item('2026-04-01', '37.5', '127.01'), c3] } })],
  '20260401-20260402-2': [ok({ body: { items: [item('2026-04-02', '37.5', '127.01'), c3] } })],
  '20260401-20260402-3': [ok({ body: { items: { item: item('2026-04-02', '37.5', '127.0') } } })],
};

let db: ThrowawayDatabase;
let portal: http.Server;
let portalUrl: string;
const requests: URLSearchParams[] = [];
let answered = new Map<string, number>();

function startPortal(): Promise<void> {
  portal = http.createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://portal').searchParams;
    requests.push(q);
    if (q.get('serviceKey') !== KEY) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized');
      return;
    }
    const id = `${q.get('dateFrom')}-${q.get('dateTo')}-${q.get('pageNo')}`;
    const answers = ANSWERS[id] ?? [ok({ response: { header, body: { items: '', totalCount: 0 } } })];
    const n = answered.get(id) ?? 0;
    answered.set(id, n + 1);
    const answer = answers[Math.min(n, answers.length - 1)]!;
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/json;charset=UTF-8' }).end(text);
  });
  return new Promise((resolve) =>
    portal.listen(0, '127.0.0.1', () => {
      portalUrl = `http://127.0.0.1:${(portal.address() as AddressInfo).port}/1140100/minAnalsInfoView7/minPotholeLatLonInfo`;
      resolve();
    }),
  );
}

function complaintsConfig(overrides: Record<string, string> = {}) {
  return loadConfig(['complaints'], {
    COMPLAINTS_API_URL: portalUrl,
    COMPLAINTS_API_KEY: KEY,
    ...overrides,
  });
}

function resetPortal() {
  requests.length = 0;
  answered = new Map();
}

const totals = (r: LoadComplaintsResult) => ({
  fetched: r.fetched,
  loaded: r.loaded,
  alreadyPresent: r.alreadyPresent,
  unmatched: r.unmatched,
  malformed: r.malformed,
});

async function priority(): Promise<Record<string, { complaints: number; score: number; rank: number }>> {
  const { rows } = await db.pool.query<{
    s_id: string;
    complaint_count: number;
    score: number;
    rank: number;
  }>(
    `SELECT s_id, complaint_count, priority_score::int AS score, priority_rank::int AS rank
       FROM mvw_dashboard_repair_priority ORDER BY s_id`,
  );
  return Object.fromEntries(
    rows.map((r) => [r.s_id, { complaints: r.complaint_count, score: r.score, rank: r.rank }]),
  );
}

before(async () => {
  db = await createThrowawayDatabase('complaints');
  await insertSegments(
    db.pool,
    Object.entries(SEGMENTS).map(([s_id, s]) => ({
      s_id,
      date: s.date,
      impact_count: s.impacts,
      total_count: 100,
      lon: s.lon,
      lat: s.lat,
    })),
  );
  // S_A's centroid on an older day was elsewhere: matching uses each segment's latest centroid.
  await insertSegments(db.pool, [
    { s_id: 'S_A', date: '2026-03-01', impact_count: 0, total_count: 1, lon: 127.3, lat: 37.3 },
  ]);
  await startPortal();
});

after(async () => {
  await new Promise((r) => portal?.close(r));
  await db?.drop();
});

describe('load_complaints', () => {
  let first: LoadComplaintsResult;

  test('loads every page of every ≤15-day window, matching each complaint to the nearest segment', async () => {
    const { refresh_views } = createViewActivities({ pool: db.pool, history: db.config.history });
    await runActivity(refresh_views, stepInput(LATEST));
    assert.deepEqual(await priority(), {
      S_A: { complaints: 0, score: 10 + 30, rank: 2 },
      S_B: { complaints: 0, score: 60 + 30, rank: 1 },
    });

    resetPortal();
    const activities = createComplaintActivities({ pool: db.pool, config: complaintsConfig() });
    first = await runActivity(activities.load_complaints, {
      ...stepInput(LATEST),
      from: '2026-03-01',
      to: LATEST,
    });

    assert.deepEqual(totals(first), { fetched: 9, loaded: 5, alreadyPresent: 1, unmatched: 1, malformed: 2 });
    assert.deepEqual(
      first.windows.map(({ from, to, pages, fetched, loaded, alreadyPresent, unmatched, malformed }) => [
        `${from}..${to}`,
        { pages, fetched, loaded, alreadyPresent, unmatched, malformed },
      ]),
      [
        [
          '2026-03-01..2026-03-15',
          { pages: 3, fetched: 7, loaded: 4, alreadyPresent: 1, unmatched: 1, malformed: 1 },
        ],
        [
          '2026-03-16..2026-03-20',
          { pages: 1, fetched: 2, loaded: 1, alreadyPresent: 0, unmatched: 0, malformed: 1 },
        ],
      ],
    );
    assert.equal(first.segments, 3);
    assert.deepEqual(first.malformedExamples, [
      '2026-03-01..2026-03-15 page 2 item 3: event_lat "abc" is not a latitude',
      '2026-03-16..2026-03-20 page 1 item 2: create_dt undefined is not a date',
    ]);

    // The 500 on page 2 was retried; every request asked for one window, in yyyyMMdd, as JSON.
    assert.deepEqual(
      requests.map((q) => `${q.get('dateFrom')}-${q.get('dateTo')}-${q.get('pageNo')}`),
      [
        '20260301-20260315-1',
        '20260301-20260315-2',
        '20260301-20260315-2',
        '20260301-20260315-3',
        '20260316-20260320-1',
      ],
    );
    assert.ok(requests.every((q) => q.get('type') === 'json' && q.get('numOfRows') === '1000'));

    const { rows } = await db.pool.query<{ create_dt: string; nearest_s_id: string; distance_m: number }>(
      `SELECT to_char(create_dt, 'YYYY-MM-DD') AS create_dt, nearest_s_id, distance_m
         FROM pothole_complaints ORDER BY create_dt, nearest_s_id`,
    );
    assert.deepEqual(
      rows.map((r) => [r.create_dt, r.nearest_s_id]),
      [
        ['2026-03-02', 'S_A'],
        ['2026-03-03', 'S_B'],
        ['2026-03-05', 'S_A'],
        ['2026-03-10', 'S_C'],
        ['2026-03-18', 'S_A'],
      ],
    );
    // Great-circle distances: 0.0009° of latitude is 100.1 m, 0.0005° of longitude at 37.5° is 44.1 m.
    assert.ok(Math.abs(rows[0]!.distance_m - 100.1) < 0.5, String(rows[0]!.distance_m));
    assert.ok(Math.abs(rows[1]!.distance_m - 44.1) < 0.5, String(rows[1]!.distance_m));
    assert.ok(!JSON.stringify(first).includes(KEY));
  });

  test('the repair-priority view weighs each complaint as 50 impacts once refreshed', async () => {
    const { refresh_views } = createViewActivities({ pool: db.pool, history: db.config.history });
    await runActivity(refresh_views, stepInput(LATEST));
    // Three complaints lift S_A above S_B, which has more sensor impacts but one complaint.
    assert.deepEqual(await priority(), {
      S_A: { complaints: 3, score: 10 + 3 * 50 + 30, rank: 1 },
      S_B: { complaints: 1, score: 60 + 1 * 50 + 30, rank: 2 },
    });
  });

  test('a second load of the same range adds nothing', async () => {
    resetPortal();
    const again = await loadComplaints(
      { pool: db.pool, config: complaintsConfig().complaints, backoffMs: 1 },
      { from: '2026-03-01', to: LATEST },
    );
    assert.deepEqual(totals(again), { fetched: 9, loaded: 0, alreadyPresent: 6, unmatched: 1, malformed: 2 });
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pothole_complaints');
    assert.equal(rows[0]!.n, 5);
  });

  test('a smaller COMPLAINTS_MAX_DISTANCE_M leaves the farther complaints unmatched', async () => {
    resetPortal();
    const strict = await loadComplaints(
      {
        pool: db.pool,
        config: complaintsConfig({ COMPLAINTS_MAX_DISTANCE_M: '60' }).complaints,
        backoffMs: 1,
      },
      { from: '2026-03-01', to: '2026-03-15' },
    );
    // c1, c4 and c5 lie 60–100 m from S_A; c2 and c7 are within 45 m.
    assert.deepEqual(totals(strict), {
      fetched: 7,
      loaded: 0,
      alreadyPresent: 2,
      unmatched: 4,
      malformed: 1,
    });
  });

  test('without a totalCount, pages are read until one is shorter than asked for', async () => {
    resetPortal();
    const r = await loadComplaints(
      { pool: db.pool, config: complaintsConfig().complaints, pageSize: 2 },
      { from: '2026-04-01', to: '2026-04-02' },
    );
    assert.deepEqual(totals(r), { fetched: 5, loaded: 3, alreadyPresent: 0, unmatched: 2, malformed: 0 });
    assert.equal(r.windows[0]?.pages, 3);
    assert.ok(requests.every((q) => q.get('numOfRows') === '2'));
    await db.pool.query(`DELETE FROM pothole_complaints WHERE create_dt >= '2026-04-01'`);
  });

  test('a refused key fails at once and clearly, without showing the key', async () => {
    resetPortal();
    const activities = createComplaintActivities({
      pool: db.pool,
      config: complaintsConfig({ COMPLAINTS_API_KEY: `${KEY}-wrong` }),
    });
    const err = await runActivity(activities.load_complaints, {
      ...stepInput(LATEST),
      from: '2026-03-01',
      to: LATEST,
    }).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /refused the service key \(HTTP 401: Unauthorized\): check COMPLAINTS_API_KEY/);
    assert.match(
      err.message,
      /minPotholeLatLonInfo http:\/\/127\.0\.0\.1:\d+\/1140100\/minAnalsInfoView7\/minPotholeLatLonInfo 2026-03-01\.\.2026-03-15 page 1/,
    );
    assert.ok(!err.message.includes('portal+key') && !err.message.includes('portal%2Bkey'), err.message);
    assert.equal(requests.length, 1);
  });
});

describe('pothole complaints load', () => {
  const env = (overrides: Record<string, string> = {}) =>
    stackEnv({
      POSTGRES_DB: db.name,
      COMPLAINTS_API_URL: portalUrl,
      COMPLAINTS_API_KEY: KEY,
      ...overrides,
    });

  test('prints the counts per window and in total, never the key', async () => {
    resetPortal();
    const r = await runPothole(env(), 'complaints', 'load', '--from', '2026-03-01', '--to', LATEST);
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /complaints 2026-03-01\.\.2026-03-20: 2 window\(s\), matched against 3 segment\(s\)/);
    assert.match(out, /window\s+pages\s+fetched\s+loaded\s+already present\s+unmatched\s+malformed/);
    assert.match(out, /2026-03-01\.\.2026-03-15\s+3\s+7\s+0\s+5\s+1\s+1/);
    assert.match(out, /2026-03-16\.\.2026-03-20\s+1\s+2\s+0\s+1\s+0\s+1/);
    assert.match(out, /total\s+4\s+9\s+0\s+6\s+1\s+2/);
    assert.match(out, /page 2 item 3: event_lat "abc" is not a latitude/);
    assert.ok(!(out + r.stderr).includes('portal+key'), out + r.stderr);
  });

  test('a refused key: exit 1, one clear line, no key', async () => {
    const r = await runPothole(
      env({ COMPLAINTS_API_KEY: 'portal+key/wrong' }),
      'complaints',
      'load',
      '--from',
      '2026-03-01',
      '--to',
      '2026-03-02',
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error: minPotholeLatLonInfo .* refused the service key/);
    assert.ok(!(r.stdout + r.stderr).includes('portal+key'), r.stderr);
  });
});
