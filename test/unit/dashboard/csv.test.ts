import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { priorityCsv } from '../../../src/dashboard/csv';
import type { PriorityRow } from '../../../src/dashboard/queries';

const row: PriorityRow = {
  priority_rank: 1,
  s_id: 'TEHERAN_0043',
  road_name: '테헤란로, "역삼"',
  district: '강남구',
  total_traffic: 196,
  total_impacts: 29,
  complaint_count: 3,
  priority_score: 219,
  impact_term: 29,
  complaint_term: 150,
  road_grade_term: 40,
  repair_status: '보수중',
  status_updated_at: '2026-03-04T01:02:03.000Z',
  status_note: '=HYPERLINK("x")',
  check_verdict: '재발',
};

describe('the repair-priority CSV', () => {
  const csv = priorityCsv([row]);
  const lines = csv.replace(/^\uFEFF/, '').split('\r\n');

  it('starts with a byte-order mark so spreadsheets read it as UTF-8', () => {
    assert.ok(csv.startsWith('\uFEFF'));
  });

  it('has the view’s column names, the score’s three parts, the status and the repair check’s verdict', () => {
    assert.equal(
      lines[0],
      'priority_rank,s_id,road_name,district,priority_score,impact_term,complaint_term,road_grade_term,' +
        'total_traffic,total_impacts,complaint_count,repair_status,status_updated_at,status_note,check_verdict',
    );
  });

  it('quotes commas and quotes, and defuses a formula', () => {
    assert.equal(
      lines[1],
      '1,TEHERAN_0043,"테헤란로, ""역삼""",강남구,219,29,150,40,196,29,3,보수중,2026-03-04T01:02:03.000Z,' +
        `"'=HYPERLINK(""x"")",재발`,
    );
    assert.equal(lines.length, 3, 'one header, one row, a final line break');
  });

  it('defuses text starting with =, +, -, @, TAB or CR, and no number', () => {
    const cells = ['=1+2', '+82', '-5', '@SUM(A1)', '\tx', '\rx', 'a=b', ' =x'].map(
      (note) => priorityCsv([{ ...row, status_note: note, road_grade_term: -10 }]).split('\r\n')[1]!,
    );
    assert.deepEqual(
      cells.map((line) => line.slice(line.indexOf('Z,') + 2, line.lastIndexOf(','))),
      [`'=1+2`, `'+82`, `'-5`, `'@SUM(A1)`, `'\tx`, `"'\rx"`, 'a=b', ' =x'],
    );
    assert.match(cells[0]!, /,150,-10,196,/, 'a negative number stays a number');
  });
});
