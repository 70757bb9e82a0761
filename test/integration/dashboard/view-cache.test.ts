/**
 * The dashboard's caches refill the moment refresh_views commits (its notification), not at the next look: the first
 * visitor after the nightly refresh finds them full. Against the local PostgreSQL (a throwaway database).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { publishDashboardViews } from '../../../src/db/dashboard-views';
import { ViewCache } from '../../../src/dashboard/view-cache';
import {
  createThrowawayDatabase,
  insertSegments,
  type ThrowawayDatabase,
} from '../activities/serving-support';

let db: ThrowawayDatabase;
/** Far longer than any wait below: a refill within the test can only come from the notification. */
const LOOK_EVERY_MS = 10 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
) {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The pid of the connection that listens for publishes, once there is one. */
async function listener(): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`,
  );
  return rows[0]?.pid;
}

before(async () => {
  db = await createThrowawayDatabase('view_cache');
  await insertSegments(db.pool, [{ s_id: 'S1', date: '2026-05-01', impact_count: 1, total_count: 10 }]);
});

after(async () => {
  await db?.drop();
});

describe('the view cache', () => {
  test('a publish refills it at once, and again after its listening connection was killed', async () => {
    const cache = new ViewCache(db.pool);
    const refills: string[] = [];
    // A refill reads through the cache, as the dashboard's does, so the looks would see nothing new.
    const refill = () => cache.get('generation', async () => refills.push(String(Date.now())));
    try {
      await refill();
      cache.watch(LOOK_EVERY_MS, refill);
      const first = await until(listener, 5_000, 'no connection listens');
      const started = Date.now();
      await publishDashboardViews(db.pool);
      await until(() => (refills.length === 2 ? true : undefined), 5_000, 'no refill after the publish');
      console.log(`refilled ${Number(refills[1]) - started} ms after the publish began`);

      await db.pool.query('SELECT pg_terminate_backend($1)', [first]);
      const second = await until(
        async () => (((await listener()) ?? first) !== first ? listener() : undefined),
        5_000,
        'no connection listens again',
      );
      assert.notEqual(second, first);
      await publishDashboardViews(db.pool);
      await until(
        () => (refills.length === 3 ? true : undefined),
        5_000,
        'no refill after the listener came back',
      );
    } finally {
      cache.stop();
    }
    await sleep(100);
    assert.equal(await listener(), undefined, 'stop() closes the listening connection');
  });
});
