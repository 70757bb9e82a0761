/**
 * A long history: the monthly roll-up and the retirement of old days against the local PostgreSQL, on days the
 * test writes. Nothing a day held is lost when it goes, and readers are never held up by it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { networkMonths, rollUpDay, segmentMonths } from '../../../src/db/monthly-rollup';
import { planRetirement, retireOldDays } from '../../../src/db/retire';
import {
  connectClient,
  createThrowawayDatabase,
  dayTables,
  insertSegments,
  type ThrowawayDatabase,
} from '../activities/serving-support';

let db: ThrowawayDatabase;
const FIRST = '2026-01-20';
const LATEST = '2026-03-10';

const day = (from: string, offset: number) => {
  const d = new Date(`${from}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
};
const allDays = () => {
  const out: string[] = [];
  for (let d = FIRST; d <= LATEST; d = day(d, 1)) out.push(d);
  return out;
};
/** Two segments a day: A with 2 impacts in 10 passes, B with the day of the month as impacts in 100 passes. */
const rowsOf = (d: string) => [
  { s_id: 'A', date: d, impact_count: 2, total_count: 10 },
  { s_id: 'B', date: d, impact_count: Number(d.slice(8)), total_count: 100 },
];

const tables = () => dayTables(db.pool);

before(async () => {
  db = await createThrowawayDatabase('retire');
  await insertSegments(db.pool, allDays().flatMap(rowsOf));
});

after(async () => {
  await db?.drop();
});

describe('the monthly roll-up', () => {
  test("each loaded day joins its month once; the month's figures are the sums of its days", async () => {
    for (const d of allDays()) {
      const r = await rollUpDay(db.pool, d);
      assert.equal(r.action, 'added', d);
    }
    const feb = await segmentMonths(db.pool, 'B', '2026-02-15', 12);
    assert.equal(feb.length, 12);
    assert.equal(feb[0]!.month, '2025-03-01');
    // B in February: impacts 1 + 2 + … + 28 in 28 × 100 passes.
    assert.deepEqual(feb.at(-1), { month: '2026-02-01', impacts: 406, traffic: 2800, rate: 14.5, days: 28 });
    const network = await networkMonths(db.pool, LATEST, 3);
    assert.deepEqual(
      network.map((m) => [m.month, m.impacts, m.traffic, m.days]),
      [
        ['2026-01-01', 12 * 2 + (20 + 31) * 6, 12 * 110, 12],
        ['2026-02-01', 28 * 2 + 406, 28 * 110, 28],
        ['2026-03-01', 10 * 2 + 55, 10 * 110, 10],
      ],
    );
  });

  test('a day loaded again is counted once, with its new figures', async () => {
    await db.pool.query(
      `UPDATE pothole_segments SET impact_count = 0 WHERE s_id = 'B' AND date = '2026-02-28'`,
    );
    const r = await rollUpDay(db.pool, '2026-02-28');
    assert.equal(r.action, 'rebuilt');
    const [feb] = await segmentMonths(db.pool, 'B', '2026-02-01', 1);
    assert.deepEqual([feb!.impacts, feb!.days], [406 - 28, 28]);
    assert.equal((await rollUpDay(db.pool, '2026-02-28')).action, 'rebuilt');
    const [again] = await segmentMonths(db.pool, 'B', '2026-02-01', 1);
    assert.deepEqual(again, feb);
  });
});

describe('retiring old days', () => {
  test('a dry run lists the days older than SERVING_KEEP_DAYS and changes nothing', async () => {
    const before = await tables();
    const plan = await planRetirement(db.pool, 30);
    assert.equal(plan.latestDay, LATEST);
    assert.equal(plan.retireThrough, day(LATEST, -30));
    assert.deepEqual(
      plan.candidates.map((c) => c.day),
      allDays().filter((d) => d <= day(LATEST, -30)),
    );
    assert.ok(plan.candidates.every((c) => c.state === 'attached' && c.rolledUp));
    assert.deepEqual(await tables(), before);
  });

  test('the days go, their months keep every figure, and the months are final from then on', async () => {
    const monthsBefore = await networkMonths(db.pool, LATEST, 3);
    // A day never rolled up is rolled up before it goes.
    await db.pool.query(`UPDATE pothole_monthly_rollups SET days = array_remove(days, '2026-01-20')`);
    await db.pool.query(
      `UPDATE pothole_segment_monthly SET impacts = impacts - CASE s_id WHEN 'A' THEN 2 ELSE 20 END,
              traffic = traffic - CASE s_id WHEN 'A' THEN 10 ELSE 100 END, days_seen = days_seen - 1
        WHERE month = '2026-01-01'`,
    );
    await db.pool.query(
      `UPDATE pothole_monthly_rollups SET impacts = impacts - 22, traffic = traffic - 110 WHERE month = '2026-01-01'`,
    );
    const result = await retireOldDays(db.pool, 30);
    const gone = allDays().filter((d) => d <= day(LATEST, -30));
    assert.deepEqual(result.retired, gone);
    assert.deepEqual(result.leftForNextTime, []);
    assert.equal((await tables()).length, allDays().length - gone.length);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM pothole_segments WHERE date <= $1`, [
      day(LATEST, -30),
    ]);
    assert.equal(rows[0].n, 0);
    assert.deepEqual(await networkMonths(db.pool, LATEST, 3), monthsBefore);
    const finals = await db.pool.query(
      `SELECT month::text, final FROM pothole_monthly_rollups ORDER BY month`,
    );
    assert.deepEqual(
      finals.rows.map((r) => [r.month, r.final]),
      [
        ['2026-01-01', true],
        ['2026-02-01', true],
        ['2026-03-01', false],
      ],
    );
    // A final month is not rebuilt from what is left of it.
    assert.equal((await rollUpDay(db.pool, '2026-02-20')).action, 'final');
    assert.deepEqual(await networkMonths(db.pool, LATEST, 3), monthsBefore);
  });

  test('retiring again does nothing; an interrupted detach is finished and a detached day dropped', async () => {
    assert.deepEqual((await retireOldDays(db.pool, 30)).candidates, []);
    await insertSegments(db.pool, [...rowsOf('2026-02-05'), ...rowsOf('2026-02-06')]);
    await db.pool.query('ALTER TABLE pothole_segments DETACH PARTITION pothole_segments_20260206');
    const plan = await planRetirement(db.pool, 30);
    assert.deepEqual(
      plan.candidates.map((c) => [c.day, c.state]),
      [
        ['2026-02-05', 'attached'],
        ['2026-02-06', 'detached'],
      ],
    );
    const result = await retireOldDays(db.pool, 30);
    assert.deepEqual(result.retired, ['2026-02-05', '2026-02-06']);
    assert.ok(!(await tables()).includes('pothole_segments_20260205'));
  });

  test('a reader in the middle of a long query is not disturbed, and new readers are never blocked', async () => {
    await insertSegments(db.pool, [...rowsOf('2026-02-07')]);
    const reader = await connectClient(db.config);
    try {
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const first = await reader.query(
        `SELECT count(*)::int AS n FROM pothole_segments WHERE date = '2026-02-07'`,
      );
      let done = false;
      const retiring = retireOldDays(db.pool, 30).finally(() => (done = true));
      // While the retire waits for the open reader, others read the table at once.
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        await db.pool.query('SELECT count(*) FROM pothole_segments');
        assert.ok(Date.now() - started < 1_000, `a reader waited ${Date.now() - started} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const again = await reader.query(
        `SELECT count(*)::int AS n FROM pothole_segments WHERE date = '2026-02-07'`,
      );
      assert.equal(again.rows[0].n, first.rows[0].n);
      assert.equal(first.rows[0].n, 2);
      assert.equal(
        done,
        false,
        'the retire waits for the open reader rather than pulling the day from under it',
      );
      await reader.query('COMMIT');
      const result = await retiring;
      assert.ok(done);
      assert.deepEqual(result.retired, ['2026-02-07']);
    } finally {
      await reader.end();
    }
  });
});

describe('the day retiring counts back from', () => {
  test('a day loaded far ahead by mistake does not retire the real history: today in Seoul is the latest', async () => {
    await insertSegments(db.pool, rowsOf('2031-01-01'));
    const plan = await planRetirement(db.pool, 400);
    const today = new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
    assert.equal(plan.latestDay, today);
    assert.deepEqual(plan.candidates, []);
  });
});
