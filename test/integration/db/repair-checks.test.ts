/** Did the repair hold? The repair checks against the local PostgreSQL, on days the test writes. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { updateRepairChecks } from '../../../src/db/repair-checks';
import {
  createThrowawayDatabase,
  insertSegments,
  type ThrowawayDatabase,
} from '../activities/serving-support';

let db: ThrowawayDatabase;
const REPAIRED_ON = '2026-05-01';
const LATEST = '2026-05-20';
const SETTINGS = { days: 14, minTraffic: 200, minDropPercent: 70 };

const day = (from: string, offset: number) => {
  const d = new Date(`${from}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
};

/** Every day from 20 days before the repair to LATEST: `before` on days up to the repair, `after` later. */
function days(sId: string, before: [number, number], afterwards: [number, number]) {
  const rows = [];
  for (let d = day(REPAIRED_ON, -20); d <= LATEST; d = day(d, 1)) {
    const [impact_count, total_count] = d <= REPAIRED_ON ? before : afterwards;
    rows.push({ s_id: sId, date: d, impact_count, total_count });
  }
  return rows;
}

async function changeStatus(sId: string, from: string, to: string, at: string) {
  await db.pool.query(
    `INSERT INTO segment_repair_status_history (s_id, from_status, to_status, note, changed_by, changed_at)
     VALUES ($1, $2, $3, 'test', 'road-manager', $4)`,
    [sId, from, to, at],
  );
  await db.pool.query(
    `INSERT INTO segment_repair_status (s_id, repair_status, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (s_id) DO UPDATE SET repair_status = $2, updated_at = $3`,
    [sId, to, at],
  );
}

/** A repair as the dashboard records it: 보수중, then 보수완료 at 10:00 in Seoul on REPAIRED_ON. */
async function repair(sId: string) {
  await changeStatus(sId, '미보수', '보수중', `${day(REPAIRED_ON, -2)}T09:00:00+09:00`);
  await changeStatus(sId, '보수중', '보수완료', `${REPAIRED_ON}T10:00:00+09:00`);
}

const current = async (sId: string) =>
  (
    await db.pool.query(
      `SELECT *, repaired_on::text AS repaired, decided_on::text AS decided
         FROM segment_repair_check_current WHERE s_id = $1`,
      [sId],
    )
  ).rows[0];

before(async () => {
  db = await createThrowawayDatabase('repair_checks');
  await insertSegments(db.pool, [
    ...days('HELD', [10, 50], [0, 50]),
    ...days('BACK', [10, 50], [9, 50]),
    ...days('QUIET', [10, 50], [1, 5]),
    ...days('UNDONE', [10, 50], [0, 50]),
  ]);
  for (const s of ['HELD', 'BACK', 'QUIET', 'UNDONE']) await repair(s);
});

after(async () => {
  await db?.drop();
});

describe('repair checks', () => {
  test('impacts that vanish after the repair: 효과 확인, with the rates before and after', async () => {
    const update = await updateRepairChecks(db.pool, SETTINGS);
    assert.equal(update.opened, 4);
    const held = await current('HELD');
    assert.equal(held.verdict, '효과 확인');
    assert.equal(held.repaired, REPAIRED_ON);
    assert.deepEqual(
      [held.before_days, held.before_rate, held.after_days, held.after_rate],
      [14, '20.00', 14, '0.00'],
    );
    assert.equal(held.decided, LATEST);
  });

  test('impacts that continue after the repair: 재발 (a 10 % drop is short of 70 %)', async () => {
    const back = await current('BACK');
    assert.equal(back.verdict, '재발');
    assert.deepEqual([back.before_rate, back.after_rate], ['20.00', '18.00']);
  });

  test('too little traffic since the repair: 확인중 until REPAIR_CHECK_MIN_TRAFFIC passes have gone over it', async () => {
    const quiet = await current('QUIET');
    assert.equal(quiet.verdict, '확인중');
    assert.equal(Number(quiet.after_traffic), 14 * 5);
    // With a lower bar the same figures are judged: 20 % before, 20 % after.
    await db.pool.query(`UPDATE segment_repair_checks SET final = false WHERE s_id = 'QUIET'`);
    await updateRepairChecks(db.pool, { ...SETTINGS, minTraffic: 70 });
    assert.equal((await current('QUIET')).verdict, '재발');
  });

  test('a status moved back to 미보수 ends the check: it is no longer shown nor recomputed', async () => {
    await changeStatus('UNDONE', '보수완료', '미보수', `${day(REPAIRED_ON, 9)}T15:00:00+09:00`);
    const update = await updateRepairChecks(db.pool, SETTINGS);
    assert.equal(update.ended, 1);
    assert.equal(await current('UNDONE'), undefined);
    const { rows } = await db.pool.query(
      `SELECT ended_at, verdict FROM segment_repair_checks WHERE s_id = 'UNDONE'`,
    );
    assert.ok(rows[0].ended_at instanceof Date);
  });

  test('a check whose window has passed is final: later days do not change it', async () => {
    const { rows } = await db.pool.query<{ s_id: string; final: boolean }>(
      `SELECT s_id, final FROM segment_repair_checks WHERE ended_at IS NULL ORDER BY s_id`,
    );
    assert.ok(
      rows.every((r) => r.final),
      JSON.stringify(rows),
    );
    await db.pool.query(`UPDATE pothole_segments SET impact_count = 40 WHERE s_id = 'HELD' AND date > $1`, [
      REPAIRED_ON,
    ]);
    const update = await updateRepairChecks(db.pool, SETTINGS);
    assert.equal(update.changed, 0);
    assert.equal((await current('HELD')).verdict, '효과 확인');
  });

  test('a repair of yesterday is 확인중 and is judged as its days come in', async () => {
    await insertSegments(db.pool, [{ s_id: 'NEW', date: day(LATEST, -1), impact_count: 8, total_count: 40 }]);
    await changeStatus('NEW', '보수중', '보수완료', `${LATEST}T08:00:00+09:00`);
    await updateRepairChecks(db.pool, SETTINGS);
    assert.equal((await current('NEW')).verdict, '확인중');
    const next = day(LATEST, 1);
    await insertSegments(db.pool, [{ s_id: 'NEW', date: next, impact_count: 0, total_count: 300 }]);
    const update = await updateRepairChecks(db.pool, SETTINGS);
    const fresh = await current('NEW');
    assert.equal(fresh.verdict, '효과 확인');
    assert.equal(fresh.decided, next);
    assert.equal(update.changed, 1);
    assert.equal(fresh.final, false);
  });
});
