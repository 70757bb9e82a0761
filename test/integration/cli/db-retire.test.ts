/** `pothole db retire`, through the real CLI against the local PostgreSQL (a throwaway database). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createThrowawayDatabase,
  dayTables,
  insertSegments,
  type ThrowawayDatabase,
} from '../activities/serving-support';
import { stackProcessEnv } from '../../support/stack';
import { runPothole } from '../../support/worker-process';

let db: ThrowawayDatabase;
const DAYS = ['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05'];

const retire = (...args: string[]) =>
  runPothole(stackProcessEnv({ POSTGRES_DB: db.name, SERVING_KEEP_DAYS: '3' }), 'db', 'retire', ...args);

before(async () => {
  db = await createThrowawayDatabase('cli_retire');
  await insertSegments(
    db.pool,
    DAYS.map((date) => ({ s_id: 'S1', date, impact_count: 1, total_count: 10 })),
  );
});

after(async () => {
  await db?.drop();
});

describe('pothole db retire', () => {
  test('--dry-run names the days older than SERVING_KEEP_DAYS and their tables, and drops nothing', async () => {
    const r = await retire('--dry-run');
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /SERVING_KEEP_DAYS=3: the latest loaded day is 2026-03-05; days up to 2026-03-02 go/,
    );
    assert.match(r.stdout, /would retire 2 day\(s\):/);
    assert.match(
      r.stdout,
      /2026-03-01 {2}pothole_segments_20260301 .* attached {2}\(month rolled up first\)/,
    );
    assert.equal((await dayTables(db.pool)).length, 5);
  });

  test('retires them after rolling up their month; run again, it has nothing to do', async () => {
    const r = await retire('--json');
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { retired: string[] };
    assert.deepEqual(result.retired, ['2026-03-01', '2026-03-02']);
    assert.deepEqual(await dayTables(db.pool), [
      'pothole_segments_20260303',
      'pothole_segments_20260304',
      'pothole_segments_20260305',
    ]);
    const { rows } = await db.pool.query(`SELECT days::text[] AS days, final FROM pothole_monthly_rollups`);
    assert.deepEqual(rows, [{ days: ['2026-03-01', '2026-03-02'], final: true }]);
    const again = await retire();
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /nothing to retire/);
  });

  test('a bad SERVING_KEEP_DAYS is refused with the setting named, exit code 2', async () => {
    const r = await runPothole(
      stackProcessEnv({ POSTGRES_DB: db.name, SERVING_KEEP_DAYS: '0' }),
      'db',
      'retire',
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /SERVING_KEEP_DAYS must be a positive integer, got "0"/);
    assert.equal((await dayTables(db.pool)).length, 3);
  });
});
