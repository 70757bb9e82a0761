/**
 * load_to_rdb: Stage2 Parquet in S3 → pothole_segments in PostgreSQL.
 *
 * The day's partition is rebuilt, not edited: rows stream from S3 (one row group at a time, byte-range
 * reads) through COPY into a fresh table created in the same transaction, the dashboards' indexes are
 * built on it in bulk, and it replaces the day's partition (DETACH + DROP old, ATTACH new) before the
 * transaction commits. So a rerun leaves exactly the new output for that date, other dates are never
 * touched, and a failure at any point rolls back to the previous state.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { parquetMetadataAsync, parquetRead, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { KakaoConfig, S3Config } from '../config';
import { validateBatchDate } from '../steps';
import type { LoadResult, QualityFindings, StepInput } from '../types';
import { geocodeMissingSegments } from './geocode';

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
const COLUMN_NAMES = Object.keys(STAGE2_COLUMNS) as Stage2Column[];
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

/**
 * Validates rows [start, end) of a decoded row group and encodes the loadable ones as COPY BINARY
 * tuples (s_id, centroid_lon, centroid_lat, impact_count, total_count): no per-row strings, and no
 * float parsing on the server. Rows with an empty s_id are counted and skipped; anything else outside
 * the contract throws naming the object and the row.
 */
export function encodeCopyRows(
  cols: ColumnBatch,
  start: number,
  end: number,
  ctx: { object: string; firstRow: number; batchDate: string; day: number },
  counters: RowCounters,
): Buffer {
  const needed = Math.max(0, end - start) * MAX_ROW_BYTES;
  if (scratch.length < needed) scratch = Buffer.allocUnsafe(needed);
  const out = scratch;
  let at = 0;
  const { s_id: ids, date: dates, impact_count: impacts, total_count: totals } = cols;
  const { centroid_lon: lons, centroid_lat: lats } = cols;
  const where = (i: number) => `${ctx.object} row ${ctx.firstRow + i}`;
  for (let i = start; i < end; i++) {
    const sid = ids[i];
    if (sid === null || sid === undefined) {
      throw new Stage2ContractError(`${where(i)}: s_id is null; every Stage2 row needs a segment id`);
    }
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
    const day = dates[i];
    if (day !== ctx.day) {
      const shown =
        typeof day === 'number' ? new Date(day * 86_400_000).toISOString().slice(0, 10) : String(day);
      throw new Stage2ContractError(
        `${where(i)}: date is ${shown}, expected the batch date ${ctx.batchDate}`,
      );
    }
    const impact = toInteger(impacts[i]);
    const total = toInteger(totals[i]);
    if (impact === undefined || impact < 0 || impact > 2147483647) {
      throw new Stage2ContractError(
        `${where(i)}: impact_count is ${String(impacts[i])}, expected an int ≥ 0`,
      );
    }
    if (total === undefined || total < 0 || total > 2147483647) {
      throw new Stage2ContractError(`${where(i)}: total_count is ${String(totals[i])}, expected an int ≥ 0`);
    }
    const lon = lons[i];
    const lat = lats[i];
    if (typeof lon !== 'number' || !(lon >= -180 && lon <= 180)) {
      throw new Stage2ContractError(`${where(i)}: centroid_lon is ${String(lon)}, expected -180..180`);
    }
    if (typeof lat !== 'number' || !(lat >= -90 && lat <= 90)) {
      throw new Stage2ContractError(`${where(i)}: centroid_lat is ${String(lat)}, expected -90..90`);
    }
    if (impact > total) counters.impactExceedsTotal++;
    at = out.writeInt16BE(COPY_FIELDS, at);
    const len = out.write(sid, at + 4, 'utf8');
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
  // A copy of just the bytes used: the scratch buffer is reused by the next batch.
  return Buffer.from(out.subarray(0, at));
}

/** The quality findings of the original pipeline: reported, never fatal. */
export function qualityFindings(
  counters: Pick<RowCounters, 'rows' | 'impactExceedsTotal' | 'emptySegmentId'>,
  previous: { date: string; rows: number } | null,
): QualityFindings {
  const warnings: string[] = [];
  if (counters.impactExceedsTotal > 0) {
    warnings.push(
      `impact_count가 total_count보다 큰 행 ${counters.impactExceedsTotal.toLocaleString('en-US')}건`,
    );
  }
  if (counters.emptySegmentId > 0) {
    warnings.push(`s_id가 비어 있어 적재하지 않은 행 ${counters.emptySegmentId.toLocaleString('en-US')}건`);
  }
  let rowCountChange: number | null = null;
  if (previous && previous.rows > 0) {
    rowCountChange = (counters.rows - previous.rows) / previous.rows;
    if (Math.abs(rowCountChange) > 0.5) {
      const pct = `${rowCountChange > 0 ? '+' : ''}${(rowCountChange * 100).toFixed(1)}%`;
      warnings.push(
        `행 수 급변: ${counters.rows.toLocaleString('en-US')}건, 직전 적재일(${previous.date}) ` +
          `${previous.rows.toLocaleString('en-US')}건 대비 ${pct}`,
      );
    }
  }
  return {
    impactExceedsTotal: counters.impactExceedsTotal,
    emptySegmentId: counters.emptySegmentId,
    previousRowCount: previous?.rows ?? null,
    rowCountChange,
    warnings,
  };
}

/** pothole_segments_20260212: the partition holding one day. */
export function partitionName(batchDate: string): string {
  return `pothole_segments_${batchDate.replaceAll('-', '')}`;
}

export function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

// ---- S3 access ------------------------------------------------------------------------------------------

export interface Stage2Object {
  key: string;
  size: number;
}

/** Part files Spark writes; markers (_SUCCESS, _committed…) and hidden files (.crc) are not data. */
export function isDataFile(key: string): boolean {
  const base = key.slice(key.lastIndexOf('/') + 1);
  return base.endsWith('.parquet') && !base.startsWith('_') && !base.startsWith('.');
}

/** A Parquet file over S3: every read is one ranged GET, so only what is asked for is in memory. */
function s3AsyncBuffer(s3: S3Client, bucket: string, object: Stage2Object, signal: AbortSignal): AsyncBuffer {
  return {
    byteLength: object.size,
    async slice(start: number, end = object.size): Promise<ArrayBuffer> {
      const res = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: object.key, Range: `bytes=${start}-${end - 1}` }),
        { abortSignal: signal },
      );
      if (!res.Body) throw new Error(`empty body reading s3://${bucket}/${object.key}`);
      const bytes = await res.Body.transformToByteArray();
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

async function listStage2Objects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  signal: AbortSignal,
): Promise<{ all: number; data: Stage2Object[] }> {
  const data: Stage2Object[] = [];
  let all = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      { abortSignal: signal },
    );
    for (const o of page.Contents ?? []) {
      all++;
      if (o.Key && isDataFile(o.Key)) data.push({ key: o.Key, size: o.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  data.sort((a, b) => a.key.localeCompare(b.key));
  return { all, data };
}

interface OpenFile {
  object: Stage2Object;
  url: string;
  buffer: AsyncBuffer;
  metadata: FileMetaData;
}

interface DecodedGroup {
  url: string;
  firstRow: number;
  rows: number;
  cols: ColumnBatch;
}

// Keep DATE as the day number: cheaper than a Date per row and compared to the batch day directly.
const parsers = { dateFromDays: (days: number) => days };

async function readRowGroup(file: OpenFile, groupIndex: number, firstRow: number): Promise<DecodedGroup> {
  const rows = Number(file.metadata.row_groups[groupIndex]?.num_rows ?? 0);
  const chunks = new Map<string, { rowStart: number; data: ArrayLike<unknown> }[]>();
  try {
    await parquetRead({
      file: file.buffer,
      metadata: file.metadata,
      columns: COLUMN_NAMES,
      rowStart: firstRow,
      rowEnd: firstRow + rows,
      compressors,
      parsers,
      onChunk: (chunk) => {
        const list = chunks.get(chunk.columnName) ?? [];
        list.push({ rowStart: chunk.rowStart, data: chunk.columnData });
        chunks.set(chunk.columnName, list);
      },
    });
  } catch (err) {
    throw new Stage2ContractError(
      `${file.url}: row group ${groupIndex} (rows ${firstRow}..${firstRow + rows - 1}) cannot be decoded: ` +
        `${(err as Error).message}`,
    );
  }
  const cols = {} as Record<Stage2Column, ArrayLike<unknown>>;
  for (const name of COLUMN_NAMES) {
    const list = (chunks.get(name) ?? []).sort((a, b) => a.rowStart - b.rowStart);
    const only = list[0];
    if (list.length === 1 && only && only.rowStart === firstRow && only.data.length === rows) {
      cols[name] = only.data;
      continue;
    }
    const merged: unknown[] = new Array(rows);
    let filled = 0;
    for (const c of list) {
      for (let i = 0; i < c.data.length; i++) {
        const at = c.rowStart - firstRow + i;
        if (at >= 0 && at < rows) {
          merged[at] = c.data[i];
          filled++;
        }
      }
    }
    if (filled !== rows) {
      throw new Stage2ContractError(
        `${file.url}: row group ${groupIndex}: column "${name}" decoded ${filled} of ${rows} values`,
      );
    }
    cols[name] = merged;
  }
  return { url: file.url, firstRow, rows, cols };
}

/** Row groups of every file in order, the next one fetched while the current one is consumed. */
async function* rowGroups(files: OpenFile[]): AsyncGenerator<DecodedGroup> {
  const plan: { file: OpenFile; group: number; firstRow: number }[] = [];
  for (const file of files) {
    let firstRow = 0;
    file.metadata.row_groups.forEach((g, group) => {
      plan.push({ file, group, firstRow });
      firstRow += Number(g.num_rows);
    });
  }
  const start = (i: number) => {
    const p = plan[i];
    if (!p) return undefined;
    const promise = readRowGroup(p.file, p.group, p.firstRow);
    promise.catch(() => undefined); // surfaced when awaited; never an unhandled rejection
    return promise;
  };
  let next = start(0);
  for (let i = 0; next; i++) {
    const current = next;
    next = start(i + 1);
    yield await current;
  }
}

// ---- the activity ---------------------------------------------------------------------------------------

export interface LoadDeps {
  s3: S3Client;
  pool: pg.Pool;
  config: { s3: S3Config; kakao: KakaoConfig };
  /** For tests: the fetch used to call Kakao. */
  fetch?: typeof fetch;
  /** Retry tuning of the reverse geocoding (defaults suit the real API). */
  geocode?: { attempts?: number; backoffMs?: number; maxSegments?: number };
}

const LOCK_NAMESPACE = 'pothole_segments';
/** Rows per buffer handed to COPY: big enough to amortise stream overhead, small enough to stay light. */
const COPY_BATCH_ROWS = 4_096;
const STAGE2_TYPE = 'Stage2ContractError';

export function createLoadActivities(deps: LoadDeps) {
  const { s3, pool, config } = deps;

  async function load_to_rdb(input: StepInput): Promise<LoadResult> {
    const started = Date.now();
    const ctx = Context.current();
    const signal = ctx.cancellationSignal;
    const checked = validateBatchDate(input.batchDate);
    if (typeof checked !== 'string') throw ApplicationFailure.nonRetryable(checked.error, 'InvalidBatchDate');
    const batchDate: string = checked;

    const bucket = config.s3.S3_BUCKET;
    const prefix = `${config.s3.S3_STAGE2_OUTPUT_PREFIX}/dt=${batchDate}/`;
    const where = `s3://${bucket}/${prefix}`;

    // 1. Find and check every file's footer before anything is written.
    let listing: Awaited<ReturnType<typeof listStage2Objects>>;
    try {
      listing = await listStage2Objects(s3, bucket, prefix, signal);
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchBucket') {
        throw ApplicationFailure.nonRetryable(
          `bucket ${bucket} does not exist (reading ${where}); check S3_BUCKET`,
          'MissingInput',
        );
      }
      throw err;
    }
    if (listing.all === 0) {
      throw ApplicationFailure.nonRetryable(
        `no Stage2 output at ${where}: the prefix is empty or missing; run stage2 for ${batchDate} first`,
        'MissingInput',
      );
    }
    if (listing.data.length === 0) {
      throw ApplicationFailure.nonRetryable(
        `no parquet files under ${where} (${listing.all} other object(s)); Stage2 must write *.parquet part files`,
        'MissingInput',
      );
    }
    const files: OpenFile[] = [];
    for (const object of listing.data) {
      const url = `s3://${bucket}/${object.key}`;
      const buffer = s3AsyncBuffer(s3, bucket, object, signal);
      let metadata: FileMetaData;
      try {
        metadata = await parquetMetadataAsync(buffer);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw ApplicationFailure.nonRetryable(
          `${url} is not a readable Parquet file (${(err as Error).message}); rewrite the Stage2 output`,
          STAGE2_TYPE,
        );
      }
      try {
        checkStage2Schema(metadata.schema, url);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, STAGE2_TYPE);
      }
      files.push({ object, url, buffer, metadata });
    }
    const totalRows = files.reduce((n, f) => n + Number(f.metadata.num_rows), 0);
    log.info('loading Stage2 output', { batchDate, source: where, files: files.length, rows: totalRows });

    // 2. Rebuild the day's partition in one transaction.
    const previous = await previousLoadedDate(pool, batchDate);
    const counters: RowCounters = { rows: 0, impactExceedsTotal: 0, emptySegmentId: 0 };
    let phase = 'copy';
    const heartbeat = () => ctx.heartbeat({ phase, rows: counters.rows, of: totalRows });
    const ticker = setInterval(heartbeat, 5_000);
    const client = await pool.connect();
    let clientBroken = false;
    const onAbort = () => {
      // Stop whatever statement is running; the transaction then rolls back.
      pool.query('SELECT pg_cancel_backend($1)', [backendPid(client)]).catch(() => undefined);
    };
    signal.addEventListener('abort', onAbort);
    try {
      await client.query('BEGIN');
      await waitForDateLock(client, batchDate, signal, heartbeat);
      await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
      const stage = `${partitionName(batchDate)}_load`;
      await client.query(
        `CREATE TABLE ${stage} (LIKE pothole_segments INCLUDING DEFAULTS,
           CONSTRAINT ${stage}_date_check CHECK (date >= DATE '${batchDate}' AND date < DATE '${nextDay(batchDate)}'))`,
      );
      // The whole day carries one date: a column default saves parsing it a million times.
      await client.query(`ALTER TABLE ${stage} ALTER COLUMN date SET DEFAULT DATE '${batchDate}'`);

      const day = epochDay(batchDate);
      async function* copyData(): AsyncGenerator<Buffer> {
        yield COPY_BINARY_HEADER;
        for await (const group of rowGroups(files)) {
          if (signal.aborted) throw signal.reason;
          for (let at = 0; at < group.rows; at += COPY_BATCH_ROWS) {
            const tuples = encodeCopyRows(
              group.cols,
              at,
              Math.min(group.rows, at + COPY_BATCH_ROWS),
              { object: group.url, firstRow: group.firstRow, batchDate, day },
              counters,
            );
            if (tuples.length > 0) yield tuples;
          }
          heartbeat();
        }
        yield COPY_BINARY_TRAILER;
      }
      // FREEZE: the table is new in this transaction, so rows are written already frozen (no later
      // hint-bit rewrite or anti-wraparound vacuum of the whole day).
      await pipeline(
        Readable.from(copyData(), { objectMode: false, highWaterMark: 1 << 20 }),
        client.query(
          copyFrom(
            `COPY ${stage} (s_id, centroid_lon, centroid_lat, impact_count, total_count)
               FROM STDIN WITH (FORMAT binary, FREEZE)`,
          ),
        ),
      );

      phase = 'index';
      heartbeat();
      await client.query(`ALTER TABLE ${stage} ALTER COLUMN date DROP DEFAULT`);
      for (const [suffix, sql] of partitionIndexes(stage)) {
        await client.query(sql.replace('$name', `${stage}_${suffix}`));
      }

      phase = 'swap';
      heartbeat();
      await swapPartition(client, stage, batchDate);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        clientBroken = true;
      });
      if (signal.aborted) throw signal.reason;
      throw asLoadFailure(err, where);
    } finally {
      clearInterval(ticker);
      signal.removeEventListener('abort', onAbort);
      client.release(clientBroken);
    }
    const quality = qualityFindings(counters, previous);
    const loadedSeconds = (Date.now() - started) / 1000;
    log.info('Stage2 output loaded', {
      batchDate,
      rows: counters.rows,
      seconds: loadedSeconds,
      warnings: quality.warnings,
    });

    // 3. Reverse geocoding is best effort and outside the data transaction.
    phase = 'geocode';
    const geocoded = await geocodeMissingSegments(
      { ...deps.geocode, pool, config: config.kakao, fetch: deps.fetch, signal, heartbeat },
      batchDate,
    );

    return {
      batchDate,
      rowsLoaded: counters.rows,
      files: files.length,
      seconds: (Date.now() - started) / 1000,
      quality,
      geocoded: geocoded.geocoded,
    };
  }

  return { load_to_rdb };
}

function backendPid(client: pg.PoolClient): number {
  return (client as unknown as { processID: number }).processID;
}

/** Loads of the same date take turns (a retry racing a slow predecessor); other dates run freely. */
async function waitForDateLock(
  client: pg.PoolClient,
  batchDate: string,
  signal: AbortSignal,
  heartbeat: () => void,
): Promise<void> {
  for (let waited = 0; ; waited++) {
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) AS ok',
      [LOCK_NAMESPACE, batchDate],
    );
    if (rows[0]?.ok) return;
    if (waited === 0) log.info('another load of this date is running; waiting for it', { batchDate });
    if (signal.aborted) throw signal.reason;
    heartbeat();
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/**
 * The partition's indexes: the same definitions as the parent's (migration 001), so ATTACH adopts them
 * instead of building new ones. `$name` is the index (or primary key constraint) name.
 */
function partitionIndexes(table: string): [suffix: string, sql: string][] {
  return [
    ['pkey', `ALTER TABLE ${table} ADD CONSTRAINT $name PRIMARY KEY (s_id, date)`],
    ['date_idx', `CREATE INDEX $name ON ${table} (date DESC)`],
    ['s_id_idx', `CREATE INDEX $name ON ${table} (s_id)`],
    ['date_s_id_idx', `CREATE INDEX $name ON ${table} (date DESC, s_id)`],
    ['impact_idx', `CREATE INDEX $name ON ${table} (impact_count DESC)`],
  ];
}

/** Replaces (or creates) the day's partition with the freshly built table. */
async function swapPartition(client: pg.PoolClient, stage: string, batchDate: string): Promise<void> {
  const part = partitionName(batchDate);
  // Readers of pothole_segments wait for this lock, so never queue behind a long query for ever.
  await client.query(`SET LOCAL lock_timeout = '60s'`);
  const { rows } = await client.query<{ attached: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) AS attached
       FROM pg_class c WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [part],
  );
  if (rows[0]) {
    if (rows[0].attached) await client.query(`ALTER TABLE pothole_segments DETACH PARTITION ${part}`);
    await client.query(`DROP TABLE ${part}`);
  }
  await client.query(`ALTER TABLE ${stage} RENAME TO ${part}`);
  await client.query(`ALTER TABLE ${part} RENAME CONSTRAINT ${stage}_date_check TO ${part}_date_check`);
  for (const [suffix] of partitionIndexes(stage)) {
    await client.query(`ALTER INDEX ${stage}_${suffix} RENAME TO ${part}_${suffix}`);
  }
  await client.query(
    `ALTER TABLE pothole_segments ATTACH PARTITION ${part}
       FOR VALUES FROM ('${batchDate}') TO ('${nextDay(batchDate)}')`,
  );
}

async function previousLoadedDate(
  pool: pg.Pool,
  batchDate: string,
): Promise<{ date: string; rows: number } | null> {
  const { rows } = await pool.query<{ date: string | null; rows: string | null }>(
    `SELECT prev.date::text AS date, (SELECT count(*) FROM pothole_segments WHERE date = prev.date) AS rows
       FROM (SELECT max(date) AS date FROM pothole_segments WHERE date < $1) prev`,
    [batchDate],
  );
  const r = rows[0];
  return r?.date ? { date: r.date, rows: Number(r.rows) } : null;
}

function asLoadFailure(err: unknown, where: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Stage2ContractError) return ApplicationFailure.nonRetryable(err.message, STAGE2_TYPE);
  const pgErr = err as { code?: string; detail?: string; message?: string };
  if (pgErr.code === '23505') {
    return ApplicationFailure.nonRetryable(
      `Stage2 output under ${where} has duplicate segments (${pgErr.detail ?? pgErr.message}); ` +
        `each s_id must appear once per date`,
      STAGE2_TYPE,
    );
  }
  return err;
}
