/** The dashboard's read APIs against the local PostgreSQL: map, segment popup, repair-priority list, CSV, trend. */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { checkSchema } from '../../../src/dashboard/server';
import { createPool } from '../../../src/db/pool';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../support/database';
import { dayBefore } from '../../support/dashboard-data';
import { dashboardFor, LATEST, logLines, NO_TEMPORAL, RANKED, refreshViews, seedSmallWeek } from './support';

let db: ThrowawayDatabase;
let app: FastifyInstance;

before(async () => {
  db = await createThrowawayDatabase('dashboard_views');
  await seedSmallWeek(db.pool);
  app = await dashboardFor(db.pool);
});

after(async () => {
  await app?.close();
  await db?.drop();
});

const get = async (url: string) => {
  const res = await app.inject({ method: 'GET', url });
  const json = String(res.headers['content-type']).startsWith('application/json');
  return {
    status: res.statusCode,
    body: json ? res.json() : undefined,
    headers: res.headers,
    text: res.body,
  };
};

describe('the map API', () => {
  it('gives every segment of the latest day at its centroid, with risk rate and impacts, as columns', async () => {
    const { status, body: s } = await get('/api/map/segments');
    assert.equal(status, 200);
    assert.equal(s.date, LATEST);
    assert.equal(s.count, 4);
    const byId = Object.fromEntries(
      s.ids.map((id: string, i: number) => [id, [s.lon[i], s.lat[i], s.risk[i], s.impacts[i]]]),
    );
    assert.deepEqual(byId, {
      GN_0001: [127.03, 37.5, 5, 10],
      GN_0002: [127.025, 37.504, 40, 40],
      SC_0001: [127.01, 37.49, 0, 0],
      SC_0002: [127.005, 37.485, 10, 5],
    });
    const marks = (await get('/api/map')).body;
    assert.deepEqual(marks.statuses, { ids: [], status: [] }, 'no segment has left 미보수 yet');
  });

  it('sends the segments gzipped as prepared once a generation, and a page loaded again the same day revalidates them (304)', async () => {
    const plain = await app.inject({ url: '/api/map/segments' });
    const zipped = await app.inject({
      url: '/api/map/segments',
      headers: { 'accept-encoding': 'gzip, deflate, br, zstd' },
    });
    assert.equal(zipped.statusCode, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip', 'gzip, as prepared, even where br is offered');
    assert.equal(zipped.headers.vary, 'Accept-Encoding');
    assert.equal(zlib.gunzipSync(zipped.rawPayload).toString(), plain.body);
    assert.equal(
      plain.headers['content-encoding'],
      undefined,
      'identity for a client that offers no encoding',
    );
    const refused = await app.inject({
      url: '/api/map/segments',
      headers: { 'accept-encoding': 'gzip;q=0' },
    });
    assert.equal(refused.headers['content-encoding'], undefined, 'gzip;q=0 refuses gzip');
    assert.equal(refused.body, plain.body);

    const etag = String(plain.headers.etag);
    assert.match(etag, /^"[\w-]{27}"$/);
    assert.equal(zipped.headers.etag, etag);
    assert.equal(plain.headers['cache-control'], 'no-cache', 'revalidated at every load');
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const again = await app.inject({ url: '/api/map/segments', headers: { 'if-none-match': ifNoneMatch } });
      assert.equal(again.statusCode, 304, ifNoneMatch);
      assert.equal(again.body, '');
    }
    const stale = await app.inject({ url: '/api/map/segments', headers: { 'if-none-match': '"yesterday"' } });
    assert.equal(stale.statusCode, 200);
    assert.equal(stale.body, plain.body);
  });

  it('follows a refresh of the views (nothing stale is served)', async () => {
    const before = String((await get('/api/map/segments')).headers.etag);
    await db.pool.query(
      `UPDATE pothole_segments SET impact_count = 12 WHERE s_id = 'GN_0001' AND date = $1`,
      [LATEST],
    );
    await refreshViews(db.pool);
    try {
      const { body: s, headers } = await get('/api/map/segments');
      assert.equal(s.impacts[s.ids.indexOf('GN_0001')], 12);
      assert.notEqual(headers.etag, before, 'a new generation, a new ETag');
      assert.equal(
        (await app.inject({ url: '/api/map/segments', headers: { 'if-none-match': before } })).statusCode,
        200,
        "yesterday's copy is replaced",
      );
      const trend = (await get('/api/trend')).body;
      assert.equal(trend.days.at(-1).impacts, 57);
    } finally {
      await db.pool.query(
        `UPDATE pothole_segments SET impact_count = 10 WHERE s_id = 'GN_0001' AND date = $1`,
        [LATEST],
      );
      await refreshViews(db.pool);
    }
    assert.equal((await get('/api/trend')).body.days.at(-1).impacts, 55);
  });

  it("opens a segment's popup: road, district, impacts, traffic, complaints, rank and repair status", async () => {
    const { status, body } = await get('/api/segments/GN_0001');
    assert.equal(status, 200);
    assert.deepEqual(
      {
        road: body.road_name,
        district: body.district,
        impacts: body.impact_count,
        traffic: body.total_count,
        complaints: body.complaint_count,
        rank: body.priority_rank,
        score: body.priority_score,
        repairStatus: body.repair_status,
        history: body.history,
      },
      {
        road: '테헤란로',
        district: '강남구',
        impacts: 10,
        traffic: 200,
        complaints: 2,
        rank: 1,
        score: 120,
        repairStatus: '미보수',
        history: [],
      },
    );
    const missing = await get('/api/segments/NOPE_0001');
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /segment "NOPE_0001" is not on the latest day's map/);
  });
});

describe('the repair-priority API', () => {
  it('lists the latest day best first, each score split into its impacts, complaints and road-grade parts', async () => {
    const { body } = await get('/api/priority');
    assert.equal(body.date, LATEST);
    assert.equal(body.matching, 4);
    assert.deepEqual(body.districts, ['강남구', '서초구']);
    assert.deepEqual(
      body.rows.map((r: Record<string, unknown>) => [
        r.priority_rank,
        r.s_id,
        r.priority_score,
        r.impact_term,
        r.complaint_term,
        r.road_grade_term,
        r.total_traffic,
        r.repair_status,
      ]),
      [
        [1, 'GN_0001', 120, 10, 100, 10, 200, '미보수'],
        [2, 'SC_0001', 100, 0, 50, 50, 0, '미보수'],
        [3, 'GN_0002', 70, 40, 0, 30, 100, '미보수'],
        [4, 'SC_0002', 25, 5, 0, 20, 50, '미보수'],
      ],
    );
    const { rows } = await db.pool.query(
      'SELECT s_id FROM mvw_dashboard_repair_priority ORDER BY priority_rank, s_id',
    );
    assert.deepEqual(
      rows.map((r) => r.s_id),
      RANKED,
      'the same order as the view',
    );
  });

  it('filters by district, searches segment ids (prefix) and road names (part), wildcards taken literally', async () => {
    const ids = async (query: string) =>
      (await get(`/api/priority?${query}`)).body.rows.map((r: { s_id: string }) => r.s_id);
    assert.deepEqual(await ids(`district=${encodeURIComponent('서초구')}`), ['SC_0001', 'SC_0002']);
    assert.deepEqual(await ids('q=gn_'), ['GN_0001', 'GN_0002']);
    assert.deepEqual(await ids(`q=${encodeURIComponent('강남')}`), ['GN_0002']);
    assert.deepEqual(await ids('q=%25'), ['SC_0002'], '% is a character, not a wildcard');
    assert.deepEqual(await ids(`district=${encodeURIComponent('강남구')}&q=tehe`), []);
    assert.deepEqual(await ids(`status=${encodeURIComponent('보수중')}`), []);
  });

  it('pages: limit and offset, with the count of every match', async () => {
    const { body } = await get('/api/priority?limit=2&offset=1');
    assert.deepEqual(
      body.rows.map((r: { s_id: string }) => r.s_id),
      ['SC_0001', 'GN_0002'],
    );
    assert.equal(body.matching, 4);
  });

  it('refuses a bad query with 400 naming every bad parameter', async () => {
    const res = await get('/api/priority?status=done&limit=0');
    assert.equal(res.status, 400);
    assert.match(res.body.error, /status must be one of 미보수, 보수중, 보수완료/);
    assert.match(res.body.error, /limit/);
  });

  it('downloads what the filter shows as CSV, named after the day', async () => {
    const res = await get(`/api/priority.csv?district=${encodeURIComponent('서초구')}`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/csv; charset=utf-8/);
    assert.equal(res.headers['content-disposition'], `attachment; filename="repair-priority-${LATEST}.csv"`);
    const lines = res.text
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /^2,SC_0001,반포대로,서초구,100,0,50,50,0,0,1,미보수,,,$/);
    assert.match(lines[2]!, /^4,SC_0002,50%_도로,서초구,25,5,0,20,50,5,0,미보수,,,$/);
  });
});

describe('compression', () => {
  it('page files and answers over 1 KB go compressed to a browser that accepts it, small ones as they are', async () => {
    const plain = await app.inject({ url: '/vendor/leaflet/leaflet.js' });
    const br = await app.inject({
      url: '/vendor/leaflet/leaflet.js',
      headers: { 'accept-encoding': 'gzip, br' },
    });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(zlib.brotliDecompressSync(br.rawPayload).toString(), plain.body);
    assert.ok(
      br.rawPayload.length < plain.rawPayload.length / 2,
      `${br.rawPayload.length} of ${plain.rawPayload.length} bytes`,
    );
    const small = await app.inject({ url: '/api/trend', headers: { 'accept-encoding': 'gzip, br' } });
    assert.ok(small.rawPayload.length < 1024);
    assert.equal(small.headers['content-encoding'], undefined);
  });
});

describe('the trend API', () => {
  it('sums traffic and impacts per day over the last 7 days, a day without data at 0', async () => {
    const { body } = await get('/api/trend');
    assert.deepEqual(body.days, [
      { date: dayBefore(LATEST, 6), traffic: 200, impacts: 2 },
      { date: dayBefore(LATEST, 5), traffic: 200, impacts: 2 },
      { date: dayBefore(LATEST, 4), traffic: 200, impacts: 2 },
      { date: dayBefore(LATEST, 3), traffic: 0, impacts: 0 },
      { date: dayBefore(LATEST, 2), traffic: 200, impacts: 2 },
      { date: dayBefore(LATEST, 1), traffic: 280, impacts: 44 },
      { date: LATEST, traffic: 350, impacts: 55 },
    ]);
  });

  it("gives the top segments' change from the day before (none when they are new)", async () => {
    const { body } = await get('/api/trend');
    assert.deepEqual(
      body.top.map((r: Record<string, unknown>) => [
        r.s_id,
        r.previous_impacts,
        r.impacts,
        r.previous_traffic,
      ]),
      [
        ['GN_0001', 4, 10, 180],
        ['SC_0001', null, 0, null],
        ['GN_0002', 40, 40, 100],
        ['SC_0002', null, 5, null],
      ],
    );
  });
});

describe('the page', () => {
  it('is served with its scripts and Leaflet from node_modules, and tells the page its settings', async () => {
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<title>포트홀 보수 대시보드<\/title>/);
    for (const asset of [
      '/app.js',
      '/segment-layer.js',
      '/vendor/leaflet/leaflet.js',
      '/vendor/leaflet/leaflet.css',
    ])
      assert.equal((await app.inject({ url: asset })).statusCode, 200, asset);
    const { body } = await get('/api/settings');
    assert.equal(body.tileUrl, null, 'DASHBOARD_TILE_URL=none');
    assert.deepEqual(body.statuses, ['미보수', '보수중', '보수완료']);
    assert.equal(body.loginRequired, false);
  });

  it('keeps working when Temporal is unreachable: the runs API says so with 503, the log says why', async () => {
    const log = logLines();
    const cut = await dashboardFor(db.pool, {}, { logStream: log });
    try {
      const runs = await cut.inject({ url: '/api/runs' });
      assert.equal(runs.statusCode, 503);
      const body = runs.json();
      assert.equal(body.available, false);
      assert.match(body.error, /^the Temporal server cannot be reached \(.*request id /);
      assert.doesNotMatch(runs.body, new RegExp(NO_TEMPORAL), 'no address in the answer');
      const logged = log.entries().find((e) => e.reqId === body.requestId);
      assert.match(String(logged?.reason), new RegExp(`cannot reach the Temporal server at ${NO_TEMPORAL}`));
      assert.equal((await cut.inject({ url: '/api/priority' })).statusCode, 200);
    } finally {
      await cut.close();
    }
  });

  it('answers 503 naming the database when PostgreSQL cannot be reached (the log has the address)', async () => {
    const away = createPool({ ...db.config, port: 1 }, { max: 1 });
    const log = logLines();
    const cut = await dashboardFor(away, {}, { logStream: log });
    try {
      const res = await cut.inject({ url: '/api/priority' });
      assert.equal(res.statusCode, 503);
      const { error, requestId } = res.json();
      assert.match(error, /^the serving database is unavailable; try again shortly \(.*request id /);
      assert.doesNotMatch(res.body, /ECONNREFUSED|:1\b/);
      const logged = log.entries().find((e) => e.reqId === requestId) as { err?: { message: string } };
      assert.match(String(logged?.err?.message), /ECONNREFUSED/);
      assert.equal(
        (await cut.inject({ url: '/api/settings' })).statusCode,
        200,
        'the page itself still loads',
      );
    } finally {
      await cut.close();
      await away.end();
    }
  });

  it('refuses to start on a database without the migrations, naming the command', async () => {
    const bare = await createThrowawayDatabase('dashboard_bare', { migrate: false });
    try {
      await assert.rejects(
        checkSchema(bare.pool),
        /lacks mvw_dashboard_heatmap, mvw_dashboard_repair_priority, segment_repair_status_history, dashboard_snapshot, segment_repair_check_current, pothole_monthly_rollups: .*npx pothole db migrate/,
      );
    } finally {
      await bare.drop();
    }
  });
});
