/**
 * The reference jobs' logic on hand-made inputs whose answers are known, with real Spark in local mode on
 * local files (spark.pothole.base_uri=file://...), plus their failure modes. The S3 + standalone cluster run
 * of both stages on the demo data is in stages-on-cluster.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { writeReadings, type Reading } from '../../../src/demo/data';
import {
  jobLines,
  physicalSchema,
  readLocalParquet,
  run,
  SPARK_DIR,
  sparkSubmit,
  STAGE1_CONTRACT,
  STAGE2_CONTRACT,
  stackEnv,
} from './support';

const DATE = '2031-05-20';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-jobs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

let sparkHome: string;
before(() => {
  sparkHome = stackEnv().SPARK_HOME ?? '';
  assert.ok(
    fs.existsSync(path.join(sparkHome, 'bin/spark-submit')),
    `no spark-submit under SPARK_HOME=${sparkHome}`,
  );
});

const confs = { 'spark.pothole.base_uri': `file://${root}`, 'spark.eventLog.enabled': 'false' };
const submit = (stage: 'stage1' | 'stage2', date = DATE) =>
  sparkSubmit({ sparkHome, master: 'local[2]', stage, codeDir: SPARK_DIR, date, confs });
const partition = (prefix: string, date = DATE) => path.join(root, prefix, `dt=${date}`);

function write(file: string, body: Uint8Array | string) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body);
}

// ---- Stage1 fixture: three trips, every context-filter boundary, dropped readings that would skew the stats

let clock = 1_000;
function reading(trip: string, values: Partial<Reading>): Reading {
  return {
    timestamp: clock++,
    trip_id: trip,
    vehicle_id: 'VH-T',
    accel_x: 0,
    accel_y: 0,
    accel_z: 9.81,
    gyro_x: 0,
    gyro_y: 0,
    gyro_z: 0,
    velocity: 30,
    lon: 127.03,
    lat: 37.5,
    hdop: 1,
    satellites: 8,
    ...values,
  };
}

const tripA = [
  ...Array.from({ length: 40 }, (_, i) =>
    reading('A', { accel_z: 9.81 + 0.3 * Math.sin(i), gyro_y: 0.05 * Math.cos(i * 1.7) }),
  ),
  reading('A', { accel_z: 17.5, gyro_y: 1.4 }), // a pothole
  reading('A', { velocity: 5.000001, accel_z: 9.9 }), // boundary: kept
  reading('A', { hdop: 5.0, accel_z: 9.7 }), // boundary: kept
  reading('A', { satellites: 4, gyro_y: 0.1 }), // boundary: kept
];
// Dropped by the context filter; their huge values would shift trip A's mean and std if they leaked in.
const droppedA = [
  reading('A', { velocity: 5.0, accel_z: 60 }),
  reading('A', { velocity: 0.2, accel_z: 60 }),
  reading('A', { hdop: 5.01, accel_z: 60 }),
  reading('A', { satellites: 3, accel_z: 60, gyro_y: 9 }),
];
const tripB = Array.from({ length: 10 }, () => reading('B', { accel_z: 9.81, gyro_y: 0.02 })); // std 0
const tripC = [reading('C', { accel_z: 30, gyro_y: 3 })]; // one reading: std null

function expectedScores(rows: Reading[]): Map<number, { impact: number; pothole: number }> {
  const out = new Map<number, { impact: number; pothole: number }>();
  const byTrip = new Map<string, Reading[]>();
  for (const r of rows) byTrip.set(r.trip_id, [...(byTrip.get(r.trip_id) ?? []), r]);
  for (const trip of byTrip.values()) {
    // Welford's running mean and variance, as Spark's stddev_samp computes them (exactly 0 for a flat signal).
    const z = (pick: (r: Reading) => number) => {
      let n = 0;
      let mean = 0;
      let m2 = 0;
      for (const r of trip) {
        const v = pick(r);
        n++;
        const delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
      }
      const std = n < 2 ? NaN : Math.sqrt(m2 / (n - 1));
      return (v: number) => (!Number.isFinite(std) || std === 0 ? 0 : (v - mean) / std);
    };
    const zAccel = z((r) => r.accel_z);
    const zGyro = z((r) => r.gyro_y);
    for (const r of trip) {
      const impact = 0.7 * zAccel(r.accel_z) + 0.3 * zGyro(r.gyro_y);
      out.set(r.timestamp, { impact, pothole: impact >= 3 ? 1 : 0 });
    }
  }
  return out;
}

describe('Stage1 anomaly detection (local Spark, local files)', () => {
  let result: Awaited<ReturnType<typeof submit>>;
  const kept = [...tripA, ...tripB, ...tripC];

  before(async () => {
    const raw = partition('raw-sensor-data');
    write(path.join(raw, 'part-00000.snappy.parquet'), writeReadings([...tripA.slice(0, 20), ...droppedA]));
    write(
      path.join(raw, 'part-00001.snappy.parquet'),
      writeReadings([...tripA.slice(20), ...tripB, ...tripC]),
    );
    // Left over from an earlier run: overwrite must remove it.
    write(path.join(partition('stage1_anomaly_detected'), 'part-99999-stale.snappy.parquet'), 'stale');
    result = await submit('stage1');
  });

  it('exits 0 and reports what it read, kept and flagged', () => {
    assert.equal(result.code, 0, result.output.slice(-3000));
    assert.match(
      jobLines(result.output),
      /59 readings, 55 kept by the context filter, 1 flagged as pothole impacts/,
    );
  });

  it('keeps only moving readings with a good fix (velocity > 5.0, hdop <= 5.0, satellites >= 4)', async () => {
    const out = await readLocalParquet(partition('stage1_anomaly_detected'));
    assert.deepEqual(
      out.rows.map((r) => Number(r.timestamp)).sort((a, b) => a - b),
      kept.map((r) => r.timestamp),
    );
    assert.ok(!out.files.includes('part-99999-stale.snappy.parquet'), 'the stale part file is gone');
  });

  it('scores each reading by per-trip z-scores, 0.7 z(accel_z) + 0.3 z(gyro_y), 0 when std is 0 or null', async () => {
    const out = await readLocalParquet(partition('stage1_anomaly_detected'));
    const expected = expectedScores(kept);
    for (const row of out.rows) {
      const want = expected.get(Number(row.timestamp))!;
      assert.ok(
        Math.abs((row.impact_score as number) - want.impact) < 1e-9,
        `${row.timestamp}: ${row.impact_score}`,
      );
      assert.equal(row.is_pothole, want.pothole);
    }
    const pothole = out.rows.find((r) => Number(r.timestamp) === tripA[40]!.timestamp)!;
    assert.equal(pothole.is_pothole, 1);
    for (const flat of [...tripB, ...tripC]) {
      const row = out.rows.find((r) => Number(r.timestamp) === flat.timestamp)!;
      assert.equal(row.impact_score, 0);
    }
    assert.deepEqual(
      out.rows.filter((r) => r.is_pothole === 1).map((r) => Number(r.timestamp)),
      [tripA[40]!.timestamp],
    );
  });

  it('writes timestamp long, lon, lat, impact_score double, is_pothole int as snappy parquet', async () => {
    const out = await readLocalParquet(partition('stage1_anomaly_detected'));
    assert.ok(out.files.length >= 1);
    for (const schema of out.schemas) assert.deepEqual(physicalSchema(schema), STAGE1_CONTRACT);
    assert.deepEqual([...out.codecs], ['SNAPPY']);
  });
});

// ---- Stage2 fixture: a straight road along lat 37.5 with 50 m segments, readings placed at known distances

const M_PER_DEG_LAT = 111_195; // at the haversine radius
const M_PER_DEG_LON = M_PER_DEG_LAT * Math.cos((37.5 * Math.PI) / 180);
const east = (m: number) => 127 + m / M_PER_DEG_LON;
const north = (m: number) => 37.5 + m / M_PER_DEG_LAT;

describe('Stage2 spatial clustering (local Spark, local files)', () => {
  const date = '2031-05-21';
  let result: Awaited<ReturnType<typeof submit>>;
  // Segment n spans [50n, 50n+50] m east of 127.0; its centroid is at 50n+25 m.
  const network = [0, 1, 2, 3, 9].map((n) => ({
    s_id: `ROAD_${n}`,
    start_lon: east(50 * n),
    end_lon: east(50 * n + 50),
    lat: 37.5,
  }));
  const points: { lon: number; lat: number; is_pothole: number }[] = [
    // ROAD_0: 4 readings, 2 impacts
    ...[20, 25, 30, 40].map((m, i) => ({ lon: east(m), lat: north(3), is_pothole: i < 2 ? 1 : 0 })),
    // 51 m east: 1 m from ROAD_1's start, but its centroid (75 m) is nearer than ROAD_0's (25 m)
    { lon: east(51), lat: north(0), is_pothole: 1 },
    // ROAD_2: straight north of its centroid (125 m), 45 m away: inside the 50 m cutoff
    { lon: east(125), lat: north(45), is_pothole: 0 },
    // 60 m north of ROAD_3's centroid: off the network, dropped
    { lon: east(175), lat: north(60), is_pothole: 1 },
    // far away from everything
    { lon: 127.5, lat: 37.9, is_pothole: 1 },
  ];

  before(async () => {
    const csv = [
      's_id,start_lon,start_lat,end_lon,end_lat',
      ...network.map((s) => [s.s_id, s.start_lon, s.lat, s.end_lon, s.lat].join(',')),
    ].join('\n');
    write(path.join(root, 'reference/road_network.csv'), csv + '\n');
    write(
      path.join(partition('stage1_anomaly_detected', date), 'part-00000.snappy.parquet'),
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'timestamp', type: 'INT64', data: BigInt64Array.from(points, (_, i) => BigInt(i)) },
            { name: 'lon', type: 'DOUBLE', data: Float64Array.from(points, (p) => p.lon) },
            { name: 'lat', type: 'DOUBLE', data: Float64Array.from(points, (p) => p.lat) },
            { name: 'impact_score', type: 'DOUBLE', data: Float64Array.from(points, () => 0) },
            { name: 'is_pothole', type: 'INT32', data: Int32Array.from(points, (p) => p.is_pothole) },
          ],
        }),
      ),
    );
    result = await submit('stage2', date);
  });

  it('exits 0 and reports how many readings matched a segment', () => {
    assert.equal(result.code, 0, result.output.slice(-3000));
    assert.match(jobLines(result.output), /6 of 8 readings matched a segment centroid within 50 m/);
  });

  it('counts per nearest centroid within the cutoff, segments without readings left out', async () => {
    const out = await readLocalParquet(partition('stage2_spatial_clustering', date));
    const rows = out.rows
      .map((r) => ({ s_id: r.s_id, impact_count: r.impact_count, total_count: r.total_count }))
      .sort((a, b) => String(a.s_id).localeCompare(String(b.s_id)));
    assert.deepEqual(rows, [
      { s_id: 'ROAD_0', impact_count: 2, total_count: 4 },
      { s_id: 'ROAD_1', impact_count: 1, total_count: 1 },
      { s_id: 'ROAD_2', impact_count: 0, total_count: 1 },
    ]);
  });

  it("adds each segment's centroid and the batch date, with the contract's exact types", async () => {
    const out = await readLocalParquet(partition('stage2_spatial_clustering', date));
    for (const row of out.rows) {
      const segment = network.find((s) => s.s_id === row.s_id)!;
      assert.equal(row.centroid_lon, (segment.start_lon + segment.end_lon) / 2);
      assert.equal(row.centroid_lat, 37.5);
      assert.equal((row.date as Date).toISOString().slice(0, 10), date);
    }
    for (const schema of out.schemas) assert.deepEqual(physicalSchema(schema), STAGE2_CONTRACT);
    assert.deepEqual([...out.codecs], ['SNAPPY']);
  });
});

describe('job failures are clear and non-zero', () => {
  it('a missing raw partition exits 2 naming the path and what to do', async () => {
    const result = await submit('stage1', '2031-06-01');
    assert.equal(result.code, 2, result.output.slice(-3000));
    assert.match(
      jobLines(result.output),
      new RegExp(
        `raw sensor data for 2031-06-01 not found: file://${root}/raw-sensor-data/dt=2031-06-01/ does not exist.*demo-data`,
      ),
    );
  });

  it('a road network with a broken row exits 2 quoting the row', async () => {
    const date = '2031-06-02';
    write(
      path.join(root, 'reference/road_network.csv'),
      's_id,start_lon,start_lat,end_lon,end_lat\nA,127.0,37.5,127.1,37.5\nB,127.1,north,127.2,37.5\n',
    );
    write(
      path.join(partition('stage1_anomaly_detected', date), 'part-00000.snappy.parquet'),
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'lon', type: 'DOUBLE', data: [127.05] },
            { name: 'lat', type: 'DOUBLE', data: [37.5] },
            { name: 'is_pothole', type: 'INT32', data: [1] },
          ],
        }),
      ),
    );
    const result = await submit('stage2', date);
    assert.equal(result.code, 2, result.output.slice(-3000));
    assert.match(
      jobLines(result.output),
      /road network .* has 1 row\(s\) .*invalid coordinates, e.g. s_id='B' .*start_lat='north'/,
    );
  });

  for (const [args, message] of [
    [
      ['--env', 'stage1', '--batch-date', '2031-02-30'],
      /batch date '2031-02-30' is not a real calendar date/,
    ],
    [['--env', 'stage1', '--batch-date', '20310220'], /is not written YYYY-MM-DD/],
    [['--env', 'stage1; rm -rf /', '--batch-date', '2031-02-20'], /--env .* must be a config suffix/],
    [
      ['--env', 'prod', '--batch-date', '2031-02-20'],
      /config_prod\.json not found .* files present: config_stage1\.json/,
    ],
    [['--batch-date', '2031-02-20'], /the following arguments are required: --env/],
  ] as const) {
    it(`refuses ${args.join(' ')} before starting Spark`, async () => {
      const result = await run('python3', [path.join(SPARK_DIR, 'stage1/main.py'), ...args], {
        env: { ...process.env, PYTHONPATH: SPARK_DIR },
      });
      assert.equal(result.code, 2, result.output);
      assert.match(result.output, message);
      assert.ok(result.seconds < 10, `took ${result.seconds}s`);
    });
  }
});
