/**
 * The demo's road network: two real Gangnam roads traced through their station intersections and cut into
 * ~50 m segments, the granularity the dashboards rank repairs at. Geometry is done in a local metric plane
 * (equirectangular around Gangnam), accurate to centimetres over a few kilometres.
 */

export interface LonLat {
  lon: number;
  lat: number;
}

export interface RoadSegment {
  s_id: string;
  road: string;
  start_lon: number;
  start_lat: number;
  end_lon: number;
  end_lat: number;
  centroid_lon: number;
  centroid_lat: number;
  lengthM: number;
}

export interface Road {
  /** Prefix of the segment ids, e.g. TEHERAN → TEHERAN_0001. */
  code: string;
  name: string;
  /** Vertices in driving order of the "forward" direction; intersections where traffic may stop. */
  vertices: (LonLat & { intersection: string })[];
}

export const ROADS: readonly Road[] = [
  {
    code: 'TEHERAN',
    name: '테헤란로',
    vertices: [
      { intersection: '강남역', lon: 127.02764, lat: 37.49794 },
      { intersection: '역삼역', lon: 127.03655, lat: 37.5007 },
      { intersection: '선릉역', lon: 127.04894, lat: 37.50445 },
      { intersection: '삼성역', lon: 127.06318, lat: 37.50886 },
    ],
  },
  {
    code: 'GANGNAMDAERO',
    name: '강남대로',
    vertices: [
      { intersection: '논현역', lon: 127.0215, lat: 37.511 },
      { intersection: '신논현역', lon: 127.025, lat: 37.5045 },
      { intersection: '강남역', lon: 127.02764, lat: 37.49794 },
      { intersection: '양재역', lon: 127.0344, lat: 37.4841 },
    ],
  },
];

export const TARGET_SEGMENT_M = 50;

const ORIGIN: LonLat = { lon: 127.03, lat: 37.5 };
const M_PER_DEG_LAT = 110_574;
const M_PER_DEG_LON = 111_320 * Math.cos((ORIGIN.lat * Math.PI) / 180);

export interface XY {
  x: number;
  y: number;
}

const toXY = (p: LonLat): XY => ({
  x: (p.lon - ORIGIN.lon) * M_PER_DEG_LON,
  y: (p.lat - ORIGIN.lat) * M_PER_DEG_LAT,
});

export const toLonLat = (p: XY): LonLat => ({
  lon: ORIGIN.lon + p.x / M_PER_DEG_LON,
  lat: ORIGIN.lat + p.y / M_PER_DEG_LAT,
});

export const distanceM = (a: LonLat, b: LonLat): number => {
  const pa = toXY(a);
  const pb = toXY(b);
  return Math.hypot(pa.x - pb.x, pa.y - pb.y);
};

/** A polyline in the metric plane with cumulative distances, for "where am I after s metres". */
export class Path {
  readonly points: XY[];
  readonly cumulative: number[];
  readonly length: number;

  constructor(points: readonly LonLat[]) {
    if (points.length < 2) throw new Error('a path needs at least two points');
    this.points = points.map(toXY);
    this.cumulative = [0];
    for (let i = 1; i < this.points.length; i++) {
      const a = this.points[i - 1]!;
      const b = this.points[i]!;
      this.cumulative.push(this.cumulative[i - 1]! + Math.hypot(b.x - a.x, b.y - a.y));
    }
    this.length = this.cumulative[this.cumulative.length - 1]!;
  }

  /** Position and unit heading at distance s from the start (clamped to the path). */
  at(s: number): { point: XY; heading: XY } {
    const d = Math.min(Math.max(s, 0), this.length);
    let i = 1;
    while (i < this.cumulative.length - 1 && this.cumulative[i]! < d) i++;
    const a = this.points[i - 1]!;
    const b = this.points[i]!;
    const span = this.cumulative[i]! - this.cumulative[i - 1]!;
    const t = span === 0 ? 0 : (d - this.cumulative[i - 1]!) / span;
    return {
      point: { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t },
      heading: { x: (b.x - a.x) / span, y: (b.y - a.y) / span },
    };
  }

  /** Distance along the path of the point closest to p, and how far p is from the path. */
  project(p: LonLat): { s: number; offsetM: number } {
    const q = toXY(p);
    let best = { s: 0, offsetM: Infinity };
    for (let i = 1; i < this.points.length; i++) {
      const a = this.points[i - 1]!;
      const b = this.points[i]!;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len2 = dx * dx + dy * dy;
      const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, ((q.x - a.x) * dx + (q.y - a.y) * dy) / len2));
      const offset = Math.hypot(a.x + dx * t - q.x, a.y + dy * t - q.y);
      if (offset < best.offsetM) best = { s: this.cumulative[i - 1]! + t * Math.sqrt(len2), offsetM: offset };
    }
    return best;
  }
}

/** Cuts a road into equal pieces as close to TARGET_SEGMENT_M as the road's length allows. */
function segmentRoad(road: Road): RoadSegment[] {
  const path = new Path(road.vertices);
  const count = Math.max(1, Math.round(path.length / TARGET_SEGMENT_M));
  const step = path.length / count;
  const segments: RoadSegment[] = [];
  for (let i = 0; i < count; i++) {
    const start = toLonLat(path.at(i * step).point);
    const end = toLonLat(path.at((i + 1) * step).point);
    segments.push({
      s_id: `${road.code}_${String(i + 1).padStart(4, '0')}`,
      road: road.name,
      start_lon: round(start.lon, 7),
      start_lat: round(start.lat, 7),
      end_lon: round(end.lon, 7),
      end_lat: round(end.lat, 7),
      // The midpoint of the endpoints, exactly as Stage2 computes it from the CSV.
      centroid_lon: (round(start.lon, 7) + round(end.lon, 7)) / 2,
      centroid_lat: (round(start.lat, 7) + round(end.lat, 7)) / 2,
      lengthM: step,
    });
  }
  return segments;
}

export function buildRoadNetwork(roads: readonly Road[] = ROADS): RoadSegment[] {
  return roads.flatMap(segmentRoad);
}

export function roadNetworkCsv(segments: readonly RoadSegment[]): string {
  const lines = segments.map((s) => [s.s_id, s.start_lon, s.start_lat, s.end_lon, s.end_lat].join(','));
  return ['s_id,start_lon,start_lat,end_lon,end_lat', ...lines].join('\n') + '\n';
}

/** The segment whose centroid is nearest to p (Stage2's rule, ties to the smaller s_id). */
export function nearestSegment(
  segments: readonly RoadSegment[],
  p: LonLat,
): { segment: RoadSegment; distanceM: number } {
  let best: { segment: RoadSegment; distanceM: number } | undefined;
  for (const segment of segments) {
    const d = distanceM(p, { lon: segment.centroid_lon, lat: segment.centroid_lat });
    if (!best || d < best.distanceM || (d === best.distanceM && segment.s_id < best.segment.s_id)) {
      best = { segment, distanceM: d };
    }
  }
  if (!best) throw new Error('the road network is empty');
  return best;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
