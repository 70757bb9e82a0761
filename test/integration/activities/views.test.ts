/** refresh_views against the local PostgreSQL (a throwaway database). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createViewActivities, DASHBOARD_VIEWS } from '../../../src/activities/views';
import { computeAnswer, type AnswerName } from '../../../src/db/dashboard-answers';
import {
  connectClient,
  createThrowawayDatabase,
  insertSegments,
  runActivity,
  stepInput,
  type ThrowawayDatabase,
} from './serving-support';

let db: ThrowawayDatabase;
let refresh_views: ReturnType<typeof createViewActivities>['refresh_views'];

const LATEST = '2026-05-20';
const day = (offset: number) => {
  const d = new Date(`${LATEST}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
};

const connect = () => connectClient(db.config);

/** Resolves when a backend of this database waits on a lock while running `pattern`. */
async function waitUntilBlocked(pattern: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await db.pool.query(
      `SELECT 1 FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`,
      [`%${pattern}%`],
    );
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no backend blocked on "${pattern}" within ${timeoutMs} ms`);
}

before(async () => {
  db = await createThrowawayDatabase('views');
  ({ refresh_views } = createViewActivities({ pool: db.pool, history: db.config.history }));
  const rows: Parameters<typeof insertSegments>[1] = [];
  for (let offset = -8; offset <= 0; offset++) {
    rows.push({ s_id: 'S1', date: day(offset), impact_count: 3, total_count: 7 });
    rows.push({ s_id: 'S2', date: day(offset), impact_count: 0, total_count: 0 });
  }
  rows.push({ s_id: 'S3', date: LATEST, impact_count: 20, total_count: 40 });
  await insertSegments(db.pool, rows);
  await db.pool.query(
    `INSERT INTO segment_address (s_id, road_name, district) VALUES ('S1', '종로', '종로구')`,
  );
  await db.pool.query(`INSERT INTO segment_road_grade (s_id, road_grade) VALUES ('S3', 1)`);
  await db.pool.query(
    `INSERT INTO pothole_complaints (create_dt, event_lat, event_lon, nearest_s_id) VALUES ('2026-05-01', 37.5, 127, 'S1')`,
  );
});

after(async () => {
  await db?.drop();
});

describe('refresh_views', () => {
  test("publishes the data loaded since the migration, returning each view's seconds", async () => {
    // The migration published the empty database; rows loaded since stay unseen until refresh_views.
    assert.deepEqual((await db.pool.query('SELECT * FROM mvw_dashboard_heatmap')).rows, []);
    assert.deepEqual((await db.pool.query('SELECT * FROM mvw_dashboard_weekly_stats')).rows, []);
    const result = await runActivity(refresh_views, stepInput(LATEST));
    assert.deepEqual(
      result.views.map((v) => v.name),
      [...DASHBOARD_VIEWS],
    );
    for (const v of result.views) assert.ok(v.seconds >= 0 && v.seconds < 60, `${v.name} took ${v.seconds}s`);
  });

  test('the heatmap holds the latest date with risk_rate, 0 where total_count is 0', async () => {
    const { rows } = await db.pool.query(
      `SELECT date::text, s_id, road_name, district, total_count, impact_count, risk_rate::float AS risk_rate
         FROM mvw_dashboard_heatmap ORDER BY s_id`,
    );
    assert.deepEqual(rows, [
      {
        date: LATEST,
        s_id: 'S1',
        road_name: '종로',
        district: '종로구',
        total_count: 7,
        impact_count: 3,
        risk_rate: 42.86,
      },
      {
        date: LATEST,
        s_id: 'S2',
        road_name: null,
        district: null,
        total_count: 0,
        impact_count: 0,
        risk_rate: 0,
      },
      {
        date: LATEST,
        s_id: 'S3',
        road_name: null,
        district: null,
        total_count: 40,
        impact_count: 20,
        risk_rate: 50,
      },
    ]);
  });

  test('weekly stats cover the latest date and the 6 days before it, with the ISO weekday and its name', async () => {
    const { rows } = await db.pool.query(
      `SELECT min(date)::text AS first, max(date)::text AS last, count(*)::int AS n FROM mvw_dashboard_weekly_stats`,
    );
    assert.deepEqual(rows[0], { first: day(-6), last: LATEST, n: 7 * 2 + 1 });
    const { rows: week } = await db.pool.query(
      `SELECT date::text, dow_num::int, day_of_week FROM mvw_dashboard_weekly_stats WHERE s_id = 'S1' ORDER BY date`,
    );
    // to_char(date, 'Day') pads the name to nine characters, as the original dashboard reads it.
    assert.deepEqual(week, [
      { date: day(-6), dow_num: 4, day_of_week: 'Thursday ' },
      { date: day(-5), dow_num: 5, day_of_week: 'Friday   ' },
      { date: day(-4), dow_num: 6, day_of_week: 'Saturday ' },
      { date: day(-3), dow_num: 7, day_of_week: 'Sunday   ' },
      { date: day(-2), dow_num: 1, day_of_week: 'Monday   ' },
      { date: day(-1), dow_num: 2, day_of_week: 'Tuesday  ' },
      { date: LATEST, dow_num: 3, day_of_week: 'Wednesday' },
    ]);
  });

  test('repair priority ranks the latest date by impacts + 50 × complaints + 10 × grade (3 if unknown)', async () => {
    const { rows } = await db.pool.query(
      `SELECT s_id, total_impacts, complaint_count, priority_score::int AS score, priority_rank::int AS rank
         FROM mvw_dashboard_repair_priority ORDER BY priority_rank, s_id`,
    );
    assert.deepEqual(rows, [
      { s_id: 'S1', total_impacts: 3, complaint_count: 1, score: 3 + 50 + 30, rank: 1 },
      { s_id: 'S2', total_impacts: 0, complaint_count: 0, score: 30, rank: 2 },
      { s_id: 'S3', total_impacts: 20, complaint_count: 0, score: 20 + 10, rank: 2 },
    ]);
  });

  test('a dashboard reader is not blocked while the refresh builds, and reads the previous content', async () => {
    const blocker = await connect();
    const reader = await connect();
    try {
      // Hold the refresh inside its work: the build reads segment_address, which we lock.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE segment_address IN ACCESS EXCLUSIVE MODE');
      const refreshing = runActivity(refresh_views, stepInput(LATEST));
      await waitUntilBlocked('FROM pothole_heatmap(');
      await reader.query(`SET statement_timeout = '3s'`);
      const started = Date.now();
      const { rows } = await reader.query('SELECT count(*)::int AS n FROM mvw_dashboard_heatmap');
      assert.equal(rows[0].n, 3);
      const { rows: priority } = await reader.query(
        'SELECT count(*)::int AS n FROM mvw_dashboard_repair_priority',
      );
      assert.equal(priority[0].n, 3);
      assert.ok(Date.now() - started < 3000);
      await blocker.query('COMMIT');
      const result = await refreshing;
      assert.equal(result.views.length, 3);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
      await reader.end();
    }
  });

  test('a reader holding an open transaction on a view does not stop the refresh', async () => {
    const reader = await connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM mvw_dashboard_repair_priority');
      await reader.query('SELECT count(*) FROM mvw_dashboard_heatmap');
      const result = await Promise.race([
        runActivity(refresh_views, stepInput(LATEST)),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('refresh blocked by a reader')), 10_000),
        ),
      ]);
      assert.equal(result.views.length, 3);
    } finally {
      await reader.query('ROLLBACK');
      await reader.end();
    }
  });

  test('a refresh after a new date moves the views to it', async () => {
    await insertSegments(db.pool, [{ s_id: 'S9', date: day(1), impact_count: 1, total_count: 2 }]);
    await runActivity(refresh_views, stepInput(day(1)));
    const { rows } = await db.pool.query(`SELECT s_id, date::text FROM mvw_dashboard_heatmap`);
    assert.deepEqual(rows, [{ s_id: 'S9', date: day(1) }]);
  });

  test('the views hold what the original materialized views would (migration 004), and old generations go', async () => {
    // The definitions of 004, verbatim, as the reference.
    const original = {
      mvw_dashboard_heatmap: `SELECT p.date, p.s_id, a.road_name, a.district, p.centroid_lon, p.centroid_lat,
          p.total_count, p.impact_count,
          CASE WHEN p.total_count > 0 THEN round(p.impact_count::numeric / p.total_count * 100, 2) ELSE 0 END
            AS risk_rate
        FROM pothole_segments p LEFT JOIN segment_address a ON a.s_id = p.s_id
        WHERE p.date = (SELECT max(date) FROM pothole_segments)`,
      mvw_dashboard_weekly_stats: `SELECT p.date, extract(isodow FROM p.date) AS dow_num,
          to_char(p.date, 'Day') AS day_of_week, p.s_id, a.road_name, p.total_count, p.impact_count
        FROM pothole_segments p LEFT JOIN segment_address a ON a.s_id = p.s_id
        WHERE p.date BETWEEN (SELECT max(date) - 6 FROM pothole_segments) AND (SELECT max(date) FROM pothole_segments)`,
      mvw_dashboard_repair_priority: `SELECT * FROM pothole_repair_priority((SELECT max(date) FROM pothole_segments))`,
    };
    const same = async (when: string) => {
      for (const [view, sql] of Object.entries(original)) {
        const order = view === 'mvw_dashboard_repair_priority' ? 's_id' : 's_id, date';
        const [got, want] = await Promise.all([
          db.pool.query(`SELECT * FROM ${view} ORDER BY ${order}`),
          db.pool.query(`SELECT * FROM (${sql}) o ORDER BY ${order}`),
        ]);
        assert.ok(want.rows.length > 0, `${view} has rows ${when}`);
        assert.deepEqual(got.rows, want.rows, `${view} ${when}`);
      }
    };
    // Two more days, several segments each, addresses and a complaint for some.
    const rows: Parameters<typeof insertSegments>[1] = [];
    for (const offset of [2, 3])
      for (let i = 0; i < 12; i++)
        rows.push({ s_id: `T${i}`, date: day(offset), impact_count: (i * offset) % 5, total_count: i % 4 });
    await insertSegments(db.pool, rows);
    await db.pool.query(
      `INSERT INTO segment_address (s_id, road_name, district) VALUES ('T1', '세종대로', '중구'), ('T2', '율곡로', '종로구')`,
    );
    await db.pool.query(
      `INSERT INTO pothole_complaints (create_dt, event_lat, event_lon, nearest_s_id) VALUES ('2026-05-02', 37.4, 127, 'T3')`,
    );
    await runActivity(refresh_views, stepInput(day(3)));
    await same('after a refresh');

    // The newest day loaded again with other counts (as load_to_rdb's rerun leaves it), then refreshed.
    await db.pool.query(`UPDATE pothole_segments SET impact_count = impact_count + 7 WHERE date = $1`, [
      day(3),
    ]);
    await db.pool.query(`DELETE FROM pothole_segments WHERE date = $1 AND s_id = 'T5'`, [day(3)]);
    const published = await db.pool.query('SELECT * FROM mvw_dashboard_heatmap ORDER BY s_id');
    assert.ok(
      published.rows.some((r) => r.s_id === 'T5'),
      'unseen until the next refresh',
    );
    await runActivity(refresh_views, stepInput(day(3)));
    await same('after the day was loaded again');

    // Only the published generation and the one before it remain, both attached.
    const { rows: generations } = await db.pool.query(
      `SELECT p.relname AS parent, count(*)::int AS n, bool_and(c.relispartition) AS attached
         FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('dashboard_heatmap_rows', 'dashboard_priority_rows') GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(generations, [
      { parent: 'dashboard_heatmap_rows', n: 2, attached: true },
      { parent: 'dashboard_priority_rows', n: 2, attached: true },
    ]);
  });

  test('a build a stopped refresh left behind is dropped by the next refresh', async () => {
    await db.pool.query('CREATE TABLE dashboard_heatmap_rows_g999 (LIKE dashboard_heatmap_rows)');
    await runActivity(refresh_views, stepInput(day(3)));
    const { rows } = await db.pool.query(`SELECT to_regclass('dashboard_heatmap_rows_g999') AS t`);
    assert.equal(rows[0].t, null);
  });

  test("publishes the dashboard's answers with its generation: the first reader after it computes nothing", async () => {
    const result = await runActivity(refresh_views, stepInput(day(3)));
    const { rows } = await db.pool.query<{ name: string; body: string }>(
      `SELECT a.name, a.body FROM dashboard_answers a JOIN dashboard_snapshot s ON s.generation = a.generation
        ORDER BY a.name`,
    );
    assert.deepEqual(
      rows.map((r) => r.name),
      ['districts', 'map', 'trend'],
    );
    for (const r of rows)
      assert.equal(r.body, await computeAnswer(db.pool, r.name as AnswerName, day(3)), r.name);
    const map = JSON.parse(rows.find((r) => r.name === 'map')!.body) as { date: string; ids: string[] };
    assert.equal(map.date, day(3), 'the latest loaded day');
    // Only the published generation's answers and the previous one's are kept.
    const { rows: generations } = await db.pool.query(
      `SELECT count(DISTINCT generation)::int AS n FROM dashboard_answers`,
    );
    assert.equal(generations[0].n, 2);
    // The loaded day joined its month, and nothing is old enough to retire.
    assert.deepEqual([result.rollup?.month, result.rollup?.action], [`${day(3).slice(0, 7)}-01`, 'rebuilt']);
    assert.deepEqual(result.retired, { days: [], leftForNextTime: [] });
  });
});
