/**
 * The decoder session of load_to_rdb: every part file's footer and offset indexes are read and checked
 * here, then one worker thread with a capped heap (decoder-thread.ts) decodes the files' pages and encodes
 * COPY BINARY tuples, fetching bytes through this thread's S3 client.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  COLUMN_NAMES,
  openStage2File,
  Stage2ContractError,
  type RowCounters,
  type Stage2Column,
  type Stage2Object,
} from './contract';
import type { DecoderInput, FromDecoder, ToDecoder } from './decoder-thread';
import { groupLayouts, largestWindows, offsetIndexBlock } from './slices';
import { readRange } from './s3-source';

export type DecoderFile = DecoderInput['files'][number];

/** Reads and checks one part file's footer, then its offset indexes: where every page of every column is. */
export async function openDecoderFile(
  s3: S3Client,
  bucket: string,
  object: Stage2Object,
  signal: AbortSignal,
): Promise<DecoderFile> {
  const url = `s3://${bucket}/${object.key}`;
  const read = (start: number, end: number) => readRange(s3, bucket, object.key, start, end, signal);
  const { metadata } = await openStage2File(url, {
    byteLength: object.size,
    slice: (start, end = object.size) => read(start, end),
  });
  const block = offsetIndexBlock(metadata);
  const index = block ? { bytes: await read(...block), at: block[0] } : undefined;
  let groups;
  try {
    groups = groupLayouts(metadata, index);
  } catch (err) {
    throw new Stage2ContractError(`${url}: unreadable offset index (${(err as Error).message})`);
  }
  return { ...object, metadata, groups, index };
}

/**
 * Rows of a column decoded at a time, at least: windows are whole pages, so one holds more when a page
 * does (hyparquet-writer's 1 MB pages of an int column hold 262,143 rows; parquet-mr caps a page at
 * 20,000 rows).
 */
const WINDOW_ROWS = 32_768;

/**
 * Heap of the decoder thread, planned from the files' pages: capping it is what keeps a load's memory
 * bounded (an uncapped heap lets garbage pile up to several times the live data), planning it from the
 * largest windows is what keeps a file of large pages (or chunks without offset index, one window each)
 * from failing. Measured with hyparquet-writer's 1 MB pages (262,143-row windows of the int columns): a
 * heap of 100 bytes plus 3 per byte of s_id for each s_id value held and 48 for each number is about
 * 1.5 times what decoding needs (pages are decoded through several arrays of their length at once).
 */
const DECODER_BASE_HEAP_MB = 24;
/**
 * Decoding makes mostly short-lived garbage, which dies in the young generation. 8 MB rather than 24:
 * measured at 10M rows, the same speed and about 18 MB less peak RSS.
 */
const DECODER_YOUNG_HEAP_MB = 8;
/**
 * hyparquet decodes a chunk's dictionary page again for every window read from it, beside the window:
 * an s_id of 16 bytes becomes a view of about 100 bytes of heap plus array slots, so a dictionary takes
 * up to about 10 heap bytes per byte it has before compression (parquet-mr caps a dictionary page at
 * 1 MB, then writes plain pages; hyparquet-writer keeps a dictionary only for repeated values).
 */
const DICTIONARY_HEAP_PER_BYTE = 10;
export interface DecodePlan {
  /** The most rows of each column decoded at once. */
  windows: Record<Stage2Column, number>;
  /** The largest average encoded bytes of an s_id, over the row groups. */
  idBytes: number;
  /** The largest dictionary page of any chunk, in bytes before compression (estimated). */
  dictionaryBytes?: number;
}
function decoderHeapBytes(plan: DecodePlan): number {
  return COLUMN_NAMES.reduce(
    (sum, c) => sum + plan.windows[c] * (c === 's_id' ? 100 + 3 * plan.idBytes : 48),
    DICTIONARY_HEAP_PER_BYTE * (plan.dictionaryBytes ?? 0),
  );
}
export function decoderHeapMb(plan: DecodePlan): number {
  return Math.ceil(DECODER_BASE_HEAP_MB + decoderHeapBytes(plan) / 1048576);
}

export function decodePlan(
  files: Pick<DecoderFile, 'metadata' | 'groups'>[],
  windowRows: number,
): DecodePlan {
  const windows = largestWindows(
    files.flatMap((f) => f.groups),
    windowRows,
  );
  let idBytes = 0;
  let dictionaryBytes = 0;
  for (const f of files) {
    for (const g of f.metadata.row_groups) {
      const rows = Number(g.num_rows);
      const ids = g.columns.find((c) => c.meta_data?.path_in_schema[0] === 's_id')?.meta_data;
      if (ids && rows > 0) idBytes = Math.max(idBytes, Number(ids.total_uncompressed_size) / rows);
    }
    for (const [i, g] of f.groups.entries()) {
      for (const c of g.columns) {
        if (c.dataStart <= c.chunkStart) continue;
        const meta = f.metadata.row_groups[i]!.columns.find(
          (m) => m.meta_data?.path_in_schema[0] === c.column,
        )!.meta_data!;
        // The page's own size before compression is in its header; the chunk's ratio stands in for it.
        const ratio = Number(meta.total_uncompressed_size) / Math.max(1, Number(meta.total_compressed_size));
        dictionaryBytes = Math.max(dictionaryBytes, (c.dataStart - c.chunkStart) * Math.max(1, ratio));
      }
    }
  }
  return { windows, idBytes, dictionaryBytes };
}

/** The thread's script beside this module: TypeScript run through tsx, or the JavaScript of `npm run build`. */
const DECODER_ENTRY = path.join(__dirname, `decoder-thread${path.extname(__filename)}`);

export interface DecoderSession {
  /** Total rows of all files, once the thread is up. */
  ready: Promise<number>;
  /** COPY BINARY tuples, in file and row order. */
  tuples(): AsyncGenerator<Buffer>;
  rows(): number;
  counters(): RowCounters;
  close(): Promise<void>;
}

export function startDecoder(
  s3: S3Client,
  input: Omit<DecoderInput, 'windowRows'>,
  signal: AbortSignal,
): DecoderSession {
  // The worker process runs the TypeScript sources through tsx; a thread has to register it again.
  // Resolved here, not in the thread: an eval'd thread resolves modules from the process's cwd.
  const boot = DECODER_ENTRY.endsWith('.ts') ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});` : '';
  const plan = decodePlan(input.files, WINDOW_ROWS);
  const heapMb = decoderHeapMb(plan);
  const queue: Buffer[] = [];
  let rows = 0;
  let done = false;
  let counters: RowCounters | undefined;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let resolveReady!: (rows: number) => void;
  let rejectReady!: (err: unknown) => void;
  const ready = new Promise<number>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => undefined);
  const fail = (err: unknown) => {
    failure ??= err;
    rejectReady(failure);
    wake?.();
  };

  const worker = new Worker(`${boot} require(${JSON.stringify(DECODER_ENTRY)});`, {
    eval: true,
    workerData: { ...input, windowRows: WINDOW_ROWS } satisfies DecoderInput,
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: DECODER_YOUNG_HEAP_MB },
  });
  const send = (m: ToDecoder, transfer: ArrayBuffer[] = []) => worker.postMessage(m, transfer);
  worker.on('message', (m: FromDecoder) => {
    switch (m.type) {
      case 'read':
        readRange(s3, input.bucket, m.key, m.start, m.end, signal).then(
          (buffer) => send({ type: 'bytes', id: m.id, buffer }, [buffer]),
          (err: Error) => send({ type: 'readFailed', id: m.id, message: err.message }),
        );
        break;
      case 'ready':
        resolveReady(m.rows);
        break;
      case 'tuples':
        queue.push(Buffer.from(m.buffer));
        rows += m.rows;
        wake?.();
        break;
      case 'done':
        done = true;
        counters = m.counters;
        wake?.();
        break;
      case 'failed':
        fail(m.contract ? new Stage2ContractError(m.message) : new Error(m.message));
        break;
    }
  });
  worker.on('error', (err: Error & { code?: string }) => {
    const s = plan.windows;
    fail(
      err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new Stage2ContractError(
            `decoding the Stage2 output needed more than the ${heapMb} MB planned for windows of ` +
              `${s.s_id} s_id values and ${Math.max(...Object.values(s))} values of another column; ` +
              `write it with smaller Parquet pages, or with offset indexes (parquet-mr 1.11 and later)`,
          )
        : err,
    );
  });
  worker.on('exit', (code: number) => {
    if (!done) fail(new Error(`the Parquet decoder thread stopped (exit code ${code})`));
  });
  const onAbort = () => fail(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });

  return {
    ready,
    rows: () => rows,
    counters: () => {
      if (!counters) throw new Error('the decoder has not finished');
      return counters;
    },
    async *tuples() {
      send({ type: 'start' });
      for (;;) {
        if (failure) throw failure;
        const next = queue.shift();
        if (next) {
          yield next;
          send({ type: 'consumed' });
          continue;
        }
        if (done) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async close() {
      signal.removeEventListener('abort', onAbort);
      await worker.terminate();
    },
  };
}
