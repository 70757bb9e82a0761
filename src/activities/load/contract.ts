/**
 * The Stage2 output contract and its decoding: schema checks, row validation and COPY BINARY encoding.
 * Free of Temporal, pg and AWS so it also runs in the decoder thread (decoder-thread.ts).
 */
import { parquetMetadataAsync, type AsyncBuffer, type FileMetaData } from 'hyparquet';

// ---- the Stage2 contract --------------------------------------------------------------------------------

type ColumnKind = 'string' | 'date' | 'integer' | 'double';

export const STAGE2_COLUMNS = {
  s_id: 'string',
  date: 'date',
  impact_count: 'integer',
  total_count: 'integer',
  centroid_lon: 'double',
  centroid_lat: 'double',
} as const satisfies Record<string, ColumnKind>;

export type Stage2Column = keyof typeof STAGE2_COLUMNS;
export const COLUMN_NAMES = Object.keys(STAGE2_COLUMNS) as Stage2Column[];
const S_ID_MAX_LENGTH = 50;

/** Input that breaks the Stage2 contract; retrying cannot help, the producer must be fixed. */
export class Stage2ContractError extends Error {
  override readonly name = 'Stage2ContractError';
}

interface SchemaElementLike {
  name: string;
  type?: string;
  converted_type?: string;
  logical_type?: { type: string };
  repetition_type?: string;
  num_children?: number;
}

function describeType(el: SchemaElementLike): string {
  const logical = el.logical_type?.type ?? el.converted_type;
  return [el.type ?? 'group', logical].filter(Boolean).join('/');
}

function matchesKind(el: SchemaElementLike, kind: ColumnKind): boolean {
  const logical = el.logical_type?.type ?? el.converted_type;
  switch (kind) {
    case 'string':
      return el.type === 'BYTE_ARRAY' && (logical === 'STRING' || logical === 'UTF8');
    case 'date':
      return el.type === 'INT32' && logical === 'DATE';
    case 'integer':
      // Spark writes int as plain INT32; a bigint (e.g. an un-cast count()) is accepted and range-checked.
      return (
        (el.type === 'INT32' || el.type === 'INT64') &&
        (logical === undefined || logical === 'INTEGER' || logical === 'INT_32' || logical === 'INT_64')
      );
    case 'double':
      return (el.type === 'DOUBLE' || el.type === 'FLOAT') && logical === undefined;
  }
}

/** Checks one file's footer schema against the contract; throws naming the object and the column. */
export function checkStage2Schema(schema: readonly SchemaElementLike[], object: string): void {
  const [, ...elements] = schema;
  for (const column of COLUMN_NAMES) {
    const kind = STAGE2_COLUMNS[column];
    const el = elements.find((e) => e.name === column);
    if (!el) {
      const present = elements.map((e) => e.name).join(', ');
      throw new Stage2ContractError(
        `${object}: column "${column}" is missing (the file has: ${present}); Stage2 must write ` +
          `s_id, date, impact_count, total_count, centroid_lon, centroid_lat`,
      );
    }
    if ((el.num_children ?? 0) > 0 || el.repetition_type === 'REPEATED' || !matchesKind(el, kind)) {
      throw new Stage2ContractError(
        `${object}: column "${column}" has type ${describeType(el)}${el.repetition_type === 'REPEATED' ? ' (repeated)' : ''}, ` +
          `expected ${kind}; fix the Stage2 job's output schema`,
      );
    }
  }
}

export interface RowCounters {
  rows: number;
  impactExceedsTotal: number;
  emptySegmentId: number;
}

export interface ColumnBatch {
  s_id: ArrayLike<unknown>;
  date: ArrayLike<unknown>;
  impact_count: ArrayLike<unknown>;
  total_count: ArrayLike<unknown>;
  centroid_lon: ArrayLike<unknown>;
  centroid_lat: ArrayLike<unknown>;
}

/** Days since 1970-01-01 of a YYYY-MM-DD date: how Parquet stores DATE. */
export function epochDay(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / 86_400_000;
}

function toInteger(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** COPY BINARY framing: signature, flags, header extension length; and the trailer. */
export const COPY_BINARY_HEADER = Buffer.concat([
  Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
  Buffer.alloc(8),
]);
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);
/** Fields per tuple: s_id, centroid_lon, centroid_lat, impact_count, total_count (date is the default). */
const COPY_FIELDS = 5;
/** Worst case per row: field count, five length words, 8+8+4+4 bytes of numbers, s_id in UTF-8. */
const MAX_ROW_BYTES = 2 + COPY_FIELDS * 4 + 24 + S_ID_MAX_LENGTH * 4;
let scratch = Buffer.alloc(0);
const utf8 = new TextDecoder();

/** Whether UTF-8 bytes are all ASCII, and then whether they are only whitespace (what trim() removes). */
function asciiKind(bytes: Uint8Array): 'blank' | 'ascii' | 'other' {
  let blank = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x80) return 'other';
    if (blank && b !== 0x20 && (b < 0x09 || b > 0x0d)) blank = false;
  }
  return blank ? 'blank' : 'ascii';
}

/**
 * Validates rows [start, end) of a decoded row group and encodes the loadable ones as COPY BINARY
 * tuples (s_id, centroid_lon, centroid_lat, impact_count, total_count): no per-row strings, and no
 * float parsing on the server. Rows with an empty s_id are counted and skipped; anything else outside
 * the contract throws naming the object and the row. Row i of a column is `cols[column][i - first]`,
 * `first` being where that column's decoded values start (0 unless given).
 */
export function encodeCopyRows(
  cols: ColumnBatch,
  start: number,
  end: number,
  ctx: { object: string; firstRow: number; batchDate: string; day: number },
  counters: RowCounters,
  first: Partial<Record<Stage2Column, number>> = {},
): Buffer {
  const needed = Math.max(0, end - start) * MAX_ROW_BYTES;
  if (scratch.length < needed) scratch = Buffer.allocUnsafe(needed);
  const out = scratch;
  let at = 0;
  const { s_id: ids, date: dates, impact_count: impacts, total_count: totals } = cols;
  const { centroid_lon: lons, centroid_lat: lats } = cols;
  const oId = first.s_id ?? 0;
  const oDate = first.date ?? 0;
  const oImpact = first.impact_count ?? 0;
  const oTotal = first.total_count ?? 0;
  const oLon = first.centroid_lon ?? 0;
  const oLat = first.centroid_lat ?? 0;
  const where = (i: number) => `${ctx.object} row ${ctx.firstRow + i}`;
  for (let i = start; i < end; i++) {
    let sid = ids[i - oId];
    if (sid === null || sid === undefined) {
      throw new Stage2ContractError(`${where(i)}: s_id is null; every Stage2 row needs a segment id`);
    }
    // Raw UTF-8 bytes (as the decoder hands them over) are copied as they are when they are ASCII;
    // anything else goes through a string, as before.
    let ascii: Uint8Array | undefined;
    if (sid instanceof Uint8Array) {
      const kind = asciiKind(sid);
      if (kind === 'blank') {
        counters.emptySegmentId++;
        continue;
      }
      if (kind === 'ascii' && sid.length <= S_ID_MAX_LENGTH) ascii = sid;
      else sid = utf8.decode(sid);
    }
    if (!ascii) {
      if (typeof sid !== 'string') throw new Stage2ContractError(`${where(i)}: s_id is not a string`);
      if (sid.trim() === '') {
        counters.emptySegmentId++;
        continue;
      }
      if (sid.length > S_ID_MAX_LENGTH) {
        throw new Stage2ContractError(
          `${where(i)}: s_id "${sid.slice(0, 60)}…" is longer than ${S_ID_MAX_LENGTH} characters`,
        );
      }
    }
    const day = dates[i - oDate];
    if (day !== ctx.day) {
      const shown =
        typeof day === 'number' ? new Date(day * 86_400_000).toISOString().slice(0, 10) : String(day);
      throw new Stage2ContractError(
        `${where(i)}: date is ${shown}, expected the batch date ${ctx.batchDate}`,
      );
    }
    const impactValue = impacts[i - oImpact];
    const totalValue = totals[i - oTotal];
    const impact = toInteger(impactValue);
    const total = toInteger(totalValue);
    if (impact === undefined || impact < 0 || impact > 2147483647) {
      throw new Stage2ContractError(
        `${where(i)}: impact_count is ${String(impactValue)}, expected an int ≥ 0`,
      );
    }
    if (total === undefined || total < 0 || total > 2147483647) {
      throw new Stage2ContractError(`${where(i)}: total_count is ${String(totalValue)}, expected an int ≥ 0`);
    }
    const lon = lons[i - oLon];
    const lat = lats[i - oLat];
    if (typeof lon !== 'number' || !(lon >= -180 && lon <= 180)) {
      throw new Stage2ContractError(`${where(i)}: centroid_lon is ${String(lon)}, expected -180..180`);
    }
    if (typeof lat !== 'number' || !(lat >= -90 && lat <= 90)) {
      throw new Stage2ContractError(`${where(i)}: centroid_lat is ${String(lat)}, expected -90..90`);
    }
    if (impact > total) counters.impactExceedsTotal++;
    at = out.writeInt16BE(COPY_FIELDS, at);
    let len: number;
    if (ascii) {
      len = ascii.length;
      for (let b = 0; b < len; b++) out[at + 4 + b] = ascii[b]!;
    } else {
      len = out.write(sid as string, at + 4, 'utf8');
    }
    out.writeInt32BE(len, at);
    at += 4 + len;
    at = out.writeInt32BE(8, at);
    at = out.writeDoubleBE(lon, at);
    at = out.writeInt32BE(8, at);
    at = out.writeDoubleBE(lat, at);
    at = out.writeInt32BE(4, at);
    at = out.writeInt32BE(impact, at);
    at = out.writeInt32BE(4, at);
    at = out.writeInt32BE(total, at);
    counters.rows++;
  }
  // A copy of just the bytes used, in an ArrayBuffer of its own (never the shared pool) so it can be
  // transferred between threads; the scratch buffer is reused by the next batch.
  const tuples = Buffer.allocUnsafeSlow(at);
  out.copy(tuples, 0, 0, at);
  return tuples;
}

// ---- files and row groups ------------------------------------------------------------------------------

export interface Stage2Object {
  key: string;
  size: number;
}

/**
 * Part files Spark writes, given their key relative to the date's folder (`<prefix>/dt=<date>/`; the
 * configured prefix itself may contain anything). Anything under a path segment starting with `_` or `.`
 * is not data, as Spark and Hive read it: markers (_SUCCESS, _committed…), checksums (.crc) and the
 * `_temporary/…/attempt_…/part-….parquet` files an uncommitted or uncleaned write leaves behind.
 */
export function isDataFile(keyInDateFolder: string): boolean {
  return (
    keyInDateFolder.endsWith('.parquet') &&
    keyInDateFolder.split('/').every((seg) => !seg.startsWith('_') && !seg.startsWith('.'))
  );
}

/** Reads and checks one file's footer; a file that is not Parquet or breaks the contract is named. */
export async function openStage2File(url: string, buffer: AsyncBuffer): Promise<OpenFile> {
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new Stage2ContractError(
      `${url} is not a readable Parquet file (${(err as Error).message}); rewrite the Stage2 output`,
    );
  }
  checkStage2Schema(metadata.schema, url);
  return { url, buffer, metadata };
}

export interface OpenFile {
  url: string;
  buffer: AsyncBuffer;
  metadata: FileMetaData;
}
