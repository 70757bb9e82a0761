/**
 * load_to_rdb: Stage2 Parquet in S3 → pothole_segments in PostgreSQL.
 *
 * The day's partition (pothole_segments is partitioned by day) is rebuilt, not edited, in ONE transaction:
 *   1. every file's footer and offset indexes are read and checked against the Stage2 contract before
 *      anything is written (decoder-session.ts);
 *   2. a decoder thread with a capped heap decodes the pages a window at a time through ranged S3 GETs
 *      (slices.ts) and encodes COPY BINARY tuples, which stream into a fresh table for the day;
 *   3. the dashboards' indexes are built on it in bulk (s_id compares byte-wise, so they sort fast);
 *   4. the fresh table replaces the day's partition (partition.ts).
 * So a rerun leaves exactly the new output for that date, other dates are never touched, a new month
 * needs no hand-made partition, and a failure or cancellation at any point rolls back to the previous
 * state. Deleting and re-inserting a day inside a monthly partition pays for five index insertions per
 * row instead; see bench/load.ts for the comparison with a psql \copy floor.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  DEFAULT_LOAD_MAINTENANCE_WORK_MEM,
  type KakaoConfig,
  type PostgresConfig,
  type S3Config,
} from '../../config';
import { CancellableWork } from '../../db/pool';
import { validateBatchDate } from '../../shared/steps';
import type { LoadResult, QualityFindings, StepInput } from '../../shared/types';
import { geocodeMissingSegments } from '../geocode';
import {
  COPY_BINARY_HEADER,
  COPY_BINARY_TRAILER,
  epochDay,
  Stage2ContractError,
  type RowCounters,
} from './contract';
import { openDecoderFile, startDecoder, type DecoderFile, type DecoderSession } from './decoder-session';
import {
  buildIndexes,
  createStageTable,
  previousLoadedDate,
  swapPartition,
  waitForDateLock,
} from './partition';
import { listStage2Objects } from './s3-source';

export { nextDay, partitionName } from './partition';

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

// ---- the activity ---------------------------------------------------------------------------------------

export interface LoadDeps {
  s3: S3Client;
  pool: pg.Pool;
  /** postgres: the index builds' maintenance_work_mem (POSTGRES_LOAD_MAINTENANCE_WORK_MEM). */
  config: { s3: S3Config; kakao: KakaoConfig; postgres?: Pick<PostgresConfig, 'loadMaintenanceWorkMem'> };
  /** For tests: the fetch used to call Kakao. */
  fetch?: typeof fetch;
  /** Retry tuning of the reverse geocoding (defaults suit the real API). */
  geocode?: { attempts?: number; backoffMs?: number; maxSegments?: number };
}

/** Rows per buffer handed to COPY: big enough to amortise stream overhead, small enough to stay light. */
const COPY_BATCH_ROWS = 4_096;
/** Encoded batches in flight between the decoder thread and COPY. */
const DECODER_WINDOW = 4;
const STAGE2_TYPE = 'Stage2ContractError';

export function createLoadActivities(deps: LoadDeps) {
  const { s3, pool, config } = deps;
  const maintenanceWorkMem = config.postgres?.loadMaintenanceWorkMem ?? DEFAULT_LOAD_MAINTENANCE_WORK_MEM;

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
    const files: DecoderFile[] = [];
    for (const object of listing.data) {
      try {
        files.push(await openDecoderFile(s3, bucket, object, signal));
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
      // A cancellation stops whatever statement is running; the transaction then rolls back.
      const work = new CancellableWork(pool, signal);
      const client = await work.connect();
      let clientBroken = false;
      try {
        await client.query('BEGIN');
        await waitForDateLock(client, batchDate, signal, heartbeat);
        await client.query(`SET LOCAL maintenance_work_mem = '${maintenanceWorkMem}'`);
        const stage = await createStageTable(client, batchDate);
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
        await buildIndexes(client, stage, signal);

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
        work.dispose();
        await work.release(client, clientBroken);
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
