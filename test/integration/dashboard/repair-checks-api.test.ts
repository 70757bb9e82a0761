/**
 * Did the repair hold, as the dashboard's APIs show it: each repair's verdict (확인중, 효과 확인, 재발) on the map,
 * in the popup with the figures before and after, in the repair-priority list and its filter; and the 12-month
 * trends. The days and the repairs (./repair-check-data.ts: HELD 효과 확인, BACK 재발, QUIET 확인중, UNDONE moved
 * back to 미보수, PLAIN never repaired) are written there, refresh_views running night by night.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import {
  createThrowawayDatabase,
  insertSegments,
  type ThrowawayDatabase,
} from '../activities/serving-support';
import { day, LATEST, REPAIRED_ON, seedRepairChecks } from './repair-check-data';
import { dashboardFor, OWN_HOST } from './support';

let db: ThrowawayDatabase;
let app: FastifyInstance;
let refreshViews: (batchDate: string) => Promise<unknown>;

before(async () => {
  db = await createThrowawayDatabase('dashboard_repair_checks');
  refreshViews = await seedRepairChecks(db.pool, db.config.history);
  app = await dashboardFor(db.pool);
});

after(async () => {
  await app?.close();
  await db?.drop();
});

const get = async (url: string) => {
  const res = await app.inject({ method: 'GET', url });
  const json = String(res.headers['content-type']).startsWith('application/json');
  return { status: res.statusCode, body: json ? res.json() : undefined, text: res.body };
};

/** Segment → verdict, from the map's marks (/api/map). */
async function mapVerdicts(): Promise<Record<string, string>> {
  const { body } = await get('/api/map');
  const verdicts = ((await get('/api/settings')).body as { verdicts: string[] }).verdicts;
  const { ids, verdict } = body.checks as { ids: string[]; verdict: number[] };
  return Object.fromEntries(ids.map((id, i) => [id, verdicts[verdict[i]!]!]));
}

const listed = async (query = '') =>
  ((await get(`/api/priority?${query}`)).body.rows as { s_id: string; check_verdict: string | null }[]).map(
    (r) => [r.s_id, r.check_verdict],
  );

describe("a repair's check on the dashboard", () => {
  it('the map marks each repaired segment with its verdict; a repair moved back and an unrepaired one have none', async () => {
    assert.deepEqual(await mapVerdicts(), { HELD: '효과 확인', BACK: '재발', QUIET: '확인중' });
  });

  it('the popup gives the verdict with the days, traffic, impacts and rate before and after the repair', async () => {
    const held = (await get('/api/segments/HELD')).body.repair_check;
    assert.deepEqual(held, {
      verdict: '효과 확인',
      repaired_on: REPAIRED_ON,
      check_days: 14,
      decided_on: day(REPAIRED_ON, 4), // the 4th day after it brought the 200th pass
      final: true,
      before: { days: 14, traffic: 700, impacts: 140, rate: 20 },
      after: { days: 14, traffic: 700, impacts: 0, rate: 0 },
    });
    const back = (await get('/api/segments/BACK')).body.repair_check;
    assert.deepEqual(
      [back.verdict, back.before.rate, back.after.rate, back.after.impacts],
      ['재발', 20, 18, 126],
    );
    const quiet = (await get('/api/segments/QUIET')).body.repair_check;
    assert.deepEqual([quiet.verdict, quiet.decided_on, quiet.after.traffic], ['확인중', null, 70]);
    assert.equal((await get('/api/segments/UNDONE')).body.repair_check, null, 'moved back: no check');
    assert.equal((await get('/api/segments/PLAIN')).body.repair_check, null, 'never repaired');
  });

  it("the repair-priority list carries each row's verdict and keeps the view's ranking (재발 is marked, not moved)", async () => {
    const rows = await listed();
    const { rows: ranked } = await db.pool.query<{ s_id: string }>(
      'SELECT s_id FROM mvw_dashboard_repair_priority ORDER BY priority_rank, s_id',
    );
    assert.deepEqual(
      rows.map(([id]) => id),
      ranked.map((r) => r.s_id),
    );
    assert.deepEqual(Object.fromEntries(rows), {
      HELD: '효과 확인',
      BACK: '재발',
      QUIET: '확인중',
      UNDONE: null,
      PLAIN: null,
    });
    const csv = (await get('/api/priority.csv')).text;
    assert.match(csv.split('\r\n')[0]!, /,repair_status,status_updated_at,status_note,check_verdict$/);
    assert.match(csv, /,BACK,.*,재발\r\n/);
  });

  it('filters the list and its CSV by verdict, and refuses an unknown one with 400 naming it', async () => {
    assert.deepEqual(await listed(`check=${encodeURIComponent('재발')}`), [['BACK', '재발']]);
    assert.deepEqual(await listed(`check=${encodeURIComponent('효과 확인')}`), [['HELD', '효과 확인']]);
    const csv = (await get(`/api/priority.csv?check=${encodeURIComponent('재발')}`)).text
      .trim()
      .split('\r\n');
    assert.equal(csv.length, 2);
    assert.match(csv[1]!, /,BACK,/);
    const bad = await get('/api/priority?check=recurred');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /check must be one of 확인중, 효과 확인, 재발/);
  });

  it('a status moved back to 미보수 ends the check at once: no verdict on the map, the popup or the list', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/segments/BACK/status',
      headers: { host: OWN_HOST, 'content-type': 'application/json' },
      payload: JSON.stringify({ status: '미보수', note: '포트홀 재발: 재보수 예정', expected: '보수완료' }),
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await mapVerdicts(), { HELD: '효과 확인', QUIET: '확인중' });
    assert.equal((await get('/api/segments/BACK')).body.repair_check, null);
    assert.deepEqual(await listed(`check=${encodeURIComponent('재발')}`), []);
    // The next night's refresh ends it in the table too, and nothing comes back.
    await refreshViews(LATEST);
    const { rows } = await db.pool.query(`SELECT ended_at FROM segment_repair_checks WHERE s_id = 'BACK'`);
    assert.ok(rows[0].ended_at instanceof Date);
    assert.deepEqual(await mapVerdicts(), { HELD: '효과 확인', QUIET: '확인중' });
  });
});

describe('the 12-month trends', () => {
  /** The 12 months through 2026-05, oldest first. */
  const MONTHS = [
    '2025-06-01',
    '2025-07-01',
    '2025-08-01',
    '2025-09-01',
    '2025-10-01',
    '2025-11-01',
    '2025-12-01',
    '2026-01-01',
    '2026-02-01',
    '2026-03-01',
    '2026-04-01',
    '2026-05-01',
  ];
  const zero = (month: string) => ({ month, impacts: 0, traffic: 0, rate: 0, days: 0 });

  it("the network's months through the latest day's month, oldest first, a month without data at 0", async () => {
    const { status, body } = await get('/api/trend/months');
    assert.equal(status, 200);
    assert.equal(body.date, LATEST);
    // April: 20 days of 42 impacts / 250 passes. May: the repair day as before, then 19 days of 12 / 205.
    assert.deepEqual(body.months, [
      ...MONTHS.slice(0, 7).map(zero),
      { month: '2026-01-01', impacts: 5, traffic: 100, rate: 5, days: 1 },
      zero('2026-02-01'),
      zero('2026-03-01'),
      { month: '2026-04-01', impacts: 840, traffic: 5000, rate: 16.8, days: 20 },
      { month: '2026-05-01', impacts: 42 + 19 * 12, traffic: 250 + 19 * 205, rate: 6.51, days: 20 },
    ]);
  });

  it("the popup gives the segment's own months", async () => {
    const { months } = (await get('/api/segments/BACK')).body;
    assert.deepEqual(
      months.map((m: { month: string }) => m.month),
      MONTHS,
    );
    assert.deepEqual(months.slice(-2), [
      { month: '2026-04-01', impacts: 200, traffic: 1000, rate: 20, days: 20 },
      { month: '2026-05-01', impacts: 10 + 19 * 9, traffic: 1000, rate: 18.1, days: 20 },
    ]);
  });

  it("follows the next night's day: the month grows once that day is refreshed", async () => {
    const next = day(LATEST, 1);
    await insertSegments(db.pool, [
      { s_id: 'PLAIN', date: next, impact_count: 7, total_count: 100, lon: 127.05 },
    ]);
    const before = (await get('/api/trend/months')).body.months.at(-1);
    await refreshViews(next);
    const { body } = await get('/api/trend/months');
    assert.equal(body.date, next);
    assert.deepEqual(
      [body.months.at(-1).impacts - before.impacts, body.months.at(-1).days - before.days],
      [7, 1],
    );
  });
});
