/**
 * The decoder thread of load_to_rdb: Parquet row groups are decoded and COPY BINARY encoded here, in a
 * worker thread with a capped heap, so the memory a load takes is bounded by that cap whatever the
 * garbage collector of the worker process would otherwise let grow. Bytes come from the main thread
 * (which owns the S3 client) on request; encoded tuples go back as transferred buffers, a few at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FileMetaData } from 'hyparquet';
import {
  encodeCopyRows,
  rowGroups,
  Stage2ContractError,
  type OpenFile,
  type RowCounters,
  type Stage2Object,
} from './stage2-contract';

export interface DecoderInput {
  bucket: string;
  /** Files whose footers the main thread already read and checked. */
  files: (Stage2Object & { metadata: FileMetaData })[];
  batchDate: string;
  day: number;
  batchRows: number;
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

/**
 * A file read through the main thread. Ranges fetched ahead (the next row group) are kept until a read
 * falls outside them, so at most the current and the next group's compressed bytes are held.
 */
function remoteFile(object: Stage2Object): Pick<OpenFile, 'buffer' | 'prefetch'> {
  let held: { start: number; end: number; bytes: Promise<ArrayBuffer> }[] = [];
  return {
    buffer: {
      byteLength: object.size,
      async slice(start: number, end = object.size): Promise<ArrayBuffer> {
        const hit = held.find((h) => start >= h.start && end <= h.end);
        if (!hit) return requestBytes(object.key, start, end);
        held = held.filter((h) => h.start >= hit.start); // earlier groups are done with
        const bytes = await hit.bytes;
        return bytes.slice(start - hit.start, end - hit.start);
      },
    },
    prefetch(start: number, end: number) {
      if (end <= start) return;
      const bytes = requestBytes(object.key, start, end);
      bytes.catch(() => undefined); // a failed prefetch is retried by the read itself
      held.push({ start, end, bytes: bytes.catch(() => requestBytes(object.key, start, end)) });
    },
  };
}

async function run(): Promise<void> {
  const files: OpenFile[] = input.files.map((f) => ({
    url: `s3://${input.bucket}/${f.key}`,
    metadata: f.metadata,
    ...remoteFile(f),
  }));
  const started = new Promise<void>((resolve) => (wakeStart = resolve));
  post({ type: 'ready', rows: files.reduce((n, f) => n + Number(f.metadata.num_rows), 0) });
  await started;

  const counters: RowCounters = { rows: 0, impactExceedsTotal: 0, emptySegmentId: 0 };
  const ctx = { batchDate: input.batchDate, day: input.day };
  for await (const group of rowGroups(files)) {
    for (let at = 0; at < group.rows; at += input.batchRows) {
      const before = counters.rows;
      const tuples = encodeCopyRows(
        group.cols,
        at,
        Math.min(group.rows, at + input.batchRows),
        { ...ctx, object: group.url, firstRow: group.firstRow },
        counters,
      );
      if (tuples.length === 0) continue;
      while (inFlight >= input.window) await new Promise<void>((resolve) => (wakeWriter = resolve));
      inFlight++;
      const buffer = tuples.buffer as ArrayBuffer;
      post({ type: 'tuples', buffer, rows: counters.rows - before }, [buffer]);
    }
  }
  post({ type: 'done', counters });
}

run().catch((err: unknown) => {
  const e = err as Error;
  post({ type: 'failed', contract: e instanceof Stage2ContractError, message: e.message });
});
