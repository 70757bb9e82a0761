/**
 * load_complaints: citizens' pothole complaints from the public data portal into pothole_complaints, each on
 * its nearest road segment, so the repair priority weighs them (50 sensor impacts each). Also behind
 * `pothole complaints load`.
 *
 * A range is queried in windows of at most 15 days (the API's limit), every page of each. Items without a
 * usable date or position are counted and shown, never fatal; complaints off the network (no segment centroid
 * within COMPLAINTS_MAX_DISTANCE_M) are counted and not stored; a complaint already stored (same date and
 * position) is not stored again.
 */
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { ConfigError, type ComplaintsConfig, type Secret } from '../config';
import { validateBatchDate } from '../shared/steps';
import type { ComplaintWindow, LoadComplaintsInput, LoadComplaintsResult } from '../shared/types';
import { ComplaintsApiError, complaintWindows, createComplaintsApi, parseComplaint } from './complaints-api';
import {
  readSegmentPositions,
  SegmentIndex,
  storeComplaints,
  type MatchedComplaint,
} from './complaints-match';

/** Rows asked per page. */
const PAGE_SIZE = 1000;
/** A window with more pages than this is a server that never stops answering. */
const MAX_PAGES_PER_WINDOW = 1000;
const MALFORMED_EXAMPLES = 5;

export interface ComplaintsLoadDeps {
  pool: pg.Pool;
  config: ComplaintsConfig;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Called after every page. */
  progress?: (window: ComplaintWindow) => void;
  pageSize?: number;
  /** Attempts per page, and the backoff base between them. */
  attempts?: number;
  backoffMs?: number;
}

/** The service key, or a configuration error naming the setting. */
export function complaintsApiKey(config: ComplaintsConfig): Secret {
  if (!config.COMPLAINTS_API_KEY) {
    throw new ConfigError(['COMPLAINTS_API_KEY is required to load complaints (a data.go.kr service key)']);
  }
  return config.COMPLAINTS_API_KEY;
}

/** The complaints created from..to (YYYY-MM-DD, inclusive), loaded and counted. */
export async function loadComplaints(
  deps: ComplaintsLoadDeps,
  range: { from: string; to: string },
): Promise<LoadComplaintsResult> {
  const { pool, config } = deps;
  const started = Date.now();
  const pageSize = deps.pageSize ?? PAGE_SIZE;
  const api = createComplaintsApi({
    url: config.COMPLAINTS_API_URL,
    key: complaintsApiKey(config),
    fetch: deps.fetch,
    signal: deps.signal,
    attempts: deps.attempts,
    backoffMs: deps.backoffMs,
  });
  const segments = SegmentIndex.build(await readSegmentPositions(pool));
  const result: LoadComplaintsResult = {
    from: range.from,
    to: range.to,
    fetched: 0,
    loaded: 0,
    alreadyPresent: 0,
    unmatched: 0,
    malformed: 0,
    windows: [],
    segments: segments.size,
    malformedExamples: [],
    seconds: 0,
  };

  for (const window of complaintWindows(range.from, range.to)) {
    const counts: ComplaintWindow = {
      ...window,
      pages: 0,
      fetched: 0,
      loaded: 0,
      alreadyPresent: 0,
      unmatched: 0,
      malformed: 0,
    };
    result.windows.push(counts);
    for (let pageNo = 1; ; pageNo++) {
      const page = await api.page(window, pageNo, pageSize);
      counts.pages++;
      const matched: MatchedComplaint[] = [];
      page.items.forEach((item, i) => {
        counts.fetched++;
        const complaint = parseComplaint(item);
        if ('error' in complaint) {
          counts.malformed++;
          if (result.malformedExamples.length < MALFORMED_EXAMPLES) {
            result.malformedExamples.push(
              `${window.from}..${window.to} page ${pageNo} item ${i + 1}: ${complaint.error}`,
            );
          }
          return;
        }
        const near = segments.nearest(complaint.lon, complaint.lat, config.COMPLAINTS_MAX_DISTANCE_M);
        if (near) matched.push({ ...complaint, ...near });
        else counts.unmatched++;
      });
      const stored = await storeComplaints(pool, matched);
      counts.loaded += stored;
      counts.alreadyPresent += matched.length - stored;
      deps.progress?.(counts);

      const last =
        page.items.length === 0 ||
        (page.totalCount !== undefined ? counts.fetched >= page.totalCount : page.items.length < pageSize);
      if (last) break;
      if (pageNo >= MAX_PAGES_PER_WINDOW) {
        throw new ComplaintsApiError(
          `${window.from}..${window.to}: still answering after ${pageNo} pages of ${pageSize} ` +
            `(${counts.fetched} of totalCount ${page.totalCount ?? 'unknown'}); stopped`,
          false,
        );
      }
    }
    for (const k of ['fetched', 'loaded', 'alreadyPresent', 'unmatched', 'malformed'] as const) {
      result[k] += counts[k];
    }
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

function checkedRange(input: LoadComplaintsInput): { from: string; to: string } {
  const from = validateBatchDate(input.from);
  const to = validateBatchDate(input.to);
  const problem =
    typeof from !== 'string'
      ? `from: ${from.error}`
      : typeof to !== 'string'
        ? `to: ${to.error}`
        : from > to
          ? `from ${from} is after to ${to}`
          : undefined;
  if (problem) throw ApplicationFailure.nonRetryable(`load_complaints ${problem}`, 'InvalidInput');
  return { from: from as string, to: to as string };
}

export function createComplaintActivities(deps: { pool: pg.Pool; config: { complaints: ComplaintsConfig } }) {
  async function load_complaints(input: LoadComplaintsInput): Promise<LoadComplaintsResult> {
    const range = checkedRange(input);
    const ctx = Context.current();
    try {
      const result = await loadComplaints(
        {
          pool: deps.pool,
          config: deps.config.complaints,
          signal: ctx.cancellationSignal,
          progress: (w) =>
            ctx.heartbeat({ window: `${w.from}..${w.to}`, pages: w.pages, fetched: w.fetched }),
        },
        range,
      );
      const { windows: _, malformedExamples, ...totals } = result;
      log.info('complaints loaded', { batchDate: input.batchDate, ...totals });
      if (malformedExamples.length) log.warn('malformed complaints skipped', { examples: malformedExamples });
      return result;
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      if (err instanceof ConfigError) {
        throw ApplicationFailure.nonRetryable(err.problems.join('; '), 'BadConfiguration');
      }
      if (err instanceof ComplaintsApiError) {
        throw err.retryable
          ? ApplicationFailure.retryable(err.message, 'ComplaintsApiUnavailable')
          : ApplicationFailure.nonRetryable(err.message, 'ComplaintsApiError');
      }
      throw err;
    }
  }
  return { load_complaints };
}
