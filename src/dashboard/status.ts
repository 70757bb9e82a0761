/**
 * Repair status of a segment: 미보수 → 보수중 → 보수완료, changed on the dashboard and kept as history.
 *
 * The rule: a status moves forward one step at a time (미보수 → 보수중, 보수중 → 보수완료); it may go back to
 * 미보수 from either of the others (a repair called off, a pothole that came back), and only with a note saying
 * why. Skipping 보수중, or going from 보수완료 to 보수중, is refused: the history should read as what happened.
 * A change names the status the page showed (`expected`); when someone else changed it meanwhile the change is
 * refused rather than silently overwriting theirs.
 */
import type { Pool } from 'pg';

export const REPAIR_STATUSES = ['미보수', '보수중', '보수완료'] as const;
export type RepairStatus = (typeof REPAIR_STATUSES)[number];

/** The same limit as the CHECK constraints of migration 005. */
export const NOTE_MAX_LENGTH = 500;
const SEGMENT_ID_MAX_LENGTH = 50;

/** A note's length as the CHECK's char_length counts it: code points, so an emoji is one character, not two. */
const noteLength = (note: string): number => [...note].length;

function isRepairStatus(value: unknown): value is RepairStatus {
  return typeof value === 'string' && (REPAIR_STATUSES as readonly string[]).includes(value);
}

/** The statuses a segment may move to from `from`, and whether that move needs a note. */
export function allowedTransitions(from: RepairStatus): { to: RepairStatus; noteRequired: boolean }[] {
  switch (from) {
    case '미보수':
      return [{ to: '보수중', noteRequired: false }];
    case '보수중':
      return [
        { to: '보수완료', noteRequired: false },
        { to: '미보수', noteRequired: true },
      ];
    case '보수완료':
      return [{ to: '미보수', noteRequired: true }];
  }
}

/** A refused change: the HTTP status to answer with and a message naming what is wrong. */
export class StatusChangeError extends Error {
  constructor(
    readonly statusCode: 400 | 404 | 409,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'StatusChangeError';
  }
}

export interface StatusChangeRequest {
  status: RepairStatus;
  note?: string;
  expected?: RepairStatus;
}

/** Checks a request body's shape; every problem is named in one message. */
export function parseStatusChange(sId: string, body: unknown): StatusChangeRequest {
  if (sId.length === 0 || sId.length > SEGMENT_ID_MAX_LENGTH) {
    throw new StatusChangeError(400, `segment id must be 1 to ${SEGMENT_ID_MAX_LENGTH} characters`, 's_id');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new StatusChangeError(400, 'the body must be a JSON object like {"status": "보수중", "note": "…"}');
  }
  const { status, note, expected, ...rest } = body as Record<string, unknown>;
  const problems: [string, string][] = [];
  const statuses = REPAIR_STATUSES.join(', ');
  if (!isRepairStatus(status)) problems.push(['status', `status must be one of ${statuses}`]);
  if (note !== undefined && note !== null && typeof note !== 'string')
    problems.push(['note', 'note must be a string']);
  const trimmed = typeof note === 'string' ? note.trim() : '';
  if (noteLength(trimmed) > NOTE_MAX_LENGTH)
    problems.push(['note', `note is ${noteLength(trimmed)} characters; at most ${NOTE_MAX_LENGTH} are kept`]);
  if (expected !== undefined && !isRepairStatus(expected))
    problems.push(['expected', `expected must be one of ${statuses}`]);
  for (const key of Object.keys(rest)) problems.push([key, `unknown field "${key}"`]);
  if (problems.length > 0) {
    throw new StatusChangeError(400, problems.map(([, m]) => m).join('; '), problems[0]![0]);
  }
  return {
    status: status as RepairStatus,
    ...(trimmed ? { note: trimmed } : {}),
    ...(expected !== undefined ? { expected: expected as RepairStatus } : {}),
  };
}

export interface StatusChange {
  s_id: string;
  from: RepairStatus;
  to: RepairStatus;
  note: string | null;
  changedBy: string | null;
  changedAt: string;
}

/**
 * Applies a change in one transaction: the segment must be known, the move allowed and the page's view current;
 * on any refusal nothing is written.
 */
export async function changeRepairStatus(
  pool: Pool,
  sId: string,
  request: StatusChangeRequest,
  changedBy: string | null,
): Promise<StatusChange> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const known = await client.query(
      `SELECT 1 FROM segment_address WHERE s_id = $1
       UNION ALL SELECT 1 FROM (SELECT s_id FROM pothole_segments WHERE s_id = $1 LIMIT 1) p`,
      [sId],
    );
    if (known.rowCount === 0) throw new StatusChangeError(404, `unknown segment "${sId}"`, 's_id');
    // A segment without a row is 미보수: create the row so it can be locked against a concurrent change.
    await client.query('INSERT INTO segment_repair_status (s_id) VALUES ($1) ON CONFLICT (s_id) DO NOTHING', [
      sId,
    ]);
    const { rows } = await client.query<{ repair_status: RepairStatus; updated_at: Date }>(
      'SELECT repair_status, updated_at FROM segment_repair_status WHERE s_id = $1 FOR UPDATE',
      [sId],
    );
    const from = rows[0]!.repair_status;
    checkTransition(sId, from, request);
    const changed = await client.query<{ updated_at: Date }>(
      `UPDATE segment_repair_status SET repair_status = $2, note = $3, updated_by = $4, updated_at = now()
        WHERE s_id = $1 RETURNING updated_at`,
      [sId, request.status, request.note ?? null, changedBy],
    );
    await client.query(
      `INSERT INTO segment_repair_status_history (s_id, from_status, to_status, note, changed_by, changed_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [sId, from, request.status, request.note ?? null, changedBy, changed.rows[0]!.updated_at],
    );
    await client.query('COMMIT');
    return {
      s_id: sId,
      from,
      to: request.status,
      note: request.note ?? null,
      changedBy,
      changedAt: changed.rows[0]!.updated_at.toISOString(),
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

function checkTransition(sId: string, from: RepairStatus, request: StatusChangeRequest): void {
  if (request.expected !== undefined && request.expected !== from) {
    throw new StatusChangeError(
      409,
      `segment ${sId} is ${from} now, not ${request.expected}: someone changed it meanwhile; reload to see it`,
      'expected',
    );
  }
  if (from === request.status)
    throw new StatusChangeError(409, `segment ${sId} is already ${from}`, 'status');
  const allowed = allowedTransitions(from);
  const move = allowed.find((t) => t.to === request.status);
  if (!move) {
    throw new StatusChangeError(
      409,
      `segment ${sId} cannot go from ${from} to ${request.status}; from ${from} it may go to ${allowed
        .map((t) => t.to)
        .join(' or ')}`,
      'status',
    );
  }
  if (move.noteRequired && !request.note) {
    throw new StatusChangeError(
      400,
      `a note is required to move segment ${sId} back from ${from} to ${request.status}: say why`,
      'note',
    );
  }
}

/** The latest changes of a segment, newest first. */
export async function statusHistory(pool: Pool, sId: string, limit = 10): Promise<StatusChange[]> {
  const { rows } = await pool.query<{
    from_status: RepairStatus;
    to_status: RepairStatus;
    note: string | null;
    changed_by: string | null;
    changed_at: Date;
  }>(
    `SELECT from_status, to_status, note, changed_by, changed_at FROM segment_repair_status_history
      WHERE s_id = $1 ORDER BY changed_at DESC, id DESC LIMIT $2`,
    [sId, limit],
  );
  return rows.map((r) => ({
    s_id: sId,
    from: r.from_status,
    to: r.to_status,
    note: r.note,
    changedBy: r.changed_by,
    changedAt: r.changed_at.toISOString(),
  }));
}
