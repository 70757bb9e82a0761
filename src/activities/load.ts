/**
 * load_to_rdb: Stage2 Parquet in S3 → pothole_segments in PostgreSQL.
 *
 * The day's partition (pothole_segments is partitioned by day) is rebuilt, not edited, in ONE transaction:
 *   1. every file's footer is read and checked against the Stage2 contract before anything is written;
 *   2. a decoder thread with a capped heap reads one row group at a time through ranged S3 GETs and
 *      encodes COPY BINARY tuples, which stream into a fresh table for the day;
 *   3. the dashboards' indexes are built on it in bulk (s_id compares byte-wise, so they sort fast);
 *   4. the fresh table replaces the day's partition (DETACH + DROP old, ATTACH new: the CHECK constraint
 *      spares ATTACH a validation scan, and the matching indexes are adopted, not rebuilt).
 * So a rerun leaves exactly the new output for that date, other dates are never touched, a new month
 * needs no hand-made partition, and a failure or cancellation at any point rolls back to the previous
 * state. Deleting and re-inserting a day inside a monthly partition pays for five index insertions per
 * row instead; see bench/load.ts for the comparison with a psql \copy floor.
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { KakaoConfig, S3Config } from '../config';
import { validateBatchDate } from '../steps';
import type { LoadResult, QualityFindings, StepInput } from '../types';
import {
  COPY_BINARY_HEADER,
  COPY_BINARY_TRAILER,
  epochDay,
  isDataFile,
  largestRowGroup,
  openStage2File,
  type GroupShape,
  Stage2ContractError,
  type RowCounters,
  type Stage2Object,
} from './stage2-contract';
import type { DecoderInput, FromDecoder, ToDecoder } from './stage2-decoder';
import { geocodeMissingSegments } from './geocode';

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

// ---- S3 access and the decoder thread -----------------------------------------------------------------

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
      // Judged below the date's folder only: the configured prefix may itself contain `_` or `.`.
      if (o.Key?.startsWith(prefix) && isDataFile(o.Key.slice(prefix.length))) {
        data.push({ key: o.Key, size: o.Size ?? 0 });
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  data.sort((a, b) => a.key.localeCompare(b.key));
  return { all, data };
}

/** One ranged GET, returned in an ArrayBuffer of its own so it can be transferred to the decoder. */
async function readRange(
  s3: S3Client,
  bucket: string,
  key: string,
  start: number,
  end: number,
  signal: AbortSignal,
): Promise<ArrayBuffer> {
  const res = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
    { abortSignal: signal },
  );
  if (!res.Body) throw new Error(`empty body reading s3://${bucket}/${key}`);
  // Straight into one buffer of the exact size: no collected copy to linger in this thread's memory.
  const target = new Uint8Array(end - start);
  let at = 0;
  for await (const chunk of res.Body as AsyncIterable<Uint8Array>) {
    if (at + chunk.length > target.length) throw new Error(`s3://${bucket}/${key} sent more than was asked`);
    target.set(chunk, at);
    at += chunk.length;
  }
  if (at !== target.length) {
    throw new Error(`short read of s3://${bucket}/${key}: ${at} of ${target.length} bytes from ${start}`);
  }
  return target.buffer;
}

/**
 * Heap of a decoder thread, sized from the footers: capping it is what keeps a load's memory bounded (an
 * uncapped heap lets garbage pile up to several times the live data), sizing it from the largest row
 * group is what keeps a large group from failing. Decoding a group was measured to peak at about
 * 200 bytes a row plus 2 per byte of s_id over the thread's own ~16 MB; the allowance is a third more.
 */
const DECODER_BASE_HEAP_MB = 24;
/** Decoding makes mostly short-lived garbage: a roomy young generation lets it die there, cheaply. */
const DECODER_YOUNG_HEAP_MB = 24;
export function decoderHeapBytes(group: GroupShape): number {
  return group.rows * (260 + 3 * group.idBytes);
}
export function decoderHeapMb(group: GroupShape): number {
  return Math.ceil(DECODER_BASE_HEAP_MB + decoderHeapBytes(group) / 1048576);
}

/** More threads decode faster but each costs its own heap; one keeps a load within ~300 MB RSS. */
const DECODER_THREADS = 1;
/** The thread's script beside this module: TypeScript run through tsx, or the JavaScript of `npm run build`. */
const DECODER_ENTRY = path.join(__dirname, `stage2-decoder${path.extname(__filename)}`);

interface DecoderSession {
  /** Total rows of all files, once every footer passed the contract checks. */
  ready: Promise<number>;
  /** COPY BINARY tuples, in file and row order. */
  tuples(): AsyncGenerator<Buffer>;
  rows(): number;
  counters(): RowCounters;
  close(): Promise<void>;
}

function startDecoder(
  s3: S3Client,
  input: DecoderInput,
  threads: number,
  signal: AbortSignal,
): DecoderSession {
  // The worker process runs the TypeScript sources through tsx; a thread has to register it again.
  // Resolved here, not in the thread: an eval'd thread resolves modules from the process's cwd.
  const boot = DECODER_ENTRY.endsWith('.ts') ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});` : '';
  // Files are dealt round-robin to the threads; COPY takes their tuples in whatever order they come.
  const shares = Array.from({ length: Math.max(1, Math.min(threads, input.files.length)) }, (_, t) =>
    input.files.filter((_, i) => i % threads === t),
  );
  const largest = largestRowGroup(input.files, decoderHeapBytes);
  const heapMb = decoderHeapMb(largest);
  const queue: { tuples: Buffer; from: Worker }[] = [];
  let rows = 0;
  let announced = 0;
  let readyCount = 0;
  let finished = 0;
  const counters: RowCounters = { rows: 0, impactExceedsTotal: 0, emptySegmentId: 0 };
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

  const workers = shares.map((files) => {
    const worker = new Worker(`${boot} require(${JSON.stringify(DECODER_ENTRY)});`, {
      eval: true,
      workerData: { ...input, files } satisfies DecoderInput,
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: DECODER_YOUNG_HEAP_MB },
    });
    const send = (m: ToDecoder, transfer: ArrayBuffer[] = []) => worker.postMessage(m, transfer);
    let done = false;
    worker.on('message', (m: FromDecoder) => {
      switch (m.type) {
        case 'read':
          readRange(s3, input.bucket, m.key, m.start, m.end, signal).then(
            (buffer) => send({ type: 'bytes', id: m.id, buffer }, [buffer]),
            (err: Error) => send({ type: 'readFailed', id: m.id, message: err.message }),
          );
          break;
        case 'ready':
          announced += m.rows;
          if (++readyCount === shares.length) resolveReady(announced);
          break;
        case 'tuples':
          queue.push({ tuples: Buffer.from(m.buffer), from: worker });
          rows += m.rows;
          wake?.();
          break;
        case 'done':
          done = true;
          counters.rows += m.counters.rows;
          counters.impactExceedsTotal += m.counters.impactExceedsTotal;
          counters.emptySegmentId += m.counters.emptySegmentId;
          finished++;
          wake?.();
          break;
        case 'failed':
          fail(m.contract ? new Stage2ContractError(m.message) : new Error(m.message));
          break;
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      fail(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new Stage2ContractError(
              `decoding a row group of the Stage2 output needed more than the ${heapMb} MB planned for ` +
                `${largest.rows} rows; write it with smaller Parquet row groups (parquet.block.size)`,
            )
          : err,
      );
    });
    worker.on('exit', (code: number) => {
      if (!done) fail(new Error(`a Parquet decoder thread stopped (exit code ${code})`));
    });
    return worker;
  });
  const onAbort = () => fail(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });

  return {
    ready,
    rows: () => rows,
    counters: () => {
      if (finished < workers.length) throw new Error('the decoder has not finished');
      return counters;
    },
    async *tuples() {
      for (const w of workers) w.postMessage({ type: 'start' } satisfies ToDecoder);
      for (;;) {
        if (failure) throw failure;
        const next = queue.shift();
        if (next) {
          yield next.tuples;
          next.from.postMessage({ type: 'consumed' } satisfies ToDecoder);
          continue;
        }
        if (finished === workers.length) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async close() {
      signal.removeEventListener('abort', onAbort);
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
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
/** Encoded batches in flight between the decoder thread and COPY. */
const DECODER_WINDOW = 4;
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
    // Every footer is read and checked here, before anything is written.
    const files: DecoderInput['files'] = [];
    for (const object of listing.data) {
      try {
        const opened = await openStage2File(`s3://${bucket}/${object.key}`, {
          byteLength: object.size,
          slice: (start, end = object.size) => readRange(s3, bucket, object.key, start, end, signal),
        });
        files.push({ ...object, metadata: opened.metadata });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw asLoadFailure(err, where);
      }
    }
    const decoder = startDecoder(
      s3,
      {
        bucket,
        files,
        batchDate,
        day: epochDay(batchDate),
        batchRows: COPY_BATCH_ROWS,
        window: DECODER_WINDOW,
      },
      DECODER_THREADS,
      signal,
    );
    try {
      return await loadWithDecoder(decoder);
    } finally {
      await decoder.close();
    }

    async function loadWithDecoder(decoder: DecoderSession): Promise<LoadResult> {
      let totalRows: number;
      try {
        totalRows = await decoder.ready;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw asLoadFailure(err, where);
      }
      log.info('loading Stage2 output', {
        batchDate,
        source: where,
        files: listing.data.length,
        rows: totalRows,
      });

      // 2. Rebuild the day's partition in one transaction.
      const previous = await previousLoadedDate(pool, batchDate);
      // Where the time goes, for the log: open = listing, decoder start and every footer checked.
      const phaseSeconds: Record<string, number> = { open: (Date.now() - started) / 1000 };
      let phase = 'copy';
      let phaseStarted = Date.now();
      const enterPhase = (next: string) => {
        // A cancellation between statements must not let the next one (or COMMIT) run.
        if (signal.aborted) throw signal.reason;
        phaseSeconds[phase] = (Date.now() - phaseStarted) / 1000;
        phase = next;
        phaseStarted = Date.now();
      };
      const heartbeat = () => ctx.heartbeat({ phase, rows: decoder.rows(), of: totalRows });
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
        // The whole day carries one date: a column default saves sending and parsing it per row.
        await client.query(`ALTER TABLE ${stage} ALTER COLUMN date SET DEFAULT DATE '${batchDate}'`);

        async function* copyData(): AsyncGenerator<Buffer> {
          yield COPY_BINARY_HEADER;
          let reported = 0;
          for await (const tuples of decoder.tuples()) {
            yield tuples;
            if (decoder.rows() - reported >= 100_000) {
              reported = decoder.rows();
              heartbeat();
            }
          }
          yield COPY_BINARY_TRAILER;
        }
        // FREEZE: the table is new in this transaction, so rows are written once, already frozen (and
        // WAL-free where wal_level allows), never rewritten later for hint bits or anti-wraparound.
        await pipeline(
          Readable.from(copyData(), { objectMode: false, highWaterMark: 256 * 1024 }),
          client.query(
            copyFrom(
              `COPY ${stage} (s_id, centroid_lon, centroid_lat, impact_count, total_count)
               FROM STDIN WITH (FORMAT binary, FREEZE)`,
            ),
          ),
        );
        await client.query(`ALTER TABLE ${stage} ALTER COLUMN date DROP DEFAULT`);

        enterPhase('index');
        heartbeat();
        for (const [suffix, sql] of partitionIndexes(stage)) {
          if (signal.aborted) throw signal.reason;
          await client.query(sql.replace('$name', `${stage}_${suffix}`));
        }

        enterPhase('swap');
        heartbeat();
        await swapPartition(client, stage, batchDate);
        if (signal.aborted) throw signal.reason;
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
      const counters = decoder.counters();
      const quality = qualityFindings(counters, previous);
      enterPhase('geocode');
      const loadedSeconds = (Date.now() - started) / 1000;
      log.info('Stage2 output loaded', {
        batchDate,
        rows: counters.rows,
        seconds: loadedSeconds,
        phaseSeconds,
        warnings: quality.warnings,
      });

      // 3. Reverse geocoding is best effort and outside the data transaction.
      const geocoded = await geocodeMissingSegments(
        { ...deps.geocode, pool, config: config.kakao, fetch: deps.fetch, signal, heartbeat },
        batchDate,
      );

      return {
        batchDate,
        rowsLoaded: counters.rows,
        files: listing.data.length,
        seconds: (Date.now() - started) / 1000,
        quality,
        geocoded: geocoded.geocoded,
      };
    }
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
