/**
 * The public data portal's pothole-complaint API (minPotholeLatLonInfo): one page of complaints of a date
 * window, with bounded retries of what another attempt can fix (HTTP 5xx and 429, network errors, the
 * portal's transient result codes), and at-once failure of what it cannot (a refused key, a wrong URL).
 *
 * The service key is a secret: it only ever travels in the request's query string, and every message this
 * module produces names the endpoint without its query and has the key scrubbed out.
 */
import type { Secret } from '../config';
import { addDays, validateBatchDate } from '../shared/steps';
import { sleep } from './activity-support';

/** The API answers at most this many days per query. */
const MAX_WINDOW_DAYS = 15;

export interface DateWindow {
  from: string;
  to: string;
}

/** from..to (inclusive, YYYY-MM-DD) cut into consecutive windows of at most `maxDays` days. */
export function complaintWindows(from: string, to: string, maxDays = MAX_WINDOW_DAYS): DateWindow[] {
  const out: DateWindow[] = [];
  for (let start = from; start <= to; start = addDays(start, maxDays)) {
    const end = addDays(start, maxDays - 1);
    out.push({ from: start, to: end < to ? end : to });
  }
  return out;
}

export interface Complaint {
  /** YYYY-MM-DD */
  createDate: string;
  lat: number;
  lon: number;
}

/**
 * The date of create_dt as YYYY-MM-DD. Accepts 20260212, 2026-02-12, 2026.02.12 or 2026/02/12, with or
 * without a time after it; undefined for anything else or a date that does not exist.
 */
export function complaintDate(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const m = /^(\d{4})[-./]?(\d{2})[-./]?(\d{2})(?:$|[ T]\d)/.exec(String(value).trim());
  if (!m) return undefined;
  const date = validateBatchDate(`${m[1]}-${m[2]}-${m[3]}`);
  return typeof date === 'string' ? date : undefined;
}

function coordinate(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : undefined;
}

const shown = (value: unknown) => {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

/** One item of the API as a complaint, or what is wrong with it. */
export function parseComplaint(item: unknown): Complaint | { error: string } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { error: `not an object: ${shown(item)}` };
  }
  const { create_dt, event_lat, event_lon } = item as Record<string, unknown>;
  const createDate = complaintDate(create_dt);
  if (!createDate) return { error: `create_dt ${shown(create_dt)} is not a date` };
  const lat = coordinate(event_lat);
  if (lat === undefined || lat < -90 || lat > 90) {
    return { error: `event_lat ${shown(event_lat)} is not a latitude` };
  }
  const lon = coordinate(event_lon);
  if (lon === undefined || lon < -180 || lon > 180) {
    return { error: `event_lon ${shown(event_lon)} is not a longitude` };
  }
  // 0,0 is how a missing position is written, not a complaint in the Gulf of Guinea.
  if (lat === 0 && lon === 0) return { error: 'event_lat and event_lon are both 0 (no position)' };
  return { createDate, lat, lon };
}

/** What the portal said went wrong, and whether another attempt can help. */
export class ComplaintsApiError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The server's Retry-After, when it sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ComplaintsApiError';
  }
}

/** The portal's result codes no retry can fix: a request or a key it will keep refusing. */
const PERMANENT_CODES: Record<string, string> = {
  '10': 'invalid request parameter',
  '11': 'a mandatory request parameter is missing',
  '12': 'no such OpenAPI service: check COMPLAINTS_API_URL',
  '20': 'access denied: the key is not approved for this API',
  '21': 'the service key is temporarily disabled',
  '22': "the key's daily request limit is exceeded",
  '30': 'the service key is not registered: check COMPLAINTS_API_KEY',
  '31': 'the service key has expired',
  '32': 'this IP address is not registered for the key',
  '33': 'unsigned call',
};
/** "Normal service" as the portal's editions write it. */
const OK_CODES = new Set(['00', '0', '000', '200']);
/** NODATA_ERROR: nothing in the window, which is an empty page. */
const NO_DATA = '03';

function portalError(code: string, message: string): ComplaintsApiError {
  const known = PERMANENT_CODES[code];
  return new ComplaintsApiError(
    `the portal answered result code ${code}${message ? ` (${message})` : ''}${known ? `: ${known}` : ''}`,
    !known,
  );
}

export interface ComplaintPage {
  items: unknown[];
  totalCount?: number;
}

/** An `items` value as a list: { item: [...] }, { item: {...} }, a plain array (of items or of { item }), or empty. */
function itemList(items: unknown): unknown[] {
  if (items === undefined || items === null || items === '') return [];
  const unwrap = (x: unknown) =>
    typeof x === 'object' && x !== null && !Array.isArray(x) && 'item' in x
      ? (x as { item: unknown }).item
      : x;
  const list = Array.isArray(items) ? items.map(unwrap) : unwrap(items);
  if (list === undefined || list === null || list === '') return [];
  return Array.isArray(list) ? list : [list];
}

/**
 * A decoded JSON answer as a page: the body under `response.body` or `body`, the header under either too. A
 * header with an error code throws (NODATA is an empty page).
 */
export function readPage(json: unknown): ComplaintPage {
  const top = (json ?? {}) as Record<string, unknown>;
  const root = (typeof top.response === 'object' && top.response !== null ? top.response : top) as Record<
    string,
    unknown
  >;
  const header = (root.header ?? top.header) as { resultCode?: unknown; resultMsg?: unknown } | undefined;
  const code = header?.resultCode === undefined ? undefined : String(header.resultCode).trim();
  if (code === NO_DATA) return { items: [], totalCount: 0 };
  if (code !== undefined && !OK_CODES.has(code)) {
    throw portalError(code, String(header?.resultMsg ?? '').slice(0, 200));
  }
  const body = (root.body ?? top.body) as Record<string, unknown> | undefined;
  if (typeof body !== 'object' || body === null) {
    throw new ComplaintsApiError('the answer has no body (neither response.body nor body)', true);
  }
  const total = Number(body.totalCount);
  return {
    items: itemList(body.items),
    totalCount: body.totalCount !== undefined && Number.isFinite(total) ? total : undefined,
  };
}

/** The data.go.kr gateway answers some errors in XML whatever `type` asked for. */
function gatewayError(text: string): ComplaintsApiError | undefined {
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1]?.trim();
  const code = tag('returnReasonCode') ?? tag('resultCode');
  if (!code) return undefined;
  return portalError(code, tag('returnAuthMsg') ?? tag('resultMsg') ?? tag('errMsg') ?? '');
}

export interface ComplaintsApiOptions {
  url: string;
  key: Secret;
  fetch?: typeof fetch;
  /** Attempts per page, the first included. */
  attempts?: number;
  /** Base of the exponential backoff between attempts. */
  backoffMs?: number;
  /** Per-request time limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ComplaintsApi {
  /** The endpoint without query string, for messages. */
  endpoint: string;
  page(window: DateWindow, pageNo: number, numOfRows: number): Promise<ComplaintPage>;
}

export function createComplaintsApi(options: ComplaintsApiOptions): ComplaintsApi {
  const doFetch = options.fetch ?? fetch;
  const attempts = options.attempts ?? 4;
  const backoffMs = options.backoffMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const base = new URL(options.url);
  const endpoint = `${base.origin}${base.pathname}`;
  const raw = options.key.reveal();
  // data.go.kr hands out the key twice, percent-encoded and plain; the query string encodes it once.
  const key = /%[0-9a-f]{2}/i.test(raw) ? safeDecode(raw) : raw;
  const scrub = (text: string) =>
    [raw, key, encodeURIComponent(key), new URLSearchParams({ k: key }).toString().slice(2)]
      .filter((s) => s.length > 0)
      .reduce((t, s) => t.split(s).join('***'), text);
  const yyyymmdd = (date: string) => date.replaceAll('-', '');

  async function once(window: DateWindow, pageNo: number, numOfRows: number): Promise<ComplaintPage> {
    const url = new URL(base);
    url.search = new URLSearchParams({
      ...Object.fromEntries(base.searchParams),
      serviceKey: key,
      dateFrom: yyyymmdd(window.from),
      dateTo: yyyymmdd(window.to),
      pageNo: String(pageNo),
      numOfRows: String(numOfRows),
      type: 'json',
    }).toString();
    let res: Response;
    try {
      const timeout = AbortSignal.timeout(timeoutMs);
      res = await doFetch(url, {
        headers: { accept: 'application/json' },
        signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
      });
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const detail = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new ComplaintsApiError(`request failed: ${e.message}${detail ? ` (${detail})` : ''}`, true);
    }
    const text = (await res.text().catch(() => '')).trim();
    const excerpt = text.replace(/\s+/g, ' ').slice(0, 200);
    if (res.status === 401 || res.status === 403) {
      throw new ComplaintsApiError(
        `the portal refused the service key (HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}): ` +
          'check COMPLAINTS_API_KEY and that it is approved for this API',
        false,
      );
    }
    if (res.status === 429 || res.status >= 500) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new ComplaintsApiError(
        `HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}`,
        true,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      );
    }
    if (!res.ok) {
      throw (
        gatewayError(text) ??
        new ComplaintsApiError(
          `HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''} (check COMPLAINTS_API_URL)`,
          false,
        )
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw gatewayError(text) ?? new ComplaintsApiError(`the answer is not JSON: ${excerpt}`, true);
    }
    return readPage(json);
  }

  return {
    endpoint,
    async page(window, pageNo, numOfRows) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(window, pageNo, numOfRows);
        } catch (err) {
          if (!(err instanceof ComplaintsApiError)) throw err;
          const retry = err.retryable && attempt < attempts && !options.signal?.aborted;
          if (!retry) {
            const tries = attempt > 1 ? ` after ${attempt} attempts` : '';
            throw new ComplaintsApiError(
              scrub(
                `minPotholeLatLonInfo ${endpoint} ${window.from}..${window.to} page ${pageNo}${tries}: ${err.message}`,
              ),
              err.retryable,
            );
          }
          const delay = err.retryAfterMs ?? backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random());
          await sleep(Math.min(delay, 30_000), options.signal);
        }
      }
    },
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
