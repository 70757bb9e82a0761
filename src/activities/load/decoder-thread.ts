/**
 * The decoder thread of load_to_rdb: Parquet pages are decoded and COPY BINARY encoded here, in a worker
 * thread with a capped heap, so the memory a load takes is bounded by that cap whatever the garbage
 * collector of the worker process would otherwise let grow. Bytes come from the main thread (which owns
 * the S3 client) on request; encoded tuples go back as transferred buffers, a few at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FileMetaData } from 'hyparquet';
import {
  COLUMN_NAMES,
  encodeCopyRows,
  Stage2ContractError,
  type ColumnBatch,
  type RowCounters,
  type Stage2Column,
  type Stage2Object,
} from './contract';
import { readAhead } from './read-ahead';
import { rowSlices, type GroupLayout, type RowSlice, type SlicedFile } from './slices';

export interface DecoderInput {
  bucket: string;
  /** Files whose footers (and offset indexes) the main thread already read and checked. */
  files: (Stage2Object & {
    metadata: FileMetaData;
    groups: GroupLayout[];
    /** The file's offset index block: hyparquet reads a chunk's offset index for every window. */
    index?: { bytes: ArrayBuffer; at: number };
  })[];
  batchDate: string;
  day: number;
  batchRows: number;
  /** Rows a column is decoded at a time, at least (whole pages: a window may hold more). */
  windowRows: number;
  /** Encoded chunks the thread may have in flight before it waits for the main thread. */
  window: number;
}

export type FromDecoder =
  | { type: 'read'; id: number; key: string; start: number; end: number }
  | { type: 'ready'; rows: number }
  | { type: 'tuples'; buffer: ArrayBuffer; rows: number }
  | { type: 'done'; counters: RowCounters }
  | { type: 'failed'; contract: boolean; message: string };

export type ToDecoder =
  | { type: 'bytes'; id: number; buffer: ArrayBuffer }
  | { type: 'readFailed'; id: number; message: string }
  | { type: 'consumed' }
  | { type: 'start' };

const port = parentPort!;
const input = workerData as DecoderInput;
const post = (m: FromDecoder, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

const pendingReads = new Map<number, { resolve: (b: ArrayBuffer) => void; reject: (e: Error) => void }>();
let nextReadId = 0;
let inFlight = 0;
let wakeWriter: (() => void) | undefined;
let wakeStart: (() => void) | undefined;

port.on('message', (m: ToDecoder) => {
  if (m.type === 'bytes' || m.type === 'readFailed') {
    const pending = pendingReads.get(m.id);
    pendingReads.delete(m.id);
    if (m.type === 'bytes') pending?.resolve(m.buffer);
    else pending?.reject(new Error(m.message));
  } else if (m.type === 'consumed') {
    inFlight--;
    wakeWriter?.();
  } else if (m.type === 'start') {
    wakeStart?.();
  }
});

function requestBytes(key: string, start: number, end: number): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const id = nextReadId++;
    pendingReads.set(id, { resolve, reject });
    post({ type: 'read', id, key, start, end });
  });
}

/** A file read through the main thread, with byte ranges fetched ahead (read-ahead.ts). */
function remoteFile(f: DecoderInput['files'][number]): SlicedFile {
  const file = readAhead(f.size, (start, end) => requestBytes(f.key, start, end), f.index);
  return {
    url: `s3://${input.bucket}/${f.key}`,
    metadata: f.metadata,
    groups: f.groups,
    buffer: file.buffer,
    prefetch: file.prefetch,
    forget: file.forget,
  };
}

async function run(): Promise<void> {
  const files = input.files.map(remoteFile);
  const started = new Promise<void>((resolve) => (wakeStart = resolve));
  post({ type: 'ready', rows: input.files.reduce((n, f) => n + Number(f.metadata.num_rows), 0) });
  await started;

  const counters: RowCounters = { rows: 0, impactExceedsTotal: 0, emptySegmentId: 0 };
  const ctx = { batchDate: input.batchDate, day: input.day };
  const slices = rowSlices(files, input.windowRows);
  while (await encodeNextSlice(slices, counters, ctx));
  post({ type: 'done', counters });
}

/**
 * Encodes the next slice; false when there is none. A function of its own so the slice is let go before
 * the next one is decoded: a loop holding it (as a for-await binding does) would keep every column's
 * used-up window alive beside its successor, past the heap planned.
 */
async function encodeNextSlice(
  slices: AsyncGenerator<RowSlice>,
  counters: RowCounters,
  ctx: { batchDate: string; day: number },
): Promise<boolean> {
  const next = await slices.next();
  if (next.done) return false;
  await encodeSlice(next.value, counters, ctx);
  return true;
}

async function encodeSlice(
  slice: RowSlice,
  counters: RowCounters,
  ctx: { batchDate: string; day: number },
): Promise<void> {
  const values = {} as ColumnBatch;
  const first = {} as Record<Stage2Column, number>;
  for (const name of COLUMN_NAMES) {
    values[name] = slice.columns[name].values;
    first[name] = slice.columns[name].first;
  }
  for (let at = slice.from; at < slice.to; at += input.batchRows) {
    const before = counters.rows;
    const tuples = encodeCopyRows(
      values,
      at,
      Math.min(slice.to, at + input.batchRows),
      { ...ctx, object: slice.url, firstRow: slice.groupFirstRow },
      counters,
      first,
    );
    if (tuples.length === 0) continue;
    while (inFlight >= input.window) await new Promise<void>((resolve) => (wakeWriter = resolve));
    inFlight++;
    const buffer = tuples.buffer as ArrayBuffer;
    post({ type: 'tuples', buffer, rows: counters.rows - before }, [buffer]);
  }
}

run().catch((err: unknown) => {
  const e = err as Error;
  post({ type: 'failed', contract: e instanceof Stage2ContractError, message: e.message });
});
