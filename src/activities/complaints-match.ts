/**
 * Complaints on the road network: each complaint goes to the nearest road-segment centroid within a
 * distance (great-circle, through a geodesic k-d tree index), and is stored once.
 */
import KDBush from 'kdbush';
import { around, distance } from 'geokdbush';
import type pg from 'pg';
import type { Complaint } from './complaints-api';

export interface SegmentPosition {
  sId: string;
  lon: number;
  lat: number;
}

export interface MatchedComplaint extends Complaint {
  sId: string;
  distanceM: number;
}

/** Segment centroids, indexed for nearest-neighbour queries on the sphere. */
export class SegmentIndex {
  private constructor(
    private readonly segments: SegmentPosition[],
    private readonly index: KDBush | undefined,
  ) {}

  static build(segments: SegmentPosition[]): SegmentIndex {
    if (segments.length === 0) return new SegmentIndex(segments, undefined);
    const index = new KDBush(segments.length);
    for (const s of segments) index.add(s.lon, s.lat);
    index.finish();
    return new SegmentIndex(segments, index);
  }

  get size(): number {
    return this.segments.length;
  }

  /** The nearest segment within `maxDistanceM` metres, or undefined when there is none. */
  nearest(lon: number, lat: number, maxDistanceM: number): { sId: string; distanceM: number } | undefined {
    if (!this.index) return undefined;
    const [id] = around(this.index, lon, lat, 1, maxDistanceM / 1000);
    const segment = id === undefined ? undefined : this.segments[id];
    if (!segment) return undefined;
    return { sId: segment.sId, distanceM: distance(lon, lat, segment.lon, segment.lat) * 1000 };
  }
}

/**
 * Every segment Stage2 has placed (pothole_segments carries each segment's centroid on every day it was
 * loaded): the latest centroid of each. segment_address holds centroids too, but only of the segments the
 * reverse geocoding reached.
 */
export async function readSegmentPositions(pool: pg.Pool): Promise<SegmentPosition[]> {
  const { rows } = await pool.query<{ s_id: string; lon: number; lat: number }>(
    `SELECT DISTINCT ON (s_id) s_id, centroid_lon AS lon, centroid_lat AS lat
       FROM pothole_segments
      WHERE centroid_lon IS NOT NULL AND centroid_lat IS NOT NULL
      ORDER BY s_id, date DESC`,
  );
  return rows.map((r) => ({ sId: r.s_id, lon: r.lon, lat: r.lat }));
}

/**
 * Stores the complaints not stored yet; a complaint is known by its date and position (the table's unique key),
 * so loading a range again adds nothing. Returns how many were new.
 */
export async function storeComplaints(pool: pg.Pool, complaints: MatchedComplaint[]): Promise<number> {
  if (complaints.length === 0) return 0;
  const { rowCount } = await pool.query(
    `INSERT INTO pothole_complaints (create_dt, event_lat, event_lon, nearest_s_id, distance_m)
     SELECT * FROM unnest($1::date[], $2::float8[], $3::float8[], $4::text[], $5::float8[])
     ON CONFLICT (create_dt, event_lat, event_lon) DO NOTHING`,
    [
      complaints.map((c) => c.createDate),
      complaints.map((c) => c.lat),
      complaints.map((c) => c.lon),
      complaints.map((c) => c.sId),
      complaints.map((c) => Math.round(c.distanceM * 10) / 10),
    ],
  );
  return rowCount ?? 0;
}
