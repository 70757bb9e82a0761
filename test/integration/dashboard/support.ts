/**
 * A small serving database the dashboard's API tests can check by hand: four segments on the latest day, a week
 * with one day missing, complaints and road grades chosen so every score is easy to recompute.
 *
 *   segment   road        district  grade  impacts/traffic (day before → latest)  complaints  score
 *   GN_0001   테헤란로     강남구     1      4/180 → 10/200 (risk 5 %)             2           10 + 100 + 10 = 120
 *   SC_0001   반포대로     서초구     5      – → 0/0                               1            0 +  50 + 50 = 100
 *   GN_0002   강남대로     강남구     –      40/100 → 40/100 (risk 40 %)           0           40 +   0 + 30 =  70
 *   SC_0002   50%_도로     서초구     2      – → 5/50 (risk 10 %)                  0            5 +   0 + 20 =  25
 *
 * Days latest-6 … latest-2 (latest-3 missing) hold GN_0001 and GN_0002 with 1 impact and 100 vehicles each.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { publishDashboardViews } from '../../../src/db/dashboard-views';
import { loadConfig } from '../../../src/config';
import { buildDashboard, type DashboardDeps } from '../../../src/dashboard/server';
import { dayBefore } from '../../support/dashboard-data';
import { stackEnv, type Env } from '../../support/stack';
import { insertSegments } from '../activities/serving-support';

export const LATEST = '2026-05-20';
export const RANKED = ['GN_0001', 'SC_0001', 'GN_0002', 'SC_0002'];
/** A Temporal address where nothing listens. */
export const NO_TEMPORAL = '127.0.0.1:1';
/** The default bind address, which a status change sent with inject names as its Host. */
export const OWN_HOST = '127.0.0.1:8501';

export async function seedSmallWeek(pool: pg.Pool): Promise<void> {
  await pool.query(
    `INSERT INTO segment_address (s_id, road_name, district, centroid_lon, centroid_lat) VALUES
       ('GN_0001', '테헤란로', '강남구', 127.0300, 37.5000), ('GN_0002', '강남대로', '강남구', 127.0250, 37.5040),
       ('SC_0001', '반포대로', '서초구', 127.0100, 37.4900), ('SC_0002', '50%_도로', '서초구', 127.0050, 37.4850)`,
  );
  await pool.query(
    `INSERT INTO segment_road_grade (s_id, road_grade) VALUES ('GN_0001', 1), ('SC_0001', 5), ('SC_0002', 2)`,
  );
  await pool.query(
    `INSERT INTO pothole_complaints (create_dt, event_lat, event_lon, nearest_s_id, distance_m) VALUES
       ($1, 37.5000, 127.0300, 'GN_0001', 3), ($1, 37.5001, 127.0301, 'GN_0001', 9),
       ($1, 37.4900, 127.0100, 'SC_0001', 4)`,
    [LATEST],
  );
  const at = (s_id: string, lon: number, lat: number) => ({ s_id, lon, lat });
  const gn1 = at('GN_0001', 127.03, 37.5);
  const gn2 = at('GN_0002', 127.025, 37.504);
  const rows: Parameters<typeof insertSegments>[1] = [];
  for (const back of [6, 5, 4, 2]) {
    const date = dayBefore(LATEST, back);
    rows.push(
      { ...gn1, date, impact_count: 1, total_count: 100 },
      { ...gn2, date, impact_count: 1, total_count: 100 },
    );
  }
  const previous = dayBefore(LATEST);
  rows.push({ ...gn1, date: previous, impact_count: 4, total_count: 180 });
  rows.push({ ...gn2, date: previous, impact_count: 40, total_count: 100 });
  rows.push({ ...gn1, date: LATEST, impact_count: 10, total_count: 200 });
  rows.push({ ...gn2, date: LATEST, impact_count: 40, total_count: 100 });
  rows.push({ ...at('SC_0001', 127.01, 37.49), date: LATEST, impact_count: 0, total_count: 0 });
  rows.push({ ...at('SC_0002', 127.005, 37.485), date: LATEST, impact_count: 5, total_count: 50 });
  await insertSegments(pool, rows);
  await refreshViews(pool);
}

export async function refreshViews(pool: pg.Pool): Promise<void> {
  await publishDashboardViews(pool);
}

/** The dashboard over `pool`, without map tiles, its runs panel pointed at a Temporal that is not there. */
export async function dashboardFor(
  pool: pg.Pool,
  overrides: Env = {},
  deps: Partial<DashboardDeps> = {},
): Promise<FastifyInstance> {
  const config = loadConfig(
    ['temporal', 'dashboard'],
    stackEnv({ DASHBOARD_TILE_URL: 'none', TEMPORAL_ADDRESS: NO_TEMPORAL, ...overrides }),
  );
  return buildDashboard({ pool, dashboard: config.dashboard, temporal: config.temporal, ...deps });
}

/** A log stream for buildDashboard that keeps its lines (one JSON object each). */
export function logLines(): { write(line: string): void; entries(): Record<string, unknown>[] } {
  const lines: string[] = [];
  return {
    write: (line) => void lines.push(line),
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** What the repair-status tables hold, to show a refused change wrote nothing. */
export async function statusTables(pool: pg.Pool) {
  const status = await pool.query(
    'SELECT s_id, repair_status, note, updated_by, updated_at FROM segment_repair_status ORDER BY s_id',
  );
  const history = await pool.query('SELECT * FROM segment_repair_status_history ORDER BY id');
  return { status: status.rows, history: history.rows };
}
