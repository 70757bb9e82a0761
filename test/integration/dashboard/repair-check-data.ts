/**
 * Repairs whose checks the dashboard shows, written into a throwaway serving database night by night as the
 * pipeline would: each day loaded, then refresh_views for it (which rolls the day into its month and brings the
 * repair checks up to date). With 14 days each side, 200 passes after the repair and a 70 % drop:
 *
 *   segment  before the repair (per day)  after it (per day)  verdict
 *   HELD     10 impacts / 50 passes       0 / 50              효과 확인  20.00 % → 0.00 %
 *   BACK     10 / 50                      9 / 50              재발       20.00 % → 18.00 % (a 10 % drop)
 *   QUIET    10 / 50                      1 / 5               확인중     70 passes after it, short of 200
 *   UNDONE   10 / 50                      0 / 50              none: moved back to 미보수 after the repair
 *   PLAIN    2 / 50                       2 / 50              none: never repaired
 *
 * Days: 2026-04-11 … 2026-05-20 (the repair on 2026-05-01, Seoul time), and HELD alone on 2026-01-15.
 */
import type pg from 'pg';
import { createViewActivities } from '../../../src/activities/views';
import type { PostgresConfig } from '../../../src/config';
import { insertSegments, runActivity, stepInput } from '../activities/serving-support';

export const REPAIRED_ON = '2026-05-01';
export const LATEST = '2026-05-20';
const FIRST = '2026-04-11';
const WINTER = '2026-01-15';

export const day = (from: string, offset: number) => {
  const d = new Date(`${from}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
};

const SEGMENTS: Record<string, { before: [number, number]; after: [number, number]; lon: number }> = {
  HELD: { before: [10, 50], after: [0, 50], lon: 127.01 },
  BACK: { before: [10, 50], after: [9, 50], lon: 127.02 },
  QUIET: { before: [10, 50], after: [1, 5], lon: 127.03 },
  UNDONE: { before: [10, 50], after: [0, 50], lon: 127.04 },
  PLAIN: { before: [2, 50], after: [2, 50], lon: 127.05 },
};

/** A status change as the dashboard writes it: the status and its history row. */
export async function changeStatus(pool: pg.Pool, sId: string, from: string, to: string, at: string) {
  await pool.query(
    `INSERT INTO segment_repair_status_history (s_id, from_status, to_status, note, changed_by, changed_at)
     VALUES ($1, $2, $3, 'test', 'road-manager', $4)`,
    [sId, from, to, at],
  );
  await pool.query(
    `INSERT INTO segment_repair_status (s_id, repair_status, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (s_id) DO UPDATE SET repair_status = $2, updated_at = $3`,
    [sId, to, at],
  );
}

/** refresh_views for a batch date, with the check's settings of the table above. */
export function viewRefresher(pool: pg.Pool, history: PostgresConfig['history']) {
  const { refresh_views } = createViewActivities({
    pool,
    history: { ...history, repairCheckDays: 14, repairCheckMinTraffic: 200, repairEffectMinDropPercent: 70 },
  });
  return (batchDate: string) => runActivity(refresh_views, stepInput(batchDate));
}

/** Writes the table above; returns the refresher for later nights. */
export async function seedRepairChecks(pool: pg.Pool, history: PostgresConfig['history']) {
  const refreshViews = viewRefresher(pool, history);
  await pool.query(
    `INSERT INTO segment_address (s_id, road_name, district, centroid_lon, centroid_lat) VALUES
       ('HELD', '테헤란로', '강남구', 127.01, 37.5), ('BACK', '강남대로', '강남구', 127.02, 37.5),
       ('QUIET', '반포대로', '서초구', 127.03, 37.5), ('UNDONE', '도산대로', '강남구', 127.04, 37.5),
       ('PLAIN', '논현로', '강남구', 127.05, 37.5)`,
  );
  for (const sId of ['HELD', 'BACK', 'QUIET', 'UNDONE']) {
    await changeStatus(pool, sId, '미보수', '보수중', `${day(REPAIRED_ON, -2)}T09:00:00+09:00`);
    await changeStatus(pool, sId, '보수중', '보수완료', `${REPAIRED_ON}T10:00:00+09:00`);
  }
  await changeStatus(pool, 'UNDONE', '보수완료', '미보수', `${day(REPAIRED_ON, 5)}T15:00:00+09:00`);
  await insertSegments(pool, [
    { s_id: 'HELD', date: WINTER, impact_count: 5, total_count: 100, lon: 127.01 },
  ]);
  await refreshViews(WINTER);
  for (let d = FIRST; d <= LATEST; d = day(d, 1)) {
    await insertSegments(
      pool,
      Object.entries(SEGMENTS).map(([s_id, s]) => {
        const [impact_count, total_count] = d <= REPAIRED_ON ? s.before : s.after;
        return { s_id, date: d, impact_count, total_count, lon: s.lon, lat: 37.5 };
      }),
    );
    await refreshViews(d);
  }
  return refreshViews;
}
