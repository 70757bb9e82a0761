/**
 * The daily report's repair verdicts, on days and repairs written here with refresh_views run night by night:
 * the repairs judged (효과 확인, 재발) in the 7 days up to the batch date with their figures, and the 재발 segment
 * marked in the top 5, in the HTML and the plain-text parts alike.
 *
 *   segment  repaired    before (per day)  after (per day)  verdict, decided on (the 4th day after: 200 passes)
 *   OK       2026-03-01  10 / 50           0 / 50           효과 확인, 2026-03-05
 *   BAD      2026-03-01  10 / 50           9 / 50           재발,      2026-03-05
 *   OLD      2026-02-27  10 / 50           0 / 50           효과 확인, 2026-03-03 (8 days before 2026-03-10)
 *   PLAIN    never       2 / 50            2 / 50           –
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderReport } from '../../../../src/activities/report';
import { changeStatus, day, viewRefresher } from '../../dashboard/repair-check-data';
import { createThrowawayDatabase, insertSegments, type ThrowawayDatabase } from '../serving-support';

const BATCH = '2026-03-10';
const REPAIRS: Record<string, { on: string | null; before: [number, number]; after: [number, number] }> = {
  OK: { on: '2026-03-01', before: [10, 50], after: [0, 50] },
  BAD: { on: '2026-03-01', before: [10, 50], after: [9, 50] },
  OLD: { on: '2026-02-27', before: [10, 50], after: [0, 50] },
  PLAIN: { on: null, before: [2, 50], after: [2, 50] },
};

let db: ThrowawayDatabase;

before(async () => {
  db = await createThrowawayDatabase('report_verdicts');
  await db.pool.query(
    `INSERT INTO segment_address (s_id, road_name, district) VALUES
       ('OK', '세종대로', '중구'), ('BAD', '종로', '종로구'), ('OLD', '을지로', '중구'), ('PLAIN', '퇴계로', '중구')`,
  );
  for (const [sId, r] of Object.entries(REPAIRS)) {
    if (!r.on) continue;
    await changeStatus(db.pool, sId, '미보수', '보수중', `${day(r.on, -1)}T09:00:00+09:00`);
    await changeStatus(db.pool, sId, '보수중', '보수완료', `${r.on}T11:00:00+09:00`);
  }
  const refreshViews = viewRefresher(db.pool, db.config.history);
  for (let d = day(BATCH, -32); d <= BATCH; d = day(d, 1)) {
    await insertSegments(
      db.pool,
      Object.entries(REPAIRS).map(([s_id, r]) => {
        const [impact_count, total_count] = r.on && d > r.on ? r.after : r.before;
        return { s_id, date: d, impact_count, total_count };
      }),
    );
    await refreshViews(d);
  }
});

after(async () => {
  await db?.drop();
});

describe("the daily report's repair verdicts", () => {
  test('lists the repairs judged in the 7 days up to the batch date, 재발 first, with the rates before and after', async () => {
    const { text, html } = await renderReport(db.pool, BATCH);
    const section = text.slice(text.indexOf('[보수 효과 판정 (최근 7일)]'), text.indexOf('[악화 구간'));
    assert.deepEqual(section.trim().split('\n').slice(1), [
      '- 재발: 종로 종로구 [BAD] 보수일 2026-03-01, 보수 전 14일 20.0% (충격 140 / 통행 700) → ' +
        '보수 후 9일 18.0% (충격 81 / 통행 450), 판정 2026-03-05',
      '- 효과 확인: 세종대로 중구 [OK] 보수일 2026-03-01, 보수 전 14일 20.0% (충격 140 / 통행 700) → ' +
        '보수 후 9일 0.0% (충격 0 / 통행 450), 판정 2026-03-05',
    ]);
    assert.ok(!section.includes('[OLD]'), 'judged 8 days before: not this week');
    // The HTML part has the same rows and figures.
    const table = html.slice(html.indexOf('보수 효과 판정 (최근 7일)'), html.indexOf('악화 구간'));
    assert.ok(table.indexOf('BAD') < table.indexOf('>OK<'), '재발 first');
    for (const figure of ['14일 20.0% (충격 140 / 통행 700)', '9일 18.0% (충격 81 / 통행 450)', '2026-03-05'])
      assert.ok(table.includes(figure), figure);
    assert.ok(!table.includes('OLD'));
  });

  test('a batch date 6 days after a verdict still lists it; one before the verdict does not', async () => {
    const sixDaysOn = await renderReport(db.pool, day('2026-03-03', 6));
    assert.match(sixDaysOn.text, /^- 효과 확인: 을지로 중구 \[OLD\] 보수일 2026-02-27, .* 판정 2026-03-03$/m);
    const dayBefore = await renderReport(db.pool, '2026-03-04');
    assert.match(dayBefore.text, /\[OLD\]/);
    assert.doesNotMatch(dayBefore.text, /\[(OK|BAD)\] 보수일/, 'judged on 2026-03-05: not yet');
    const early = await renderReport(db.pool, '2026-03-02');
    assert.match(early.text, /최근 7일 동안 새로 판정된 보수가 없습니다\./);
  });

  test('marks the 재발 segment in the top 5 at its rank, in both parts', async () => {
    const { text, html } = await renderReport(db.pool, BATCH);
    // BAD: 9 impacts + grade 3 × 10 = 39, first; the others follow as ranked.
    assert.match(text, /^1\. 종로 .* - 점수 39, 충격 9, 민원 0 \[BAD\] · 재발$/m);
    assert.equal(text.match(/ · 재발$/gm)?.length, 1, 'only the 재발 segment');
    const top = html.slice(html.indexOf('보수 우선순위 Top 5'), html.indexOf('보수 효과 판정'));
    assert.equal(top.match(/>재발<\/span>/g)?.length, 1);
    assert.ok(top.indexOf('>재발</span>') < top.indexOf('BAD ·'), 'the mark is on the BAD row');
    const before = await renderReport(db.pool, '2026-03-04');
    assert.doesNotMatch(before.text, / · 재발$/m, 'not marked before it was judged');
  });
});
