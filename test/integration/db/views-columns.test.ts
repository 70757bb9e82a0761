/**
 * The dashboard reads the materialized views by the original column names, in the original order, with types
 * it can read; our own columns may only follow them. Checked in the catalog of a real PostgreSQL, for the
 * materialized views of 004 and the views that replace them in 006 alike.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { createViewActivities, DASHBOARD_VIEWS } from '../../../src/activities/views';
import { migrate, MIGRATIONS_DIR } from '../../../src/db/migrate';
import {
  createThrowawayDatabase,
  insertSegments,
  runActivity,
  stepInput,
  type ThrowawayDatabase,
} from '../activities/serving-support';

/** The spec: `name type` of each column, in order. */
const ORIGINAL_COLUMNS: Record<(typeof DASHBOARD_VIEWS)[number], string[]> = {
  mvw_dashboard_heatmap: [
    'date date',
    's_id character varying(50)',
    'road_name character varying(200)',
    'district character varying(100)',
    'centroid_lon double precision',
    'centroid_lat double precision',
    'total_count integer',
    'impact_count integer',
    'risk_rate numeric',
  ],
  mvw_dashboard_weekly_stats: [
    'date date',
    'dow_num numeric', // ISO weekday, 1 = Monday … 7 = Sunday
    'day_of_week text', // to_char(date, 'Day'): 'Monday   '
    's_id character varying(50)',
    'road_name character varying(200)',
    'total_count integer',
    'impact_count integer',
  ],
  // Built from pothole_repair_priority(): a function's result columns carry no varchar length.
  mvw_dashboard_repair_priority: [
    'date date',
    's_id character varying',
    'road_name character varying',
    'district character varying',
    'centroid_lat double precision',
    'centroid_lon double precision',
    'total_traffic integer',
    'total_impacts integer',
    'complaint_count integer',
    'priority_score bigint',
    'priority_rank bigint',
  ],
};

const LATEST = '2026-05-20'; // a Wednesday
const day = (offset: number) => {
  const d = new Date(`${LATEST}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
};

/** `name type` of each column of a materialized view, in column order. */
async function viewColumns(pool: pg.Pool, view: string): Promise<string[]> {
  const { rows } = await pool.query<{ column: string }>(
    `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS column
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relname = $1 AND c.relkind IN ('m', 'v') AND c.relnamespace = current_schema()::regnamespace
        AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [view],
  );
  return rows.map((r) => r.column);
}

/** Eight days of two segments, one of them with an address, a complaint and a road grade. */
async function seed(pool: pg.Pool): Promise<void> {
  const rows: Parameters<typeof insertSegments>[1] = [];
  for (let offset = -7; offset <= 0; offset++) {
    rows.push({ s_id: 'S1', date: day(offset), impact_count: 3 - offset, total_count: 10 });
    rows.push({ s_id: 'S2', date: day(offset), impact_count: 1, total_count: 4 });
  }
  await insertSegments(pool, rows);
  await pool.query(`INSERT INTO segment_address (s_id, road_name, district) VALUES ('S1', '종로', '종로구')`);
  await pool.query(`INSERT INTO segment_road_grade (s_id, road_grade) VALUES ('S2', 1)`);
  await pool.query(
    `INSERT INTO pothole_complaints (create_dt, event_lat, event_lon, nearest_s_id) VALUES ('2026-05-01', 37.5, 127, 'S1')`,
  );
}

const heatmapRows = (pool: pg.Pool) =>
  pool.query('SELECT * FROM mvw_dashboard_heatmap ORDER BY s_id').then((r) => r.rows);
const priorityRows = (pool: pg.Pool) =>
  pool.query('SELECT * FROM mvw_dashboard_repair_priority ORDER BY s_id').then((r) => r.rows);

describe('the views keep the original dashboard columns', () => {
  let db: ThrowawayDatabase;
  before(async () => {
    db = await createThrowawayDatabase('views_columns');
  });
  after(async () => {
    await db?.drop();
  });

  for (const view of DASHBOARD_VIEWS) {
    test(`${view}: the original names, in the original order, with readable types`, async () => {
      assert.deepEqual(await viewColumns(db.pool, view), ORIGINAL_COLUMNS[view]);
    });
  }

  test('the published rows are unique per generation and segment, and the list reads them in rank order', async () => {
    const { rows } = await db.pool.query(
      `SELECT tablename, indexdef FROM pg_indexes
        WHERE tablename IN ('dashboard_heatmap_rows', 'dashboard_priority_rows') ORDER BY tablename, indexname`,
    );
    assert.deepEqual(
      rows.map((r) => [r.tablename, r.indexdef.replace(' ON ONLY public.', ' ON ')]),
      [
        [
          'dashboard_heatmap_rows',
          'CREATE UNIQUE INDEX ux_dashboard_heatmap_rows ON dashboard_heatmap_rows USING btree (generation, s_id)',
        ],
        [
          'dashboard_priority_rows',
          'CREATE INDEX idx_dashboard_priority_rows_rank ON dashboard_priority_rows USING btree (generation, priority_rank, s_id)',
        ],
        [
          'dashboard_priority_rows',
          'CREATE UNIQUE INDEX ux_dashboard_priority_rows ON dashboard_priority_rows USING btree (generation, s_id)',
        ],
      ],
    );
  });
});

describe('a database with the views of migration 003, migrated to the latest', () => {
  let db: ThrowawayDatabase;
  let upTo003: string;
  before(async () => {
    db = await createThrowawayDatabase('views_upgrade', { migrate: false });
    upTo003 = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
    for (const f of fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f < '004'))
      fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(upTo003, f));
  });
  after(async () => {
    fs.rmSync(upTo003, { recursive: true, force: true });
    await db?.drop();
  });

  test('gets the original columns, keeps what the views held, and refreshes', async () => {
    const old = await migrate(db.pool, upTo003);
    assert.deepEqual(old.applied, ['001_tables.sql', '002_dashboard_views.sql', '003_report_deliveries.sql']);
    await seed(db.pool);
    for (const view of DASHBOARD_VIEWS) await db.pool.query(`REFRESH MATERIALIZED VIEW ${view}`);
    assert.deepEqual(
      (await viewColumns(db.pool, 'mvw_dashboard_weekly_stats')).slice(0, 3),
      ['date date', 'day_of_week integer', 'day_name text'],
      'the database starts with the renamed weekly columns',
    );
    const weeklyBefore = await db.pool.query(
      'SELECT date::text, day_of_week, day_name, s_id, road_name, total_count, impact_count FROM mvw_dashboard_weekly_stats ORDER BY s_id, date',
    );
    const heatmapBefore = await heatmapRows(db.pool);
    const priorityBefore = await priorityRows(db.pool);
    assert.equal(weeklyBefore.rows.length, 7 * 2);

    const upgrade = await migrate(db.pool);
    assert.equal(upgrade.applied[0], '004_original_view_columns.sql', 'the upgrade starts with 004');
    assert.deepEqual(upgrade.changed, []);
    for (const view of DASHBOARD_VIEWS)
      assert.deepEqual(await viewColumns(db.pool, view), ORIGINAL_COLUMNS[view]);

    // Read without a refresh: the views are built populated.
    const weeklyAfter = await db.pool.query(
      'SELECT date::text, dow_num, day_of_week, s_id, road_name, total_count, impact_count FROM mvw_dashboard_weekly_stats ORDER BY s_id, date',
    );
    assert.deepEqual(
      weeklyAfter.rows,
      weeklyBefore.rows.map(({ day_of_week, day_name, ...r }) => ({
        date: r.date,
        dow_num: String(day_of_week), // numeric arrives as a string
        day_of_week: day_name.padEnd(9),
        s_id: r.s_id,
        road_name: r.road_name,
        total_count: r.total_count,
        impact_count: r.impact_count,
      })),
    );
    assert.deepEqual(await heatmapRows(db.pool), heatmapBefore);
    assert.deepEqual(await priorityRows(db.pool), priorityBefore);

    // And refresh_views publishes on the upgraded database.
    const { refresh_views } = createViewActivities({ pool: db.pool, history: db.config.history });
    const refreshed = await runActivity(refresh_views, stepInput(LATEST));
    assert.deepEqual(
      refreshed.views.map((v) => v.name),
      [...DASHBOARD_VIEWS],
    );
    assert.deepEqual(await heatmapRows(db.pool), heatmapBefore);
  });
});
