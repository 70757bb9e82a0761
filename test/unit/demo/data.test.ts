import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import {
  CONTEXT_FILTER,
  DEFAULT_DEMO_OPTIONS,
  generateDemoData,
  ROAD_NETWORK_KEY,
  type DemoData,
  type Reading,
} from '../../../src/demo/data';
import { distanceM, nearestSegment, TARGET_SEGMENT_M } from '../../../src/demo/roads';

const DATE = '2026-02-12';

const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

async function decode(data: DemoData): Promise<Reading[]> {
  const rows: Reading[] = [];
  for (const part of data.readingParts) {
    const objects = await parquetReadObjects({ file: toArrayBuffer(part.body) });
    for (const o of objects) rows.push({ ...(o as unknown as Reading), timestamp: Number(o.timestamp) });
  }
  return rows;
}

const keptByContextFilter = (r: Reading): boolean =>
  r.velocity > CONTEXT_FILTER.velocity_above &&
  r.hdop <= CONTEXT_FILTER.hdop_at_most &&
  r.satellites >= CONTEXT_FILTER.satellites_at_least;

describe('synthetic demo data', () => {
  let data: DemoData;
  let readings: Reading[];

  before(async () => {
    data = generateDemoData(DATE);
    readings = await decode(data);
  });

  it('is byte-identical for the same seed and date', () => {
    const again = generateDemoData(DATE);
    assert.equal(again.roadNetworkCsv, data.roadNetworkCsv);
    assert.deepEqual(again.potholeSegmentIds, data.potholeSegmentIds);
    assert.equal(again.readingParts.length, data.readingParts.length);
    again.readingParts.forEach((part, i) => {
      assert.equal(part.name, data.readingParts[i]!.name);
      assert.ok(
        Buffer.from(part.body).equals(Buffer.from(data.readingParts[i]!.body)),
        `${part.name} differs`,
      );
    });
  });

  it('keeps the potholes where they are on another date, with other readings', () => {
    const nextDay = generateDemoData('2026-02-13');
    assert.deepEqual(nextDay.potholeSegmentIds, data.potholeSegmentIds);
    assert.equal(nextDay.roadNetworkCsv, data.roadNetworkCsv);
    assert.ok(!Buffer.from(nextDay.readingParts[0]!.body).equals(Buffer.from(data.readingParts[0]!.body)));
  });

  it('moves the potholes with another seed', () => {
    const other = generateDemoData(DATE, { seed: 99 });
    assert.notDeepEqual(other.potholeSegmentIds, data.potholeSegmentIds);
  });

  it('cuts Teheran-ro and Gangnam-daero into ~50 m segments with unique, readable ids', () => {
    const network = data.roadNetwork;
    assert.ok(network.length > 100, `${network.length} segments`);
    assert.equal(new Set(network.map((s) => s.s_id)).size, network.length);
    for (const road of ['TEHERAN', 'GANGNAMDAERO']) {
      const segments = network.filter((s) => s.s_id.startsWith(`${road}_`));
      assert.ok(segments.length >= 50, `${road}: ${segments.length} segments`);
      segments.forEach((s, i) => {
        assert.match(s.s_id, new RegExp(`^${road}_\\d{4}$`));
        const length = distanceM({ lon: s.start_lon, lat: s.start_lat }, { lon: s.end_lon, lat: s.end_lat });
        assert.ok(Math.abs(length - TARGET_SEGMENT_M) < 8, `${s.s_id} is ${length.toFixed(1)} m long`);
        const next = segments[i + 1];
        if (next)
          assert.deepEqual([s.end_lon, s.end_lat], [next.start_lon, next.start_lat], 'segments chain up');
      });
    }
    // Gangnam station, where the two roads meet, in the real world.
    const first = network.find((s) => s.s_id === 'TEHERAN_0001')!;
    assert.ok(
      distanceM({ lon: first.start_lon, lat: first.start_lat }, { lon: 127.0276, lat: 37.4979 }) < 50,
    );
  });

  it('writes the road network as the CSV Stage2 reads', () => {
    const lines = data.roadNetworkCsv.trimEnd().split('\n');
    assert.equal(lines[0], 's_id,start_lon,start_lat,end_lon,end_lat');
    assert.equal(lines.length - 1, data.roadNetwork.length);
    const [id, ...coords] = lines[1]!.split(',');
    const first = data.roadNetwork[0]!;
    assert.equal(id, first.s_id);
    assert.deepEqual(coords.map(Number), [first.start_lon, first.start_lat, first.end_lon, first.end_lat]);
  });

  it('puts the road network where config_stage2.json looks for it', () => {
    const config = JSON.parse(
      fs.readFileSync(path.join(__dirname, '../../../spark/stage2/config_stage2.json'), 'utf8'),
    ) as { road_network_path: string };
    assert.ok(
      [`{base_uri}/${ROAD_NETWORK_KEY}`, `s3a://{bucket}/${ROAD_NETWORK_KEY}`].includes(
        config.road_network_path,
      ),
      config.road_network_path,
    );
  });

  it('writes several snappy parquet part files with the raw-data schema', () => {
    assert.equal(data.readingParts.length, DEFAULT_DEMO_OPTIONS.partFiles);
    const expected: Record<string, [string, string | undefined]> = {
      timestamp: ['INT64', undefined],
      trip_id: ['BYTE_ARRAY', 'UTF8'],
      vehicle_id: ['BYTE_ARRAY', 'UTF8'],
      satellites: ['INT32', undefined],
    };
    for (const name of [
      'accel_x',
      'accel_y',
      'accel_z',
      'gyro_x',
      'gyro_y',
      'gyro_z',
      'velocity',
      'lon',
      'lat',
      'hdop',
    ]) {
      expected[name] = ['DOUBLE', undefined];
    }
    for (const part of data.readingParts) {
      assert.match(part.name, /^part-\d{5}\.snappy\.parquet$/);
      const meta = parquetMetadata(toArrayBuffer(part.body));
      assert.equal(Number(meta.num_rows), part.rows);
      const columns = Object.fromEntries(
        meta.schema
          .slice(1)
          .map((el) => [el.name, [el.type, el.converted_type] as [string, string | undefined]]),
      );
      assert.deepEqual(columns, expected);
      for (const group of meta.row_groups) {
        for (const column of group.columns) assert.equal(column.meta_data?.codec, 'SNAPPY');
      }
    }
  });

  it('holds tens of thousands of readings from several vehicles and trips, all on the date in Seoul', () => {
    assert.equal(readings.length, data.stats.readings);
    assert.ok(readings.length >= 30_000 && readings.length <= 150_000, `${readings.length} readings`);
    const vehicles = new Set(readings.map((r) => r.vehicle_id));
    const trips = new Set(readings.map((r) => r.trip_id));
    assert.equal(vehicles.size, DEFAULT_DEMO_OPTIONS.vehicles);
    assert.equal(trips.size, DEFAULT_DEMO_OPTIONS.vehicles * DEFAULT_DEMO_OPTIONS.tripsPerVehicle);
    const dayStart = Date.parse(`${DATE}T00:00:00+09:00`);
    for (const r of readings) {
      assert.ok(
        Number.isInteger(r.timestamp) && r.timestamp >= dayStart && r.timestamp < dayStart + 86_400_000,
      );
      assert.ok(Number.isInteger(r.satellites));
    }
  });

  it('includes stationary and bad-GPS readings, and counts exactly what the context filter keeps', () => {
    const stationary = readings.filter((r) => !(r.velocity > CONTEXT_FILTER.velocity_above)).length;
    const badGps = readings.filter(
      (r) => !(r.hdop <= CONTEXT_FILTER.hdop_at_most && r.satellites >= CONTEXT_FILTER.satellites_at_least),
    ).length;
    const kept = readings.filter(keptByContextFilter).length;
    assert.deepEqual(
      { stationary, badGps, kept },
      { stationary: data.stats.stationary, badGps: data.stats.badGps, kept: data.stats.kept },
    );
    assert.ok(stationary > readings.length * 0.05, `${stationary} stationary readings`);
    assert.ok(badGps > 200, `${badGps} bad-GPS readings`);
    // Bad fixes scatter far off the road: exactly what the filter protects Stage2 from.
    const farOff = readings.filter(
      (r) => !keptByContextFilter(r) && nearestSegment(data.roadNetwork, r).distanceM > 50,
    ).length;
    assert.ok(farOff > 10, `${farOff} dropped readings lie more than 50 m off the road`);
  });

  it('scatters the GPS positions of good readings around the road, within a segment half-length', () => {
    const distances = readings
      .filter(keptByContextFilter)
      .map((r) => nearestSegment(data.roadNetwork, r).distanceM)
      .sort((a, b) => a - b);
    const median = distances[Math.floor(distances.length / 2)]!;
    assert.ok(median > 2, `median distance to the nearest centroid ${median.toFixed(1)} m`);
    assert.ok(
      distances[distances.length - 1]! < 50,
      `farthest good reading ${distances.at(-1)!.toFixed(1)} m`,
    );
  });

  it('jolts only at the advertised pothole segments, each hit by several trips', () => {
    assert.equal(data.potholeSegmentIds.length, DEFAULT_DEMO_OPTIONS.potholes);
    const jolts = readings.filter((r) => keptByContextFilter(r) && r.accel_z > 9.81 + 5);
    const tripsPerSegment = new Map<string, Set<string>>();
    for (const r of jolts) {
      const { segment } = nearestSegment(data.roadNetwork, r);
      assert.ok(data.potholeSegmentIds.includes(segment.s_id), `a jolt at ${segment.s_id}, not at a pothole`);
      const trips = tripsPerSegment.get(segment.s_id) ?? new Set();
      trips.add(r.trip_id);
      tripsPerSegment.set(segment.s_id, trips);
    }
    for (const id of data.potholeSegmentIds) {
      const trips = tripsPerSegment.get(id)?.size ?? 0;
      assert.ok(trips >= 4, `${id} hit by ${trips} trips`);
      assert.equal(trips, data.stats.potholeHits[id], `${id}: the stats count the same hits`);
    }
  });

  it('puts potholes at the segments asked for', () => {
    const chosen = generateDemoData(DATE, {
      potholeSegmentIds: ['TEHERAN_0040', 'TEHERAN_0010'],
      vehicles: 2,
    });
    assert.deepEqual(chosen.potholeSegmentIds, ['TEHERAN_0010', 'TEHERAN_0040']);
    assert.deepEqual(Object.keys(chosen.stats.potholeHits).sort(), ['TEHERAN_0010', 'TEHERAN_0040']);
  });

  it('rejects an invalid date, an unknown segment and nonsense options with a clear message', () => {
    assert.throws(() => generateDemoData('2026-02-30'), /not a real calendar date/);
    assert.throws(
      () => generateDemoData(DATE, { potholeSegmentIds: ['NOPE_0001'] }),
      /unknown pothole segment.*NOPE_0001/,
    );
    assert.throws(() => generateDemoData(DATE, { vehicles: 0 }), /vehicles must be an integer/);
    assert.throws(() => generateDemoData(DATE, { hitProbability: 2 }), /hitProbability/);
  });
});
