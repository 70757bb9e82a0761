/**
 * Reverse geocoding of new segments through the Kakao Local API (coord2address), into segment_address.
 * Best effort: a segment that cannot be geocoded is left for the next run and never fails the load.
 */
import { log } from '@temporalio/activity';
import type pg from 'pg';
import type { KakaoConfig, Secret } from '../config';

export interface SegmentAddress {
  roadName: string | null;
  district: string | null;
}

interface KakaoRegion {
  road_name?: string;
  region_2depth_name?: string;
  region_3depth_name?: string;
}

/**
 * The original's field rule: the road address's road_name and region_2depth_name, else the lot
 * address's region_3depth_name and region_2depth_name. Null when Kakao knows no address there.
 */
export function addressFromKakao(body: unknown): SegmentAddress | null {
  const doc = (body as { documents?: { road_address?: KakaoRegion | null; address?: KakaoRegion | null }[] })
    ?.documents?.[0];
  if (!doc) return null;
  const nonEmpty = (v: string | undefined) => (v && v.trim() !== '' ? v.trim() : null);
  const road = doc.road_address;
  if (road && nonEmpty(road.road_name)) {
    return {
      roadName: nonEmpty(road.road_name),
      district: nonEmpty(road.region_2depth_name) ?? nonEmpty(doc.address?.region_2depth_name),
    };
  }
  const lot = doc.address;
  if (lot) return { roadName: nonEmpty(lot.region_3depth_name), district: nonEmpty(lot.region_2depth_name) };
  return null;
}

/** The Kakao Local API's address lookup for a point (coord2address, WGS84). */
export function coord2addressUrl(config: KakaoConfig, lon: number, lat: number): string {
  const base = config.KAKAO_API_URL.replace(/\/+$/, '');
  return `${base}/v2/local/geo/coord2address.json?x=${lon}&y=${lat}&input_coord=WGS84`;
}

/** The REST API key goes in this header, and nowhere else. */
export const kakaoHeaders = (apiKey: Secret) => ({ Authorization: `KakaoAK ${apiKey.reveal()}` });

/** Why a request failed and whether another attempt can help. */
class KakaoError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface GeocodeDeps {
  pool: pg.Pool;
  config: KakaoConfig;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  heartbeat?: () => void;
  /** Attempts per segment (first try included). */
  attempts?: number;
  /** Base of the exponential backoff between attempts. */
  backoffMs?: number;
  /** Most segments geocoded in one run: Kakao's daily quota is shared, the rest follow the next night. */
  maxSegments?: number;
}

export interface GeocodeResult {
  skipped: boolean;
  candidates: number;
  geocoded: number;
  failed: number;
  noAddress: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export async function geocodeMissingSegments(deps: GeocodeDeps, batchDate: string): Promise<GeocodeResult> {
  const { pool, config, signal } = deps;
  const result: GeocodeResult = { skipped: false, candidates: 0, geocoded: 0, failed: 0, noAddress: 0 };
  if (!config.KAKAO_REST_API_KEY) {
    log.info('reverse geocoding skipped: KAKAO_REST_API_KEY is not set', { batchDate });
    return { ...result, skipped: true };
  }
  const apiKey = config.KAKAO_REST_API_KEY;
  const doFetch = deps.fetch ?? fetch;
  const attempts = deps.attempts ?? 5;
  const backoffMs = deps.backoffMs ?? 500;
  const { rows } = await pool.query<{ s_id: string; lon: number; lat: number }>(
    `SELECT p.s_id, p.centroid_lon AS lon, p.centroid_lat AS lat
       FROM pothole_segments p
       LEFT JOIN segment_address a ON a.s_id = p.s_id
      WHERE p.date = $1 AND a.s_id IS NULL AND p.centroid_lon IS NOT NULL AND p.centroid_lat IS NOT NULL
      ORDER BY p.impact_count DESC, p.s_id
      LIMIT $2`,
    [batchDate, deps.maxSegments ?? 20_000],
  );
  result.candidates = rows.length;
  if (rows.length === 0) return result;

  async function lookup(lon: number, lat: number): Promise<SegmentAddress | null> {
    let res: Response;
    try {
      res = await doFetch(coord2addressUrl(config, lon, lat), {
        headers: kakaoHeaders(apiKey),
        signal: AbortSignal.any([AbortSignal.timeout(10_000), ...(signal ? [signal] : [])]),
      });
    } catch (err) {
      throw new KakaoError(`request failed: ${(err as Error).message}`, true);
    }
    if (res.status === 429 || res.status >= 500) {
      const retryAfter = Number(res.headers.get('retry-after'));
      await res.body?.cancel();
      throw new KakaoError(
        `HTTP ${res.status}`,
        true,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      );
    }
    if (!res.ok) {
      const text = (await res.text()).slice(0, 200);
      throw new KakaoError(`HTTP ${res.status}: ${text}`, false);
    }
    return addressFromKakao(await res.json());
  }

  async function geocodeOne(seg: { s_id: string; lon: number; lat: number }): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const address = await lookup(seg.lon, seg.lat);
        if (!address) {
          result.noAddress++;
          return;
        }
        await pool.query(
          `INSERT INTO segment_address (s_id, road_name, district, centroid_lon, centroid_lat, updated_at)
           VALUES ($1, left($2, 200), left($3, 100), $4, $5, now())
           ON CONFLICT (s_id) DO NOTHING`,
          [seg.s_id, address.roadName, address.district, seg.lon, seg.lat],
        );
        result.geocoded++;
        return;
      } catch (err) {
        const retryable = err instanceof KakaoError && err.retryable;
        if (!retryable || attempt >= attempts || signal?.aborted) {
          result.failed++;
          if (result.failed <= 5) {
            log.warn('reverse geocoding of a segment failed', {
              s_id: seg.s_id,
              error: (err as Error).message,
            });
          }
          return;
        }
        const delay =
          (err as KakaoError).retryAfterMs ?? backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random());
        await sleep(Math.min(delay, 30_000), signal);
      }
    }
  }

  // Bounded concurrency: a fixed number of workers pulling from one queue.
  let nextIndex = 0;
  const workers = Array.from({ length: Math.min(config.KAKAO_CONCURRENCY, rows.length) }, async () => {
    while (!signal?.aborted) {
      const seg = rows[nextIndex++];
      if (!seg) return;
      await geocodeOne(seg);
      deps.heartbeat?.();
    }
  });
  await Promise.all(workers);
  log.info('reverse geocoding done', { batchDate, ...result });
  if (signal?.aborted) throw signal.reason;
  return result;
}
