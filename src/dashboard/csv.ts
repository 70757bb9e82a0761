/** The repair-priority list as CSV: UTF-8 with a byte-order mark, so Excel shows the Korean road names. */
import type { PriorityRow } from './queries';

const COLUMNS: (keyof PriorityRow)[] = [
  'priority_rank',
  's_id',
  'road_name',
  'district',
  'priority_score',
  'impact_term',
  'complaint_term',
  'road_grade_term',
  'total_traffic',
  'total_impacts',
  'complaint_count',
  'repair_status',
  'status_updated_at',
  'status_note',
  'check_verdict',
];

/**
 * A field as RFC 4180 wants it; text starting with =, +, -, @, TAB or CR is defused (a leading ') so a spreadsheet
 * never runs it as a formula.
 */
function field(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function priorityCsv(rows: PriorityRow[]): string {
  const lines = [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => field(r[c])).join(','))];
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
