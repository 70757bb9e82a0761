/**
 * What the pipeline would have loaded, written straight into a (throwaway) serving database for the dashboard's
 * tests and benchmark: addresses, road grades, a week of daily rows per segment, complaints, then the three views
 * refreshed. Counts come from a hash of segment and day, so every run sees the same data; "hot" segments (the
 * demo's potholes) get many impacts and complaints and so top the repair-priority list.
 */
import type pg from 'pg';
import { publishDashboardViews } from '../../src/db/dashboard-views';
import { buildRoadNetwork } from '../../src/demo/roads';
import { ensureDayPartition } from '../integration/activities/serving-support';

export interface SeedSegment {
  s_id: string;
  road_name: string;
  district: string;
  lon: number;
  lat: number;
}

export interface SeedOptions {
  /** The latest day (the dashboard's "today"). */
  latest: string;
  /** Days loaded up to and including `latest`. */
  days?: number;
  /** Segments with many impacts and complaints. */
  hot?: string[];
}

export const dayBefore = (date: string, days = 1): string => {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
};

/** The demo's road network (Teheran-ro and Gangnam-daero in ~50 m segments), in 강남구 as the demo seeds it. */
export function demoSegments(): SeedSegment[] {
  return buildRoadNetwork().map((s) => ({
    s_id: s.s_id,
    road_name: s.road,
    district: '강남구',
    lon: s.centroid_lon,
    lat: s.centroid_lat,
  }));
}

const DISTRICTS = [
  '강남구',
  '서초구',
  '송파구',
  '마포구',
  '종로구',
  '중구',
  '용산구',
  '성동구',
  '영등포구',
  '강서구',
];
const ROAD_NAMES = [
  '테헤란로',
  '강남대로',
  '올림픽대로',
  '세종대로',
  '을지로',
  '한강대로',
  '도산대로',
  '남부순환로',
];

/** `count` segments on a grid over Seoul (about 25 km × 20 km), for load tests. */
export function syntheticSegments(count: number): SeedSegment[] {
  const perRow = Math.ceil(Math.sqrt(count * 1.25));
  return Array.from({ length: count }, (_, i) => ({
    s_id: `SEG_${String(i + 1).padStart(6, '0')}`,
    road_name: `${ROAD_NAMES[i % ROAD_NAMES.length]} ${Math.floor(i / ROAD_NAMES.length) + 1}`,
    district: DISTRICTS[Math.floor(i / perRow) % DISTRICTS.length]!,
    lon: 126.85 + (i % perRow) * (0.28 / perRow),
    lat: 37.45 + Math.floor(i / perRow) * (0.18 / (count / perRow)),
  }));
}

export async function seedDashboardData(
  pool: pg.Pool,
  segments: SeedSegment[],
  options: SeedOptions,
): Promise<void> {
  const days = options.days ?? 7;
  const hot = options.hot ?? [];
  const dates = Array.from({ length: days }, (_, i) => dayBefore(options.latest, days - 1 - i));
  for (const date of dates) await ensureDayPartition(pool, date);
  const col = <K extends keyof SeedSegment>(k: K) => segments.map((s) => s[k]);
  await pool.query(
    `INSERT INTO segment_address (s_id, road_name, district, centroid_lon, centroid_lat)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[])
     ON CONFLICT (s_id) DO NOTHING`,
    [col('s_id'), col('road_name'), col('district'), col('lon'), col('lat')],
  );
  // Four in five segments have a known grade (1 to 5); the rest score as grade 3.
  await pool.query(
    `INSERT INTO segment_road_grade (s_id, road_grade)
     SELECT s_id, 1 + abs(hashtext(s_id)) % 5 FROM segment_address WHERE abs(hashtext(s_id || 'g')) % 5 > 0
     ON CONFLICT (s_id) DO NOTHING`,
  );
  await pool.query(
    `INSERT INTO pothole_segments (s_id, date, centroid_lon, centroid_lat, total_count, impact_count)
     SELECT a.s_id, d::date, a.centroid_lon, a.centroid_lat,
            40 + abs(hashtext(a.s_id || d::text)) % 400,
            CASE WHEN a.s_id = ANY($2::text[]) THEN 20 + abs(hashtext(d::text || a.s_id)) % 20
                 ELSE abs(hashtext(d::text || a.s_id)) % 7 END
       FROM segment_address a, unnest($1::date[]) d
      WHERE a.s_id = ANY($3::text[])`,
    [dates, hot, col('s_id')],
  );
  // Citizens' complaints: three by each hot segment, one by every 40th other segment.
  await pool.query(
    `INSERT INTO pothole_complaints (create_dt, event_lat, event_lon, nearest_s_id, distance_m)
     SELECT $1::date - n, a.centroid_lat, a.centroid_lon, a.s_id, 5
       FROM segment_address a, generate_series(0, 2) n
      WHERE a.s_id = ANY($3::text[])
        AND (a.s_id = ANY($2::text[]) OR (n = 0 AND abs(hashtext(a.s_id || 'c')) % 40 = 0))
     ON CONFLICT DO NOTHING`,
    [options.latest, hot, col('s_id')],
  );
  await publishDashboardViews(pool);
  // Done now rather than by autovacuum in the middle of a measurement.
  await pool.query('VACUUM ANALYZE');
}
