/**
 * Synthetic sensor data for the demo and the end-to-end tests: a day of drives along Teheran-ro and
 * Gangnam-daero by a few probe vehicles, with potholes at known segments.
 *
 * Each trip is simulated at the sensor rate: the vehicle cruises, stops at some station intersections
 * (velocity ≈ 0, which Stage1's context filter drops), loses its GPS fix now and then (high HDOP / few
 * satellites, also dropped), and jolts when a wheel drops into a pothole: a sharp vertical-acceleration
 * spike with a pitch-rate kick, a rebound and a second, smaller spike. Everything comes from one seeded
 * random source, so a seed and a date always give byte-identical files; the pothole locations depend on
 * the seed only, so they persist from day to day as real potholes do.
 */
import { parquetWriteBuffer } from 'hyparquet-writer';
import { validateBatchDate } from '../shared/steps';
import stage1Config from '../../spark/stage1/config_stage1.json';
import { Random } from './random';
import {
  Path,
  ROADS,
  buildRoadNetwork,
  distanceM,
  roadNetworkCsv,
  toLonLat,
  type LonLat,
  type Road,
  type RoadSegment,
} from './roads';

export type { RoadSegment } from './roads';

/** Where Stage2 finds the road network: must match road_network_path in spark/stage2/config_stage2.json. */
export const ROAD_NETWORK_KEY = 'reference/road_network.csv';

/** Stage1's context filter, from the job's own config so the expected counts cannot drift from it. */
export const CONTEXT_FILTER = stage1Config.filters;

export interface DemoDataOptions {
  /** Seeds the pothole locations and, with the date, every reading. */
  seed?: number | string;
  vehicles?: number;
  tripsPerVehicle?: number;
  sampleHz?: number;
  /** How many potholes to place (ignored when potholeSegmentIds is given). */
  potholes?: number;
  /** Put the potholes at these segments instead of seeded ones. */
  potholeSegmentIds?: string[];
  /** Chance that a trip passing over a pothole actually hits it (the rest drive around it). */
  hitProbability?: number;
  partFiles?: number;
}

export const DEFAULT_DEMO_OPTIONS = {
  seed: 20260212,
  vehicles: 5,
  tripsPerVehicle: 3,
  sampleHz: 10,
  potholes: 5,
  hitProbability: 0.9,
  partFiles: 4,
} as const;

export interface Reading {
  timestamp: number;
  trip_id: string;
  vehicle_id: string;
  accel_x: number;
  accel_y: number;
  accel_z: number;
  gyro_x: number;
  gyro_y: number;
  gyro_z: number;
  velocity: number;
  lon: number;
  lat: number;
  hdop: number;
  satellites: number;
}

export interface DemoDataStats {
  readings: number;
  trips: number;
  vehicles: number;
  /** Readings with velocity at or below the context filter's threshold (parked, waiting at lights). */
  stationary: number;
  /** Readings with a bad GPS fix (HDOP above, or satellites below, the context filter's limits). */
  badGps: number;
  /** Readings that pass Stage1's context filter. */
  kept: number;
  /** Per pothole segment: trips whose impact reading passes the context filter. */
  potholeHits: Record<string, number>;
}

export interface ReadingPart {
  /** File name inside dt=<date>/, e.g. part-00000.snappy.parquet. */
  name: string;
  body: Uint8Array;
  rows: number;
}

export interface DemoData {
  date: string;
  roadNetwork: RoadSegment[];
  roadNetworkCsv: string;
  readingParts: ReadingPart[];
  potholeSegmentIds: string[];
  stats: DemoDataStats;
}

interface Route {
  name: string;
  path: Path;
  /** Distances along the path of intersections where the vehicle may wait for the lights. */
  signals: number[];
}

const GRAVITY = 9.81;
const ACCELERATION = 1.5; // m/s², pulling away
const DECELERATION = 1.8; // m/s², braking for a red light
const SEOUL_OFFSET_MS = 9 * 3600_000;

/**
 * Both roads in both directions, and the turns between them at Gangnam station, so that every stretch
 * of road is driven by at least half of the routes.
 */
function buildRoutes(): Route[] {
  const [teheran, gangnamDaero] = ROADS.map((r) => r.vertices) as [Road['vertices'], Road['vertices']];
  const station = gangnamDaero.findIndex((v) => v.intersection === '강남역');
  const fromNonhyeon = gangnamDaero.slice(0, station);
  const fromYangjae = gangnamDaero.slice(station + 1).reverse();
  const forward = [
    { name: 'Teheran-ro eastbound', vertices: teheran },
    { name: 'Gangnam-daero southbound', vertices: gangnamDaero },
    { name: 'Nonhyeon to Samseong', vertices: [...fromNonhyeon, ...teheran] },
    { name: 'Yangjae to Samseong', vertices: [...fromYangjae, ...teheran] },
  ];
  const routes: Route[] = [];
  for (const r of forward) {
    for (const vertices of [r.vertices, [...r.vertices].reverse()]) {
      const path = new Path(vertices);
      const signals = vertices.slice(1, -1).map((v) => path.project(v).s);
      routes.push({ name: vertices === r.vertices ? r.name : `${r.name} (reverse)`, path, signals });
    }
  }
  return routes;
}

/** Seeded pothole segments: away from intersections (vehicles cruise there) and spread over both roads. */
function choosePotholes(network: readonly RoadSegment[], count: number, seed: string | number): string[] {
  const rng = new Random(`${seed}:potholes`);
  const intersections: LonLat[] = ROADS.flatMap((r) => r.vertices);
  const candidates = network.filter((segment) => {
    const centroid = { lon: segment.centroid_lon, lat: segment.centroid_lat };
    return intersections.every((v) => distanceM(v, centroid) >= 120);
  });
  const byRoad = ROADS.map((road) => rng.shuffle(candidates.filter((s) => s.road === road.name)));
  const chosen: RoadSegment[] = [];
  for (let turn = 0; chosen.length < count && byRoad.some((list) => list.length > 0); turn++) {
    const list = byRoad[turn % byRoad.length]!;
    const next = list.shift();
    if (!next) continue;
    // At least 200 m apart, so each pothole's segment is unambiguous on the dashboard.
    const clear = chosen.every(
      (c) =>
        distanceM(
          { lon: c.centroid_lon, lat: c.centroid_lat },
          { lon: next.centroid_lon, lat: next.centroid_lat },
        ) >= 200,
    );
    if (clear) chosen.push(next);
  }
  if (chosen.length < count) throw new Error(`room for only ${chosen.length} potholes on the demo roads`);
  return chosen.map((s) => s.s_id).sort();
}

function resolveOptions(options: DemoDataOptions) {
  const o = { ...DEFAULT_DEMO_OPTIONS, ...options };
  const positive = (name: string, value: number, max: number) => {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new Error(`demo data option ${name} must be an integer from 1 to ${max}, got ${value}`);
    }
  };
  positive('vehicles', o.vehicles, 100);
  positive('tripsPerVehicle', o.tripsPerVehicle, 24);
  positive('sampleHz', o.sampleHz, 100);
  positive('potholes', o.potholes, 20);
  positive('partFiles', o.partFiles, 100);
  if (!(o.hitProbability > 0 && o.hitProbability <= 1)) {
    throw new Error(`demo data option hitProbability must be in (0, 1], got ${o.hitProbability}`);
  }
  return o;
}

export function generateDemoData(date: string, options: DemoDataOptions = {}): DemoData {
  const checked = validateBatchDate(date);
  if (typeof checked !== 'string') throw new Error(checked.error);
  const o = resolveOptions(options);
  const network = buildRoadNetwork();
  const potholeSegmentIds = o.potholeSegmentIds
    ? [...new Set(o.potholeSegmentIds)].sort()
    : choosePotholes(network, o.potholes, o.seed);
  const unknown = potholeSegmentIds.filter((id) => !network.some((s) => s.s_id === id));
  if (unknown.length > 0) throw new Error(`unknown pothole segment(s): ${unknown.join(', ')}`);

  const routes = buildRoutes();
  const potholes = potholeSegmentIds.map((id) => {
    const segment = network.find((s) => s.s_id === id)!;
    return { id, at: { lon: segment.centroid_lon, lat: segment.centroid_lat } };
  });
  const rng = new Random(`${o.seed}:${date}`);
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const midnightSeoul = Date.UTC(y, m - 1, d) - SEOUL_OFFSET_MS;
  const dayWindowHours = 16; // 06:30 to 22:30
  const stats: DemoDataStats = {
    readings: 0,
    trips: 0,
    vehicles: o.vehicles,
    stationary: 0,
    badGps: 0,
    kept: 0,
    potholeHits: Object.fromEntries(potholeSegmentIds.map((id) => [id, 0])),
  };

  const parts: Reading[][] = Array.from({ length: o.partFiles }, () => []);
  let tripNumber = 0;
  for (let v = 1; v <= o.vehicles; v++) {
    const vehicleId = `VH-${String(v).padStart(3, '0')}`;
    const vehicle = {
      id: vehicleId,
      // Mount and suspension: each vehicle feels the road a little differently.
      roughness: rng.uniform(0.25, 0.4),
      accelBias: rng.normal(0, 0.05),
    };
    for (let t = 0; t < o.tripsPerVehicle; t++) {
      const route = routes[tripNumber % routes.length]!;
      const slot = dayWindowHours / o.tripsPerVehicle;
      const startHours = 6.5 + t * slot + rng.uniform(0, slot * 0.6);
      const startMs = midnightSeoul + Math.round(startHours * 3600_000);
      const tripId = `${vehicleId}-${date.replaceAll('-', '')}-${String(t + 1).padStart(2, '0')}`;
      const hitsOn = new Set<string>();
      const readings = simulateTrip(
        { rng, route, vehicle, tripId, startMs, sampleHz: o.sampleHz, potholes, o },
        (id) => hitsOn.add(id),
      );
      for (const id of hitsOn) stats.potholeHits[id]!++;
      for (const r of readings) {
        stats.readings++;
        const stationary = !(r.velocity > CONTEXT_FILTER.velocity_above);
        const badGps = !(
          r.hdop <= CONTEXT_FILTER.hdop_at_most && r.satellites >= CONTEXT_FILTER.satellites_at_least
        );
        if (stationary) stats.stationary++;
        if (badGps) stats.badGps++;
        if (!stationary && !badGps) stats.kept++;
      }
      parts[tripNumber % o.partFiles]!.push(...readings);
      stats.trips++;
      tripNumber++;
    }
  }

  const readingParts = parts
    .filter((rows) => rows.length > 0)
    .map((rows, i) => ({
      name: `part-${String(i).padStart(5, '0')}.snappy.parquet`,
      body: writeReadings(rows),
      rows: rows.length,
    }));
  return {
    date,
    roadNetwork: network,
    roadNetworkCsv: roadNetworkCsv(network),
    readingParts,
    potholeSegmentIds,
    stats,
  };
}

interface TripInput {
  rng: Random;
  route: Route;
  vehicle: { id: string; roughness: number; accelBias: number };
  tripId: string;
  startMs: number;
  sampleHz: number;
  potholes: { id: string; at: LonLat }[];
  o: ReturnType<typeof resolveOptions>;
}

/** One drive at the sensor rate. Calls onHit for each pothole whose impact reading passes the context filter. */
function simulateTrip(input: TripInput, onHit: (segmentId: string) => void): Reading[] {
  const { rng, route, vehicle, tripId, sampleHz, o } = input;
  const dt = 1 / sampleHz;
  const periodMs = 1000 / sampleHz;
  const cruise = rng.uniform(30, 50) / 3.6;
  const wobblePhase = rng.uniform(0, 2 * Math.PI);
  const laneOffset = rng.uniform(1.5, 7); // metres right of the centre line
  // Lights: red at some intersections, for a while.
  const stops = route.signals.filter(() => rng.chance(0.55)).map((s) => ({ s, wait: rng.uniform(15, 50) }));
  stops.push({ s: route.path.length, wait: rng.uniform(5, 20) }); // parking at the destination
  const onRoute = input.potholes
    .map((p) => ({ ...p, ...route.path.project(p.at) }))
    .filter((p) => p.offsetM < 10)
    .map((p) => ({ id: p.id, s: p.s, hit: rng.chance(o.hitProbability) }));
  // Stretches without a usable fix: urban canyons between the towers of Teheran-ro.
  const badFixes = Array.from({ length: rng.int(1, 3) }, () => ({
    from: rng.uniform(20, 400),
    seconds: rng.uniform(3, 12),
    hdop: rng.chance(0.6) ? rng.uniform(5.5, 18) : rng.uniform(1, 3),
    satellites: rng.chance(0.6) ? rng.int(0, 3) : rng.int(5, 9),
  })).map((b) => (b.hdop <= 5 && b.satellites >= 4 ? { ...b, satellites: rng.int(0, 3) } : b));

  const readings: Reading[] = [];
  let s = 0;
  let speed = 0;
  let waitLeft = rng.uniform(8, 25); // engine on, parked, before pulling away
  let stopIndex = 0;
  let biasX = 0;
  let biasY = 0;
  let tick = 0;
  const pendingJolts: { accelZ: number; gyroY: number }[] = [];
  let pendingHit: string | undefined;

  for (;;) {
    const time = tick * dt;
    const previousSpeed = speed;
    const previousS = s;
    if (waitLeft > 0) {
      speed = 0;
      waitLeft -= dt;
    } else {
      const stop = stops[stopIndex];
      if (!stop) break;
      const toStop = stop.s - s;
      if (toStop < 1.5 && speed < 0.6) {
        waitLeft = stop.wait;
        stopIndex++;
        speed = 0;
      } else {
        const target = Math.min(
          cruise * (1 + 0.08 * Math.sin(time / 20 + wobblePhase)),
          Math.sqrt(2 * DECELERATION * Math.max(0, toStop - 1)),
        );
        speed =
          target > speed
            ? Math.min(target, speed + ACCELERATION * dt)
            : Math.max(target, speed - DECELERATION * dt);
        s = Math.min(stop.s, s + speed * dt);
      }
    }
    if (stopIndex >= stops.length && waitLeft <= 0) break;

    for (const p of onRoute) {
      if (p.hit && previousS < p.s && s >= p.s && speed > 3) {
        const drop = rng.uniform(6, 10);
        pendingJolts.push(
          { accelZ: drop, gyroY: rng.uniform(0.8, 1.6) },
          { accelZ: -rng.uniform(2.5, 4), gyroY: -rng.uniform(0.4, 0.8) },
          { accelZ: rng.uniform(3.5, 5), gyroY: rng.uniform(0.3, 0.6) },
        );
        pendingHit = p.id;
      }
    }

    const moving = speed > 0.3;
    const { point, heading } = route.path.at(s);
    const fix = badFixes.find((b) => time >= b.from && time < b.from + b.seconds);
    biasX = 0.98 * biasX + rng.normal(0, 0.4);
    biasY = 0.98 * biasY + rng.normal(0, 0.4);
    const scatter = fix ? 35 : 2.5;
    const position = toLonLat({
      x: point.x + heading.y * laneOffset + biasX + rng.normal(0, scatter),
      y: point.y - heading.x * laneOffset + biasY + rng.normal(0, scatter),
    });
    const jolt = pendingJolts.shift();
    const reading: Reading = {
      timestamp: input.startMs + Math.round(tick * periodMs),
      trip_id: tripId,
      vehicle_id: vehicle.id,
      accel_x: (speed - previousSpeed) / dt + vehicle.accelBias + rng.normal(0, 0.15),
      accel_y: rng.normal(0, moving ? 0.15 : 0.03),
      accel_z: GRAVITY + rng.normal(0, moving ? vehicle.roughness : 0.05) + (jolt?.accelZ ?? 0),
      gyro_x: rng.normal(0, moving ? 0.02 : 0.004),
      gyro_y: rng.normal(0, moving ? 0.04 : 0.005) + (jolt?.gyroY ?? 0),
      gyro_z: rng.normal(0, moving ? 0.02 : 0.004),
      velocity: moving ? Math.max(0, speed * 3.6 + rng.normal(0, 0.4)) : Math.abs(rng.normal(0, 0.3)),
      lon: position.lon,
      lat: position.lat,
      hdop: fix ? fix.hdop : rng.uniform(0.6, 2.8),
      satellites: fix ? fix.satellites : rng.int(7, 14),
    };
    readings.push(reading);
    if (pendingHit && jolt) {
      if (
        reading.velocity > CONTEXT_FILTER.velocity_above &&
        reading.hdop <= CONTEXT_FILTER.hdop_at_most &&
        reading.satellites >= CONTEXT_FILTER.satellites_at_least
      ) {
        onHit(pendingHit);
      }
      pendingHit = undefined;
    }
    tick++;
  }
  return readings;
}

/** The raw-data layout Stage1 reads: timestamp long (epoch ms), satellites int, the rest double or string. */
export function writeReadings(rows: readonly Reading[]): Uint8Array {
  const doubles = (pick: (r: Reading) => number) => Float64Array.from(rows, pick);
  const buffer = parquetWriteBuffer({
    codec: 'SNAPPY',
    columnData: [
      { name: 'timestamp', type: 'INT64', data: BigInt64Array.from(rows, (r) => BigInt(r.timestamp)) },
      { name: 'trip_id', type: 'STRING', data: rows.map((r) => r.trip_id) },
      { name: 'vehicle_id', type: 'STRING', data: rows.map((r) => r.vehicle_id) },
      { name: 'accel_x', type: 'DOUBLE', data: doubles((r) => r.accel_x) },
      { name: 'accel_y', type: 'DOUBLE', data: doubles((r) => r.accel_y) },
      { name: 'accel_z', type: 'DOUBLE', data: doubles((r) => r.accel_z) },
      { name: 'gyro_x', type: 'DOUBLE', data: doubles((r) => r.gyro_x) },
      { name: 'gyro_y', type: 'DOUBLE', data: doubles((r) => r.gyro_y) },
      { name: 'gyro_z', type: 'DOUBLE', data: doubles((r) => r.gyro_z) },
      { name: 'velocity', type: 'DOUBLE', data: doubles((r) => r.velocity) },
      { name: 'lon', type: 'DOUBLE', data: doubles((r) => r.lon) },
      { name: 'lat', type: 'DOUBLE', data: doubles((r) => r.lat) },
      { name: 'hdop', type: 'DOUBLE', data: doubles((r) => r.hdop) },
      { name: 'satellites', type: 'INT32', data: Int32Array.from(rows, (r) => r.satellites) },
    ],
  });
  return new Uint8Array(buffer);
}
