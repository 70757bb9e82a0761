import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkStage2Schema,
  COPY_BINARY_HEADER,
  encodeCopyRows,
  epochDay,
  isDataFile,
  type ColumnBatch,
  type RowCounters,
} from '../../../src/activities/load/contract';

const OBJ = 's3://b/stage2/dt=2026-02-12/part-00001.snappy.parquet';

const sparkSchema = () => [
  { name: 'spark_schema', num_children: 6 },
  {
    name: 's_id',
    type: 'BYTE_ARRAY',
    converted_type: 'UTF8',
    logical_type: { type: 'STRING' },
    repetition_type: 'OPTIONAL',
  },
  {
    name: 'date',
    type: 'INT32',
    converted_type: 'DATE',
    logical_type: { type: 'DATE' },
    repetition_type: 'OPTIONAL',
  },
  { name: 'impact_count', type: 'INT32', repetition_type: 'OPTIONAL' },
  { name: 'total_count', type: 'INT32', repetition_type: 'OPTIONAL' },
  { name: 'centroid_lon', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'centroid_lat', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
];

describe('checkStage2Schema', () => {
  test('accepts what Spark writes for the Stage2 contract, extra columns included', () => {
    checkStage2Schema([...sparkSchema(), { name: 'extra', type: 'BOOLEAN' }], OBJ);
  });

  test('accepts bigint counts (a count() not cast to int)', () => {
    const schema = sparkSchema().map((el) => (el.name === 'total_count' ? { ...el, type: 'INT64' } : el));
    checkStage2Schema(schema, OBJ);
  });

  test('a missing column names the object, the column and what the file has', () => {
    const schema = sparkSchema().filter((el) => el.name !== 'total_count');
    assert.throws(
      () => checkStage2Schema(schema, OBJ),
      new RegExp(
        `^.*${OBJ}: column "total_count" is missing \\(the file has: s_id, date, impact_count, centroid_lon`,
      ),
    );
  });

  for (const [column, patch, shown] of [
    ['s_id', { type: 'INT64', converted_type: undefined, logical_type: undefined }, 'INT64'],
    [
      'date',
      { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
      'BYTE_ARRAY/STRING',
    ],
    ['impact_count', { type: 'DOUBLE' }, 'DOUBLE'],
    ['centroid_lat', { type: 'BYTE_ARRAY', converted_type: 'UTF8' }, 'BYTE_ARRAY/UTF8'],
  ] as const) {
    test(`a ${column} of type ${shown} is refused with both types`, () => {
      const schema = sparkSchema().map((el) => (el.name === column ? { ...el, ...patch } : el));
      assert.throws(
        () => checkStage2Schema(schema, OBJ),
        new RegExp(`column "${column}" has type ${shown.replace('/', '\\/')}, expected`),
      );
    });
  }

  test('a repeated column is refused', () => {
    const schema = sparkSchema().map((el) =>
      el.name === 's_id' ? { ...el, repetition_type: 'REPEATED' } : el,
    );
    assert.throws(
      () => checkStage2Schema(schema, OBJ),
      /column "s_id" has type BYTE_ARRAY\/STRING \(repeated\)/,
    );
  });
});

/** Decodes COPY BINARY tuples back into rows, to check what would reach PostgreSQL. */
function decodeTuples(buf: Buffer) {
  const rows: [string, number, number, number, number][] = [];
  let at = 0;
  while (at < buf.length) {
    assert.equal(buf.readInt16BE(at), 5);
    at += 2;
    const len = buf.readInt32BE(at);
    const sid = buf.toString('utf8', at + 4, at + 4 + len);
    at += 4 + len;
    assert.equal(buf.readInt32BE(at), 8);
    const lon = buf.readDoubleBE(at + 4);
    assert.equal(buf.readInt32BE(at + 12), 8);
    const lat = buf.readDoubleBE(at + 16);
    assert.equal(buf.readInt32BE(at + 24), 4);
    const impact = buf.readInt32BE(at + 28);
    assert.equal(buf.readInt32BE(at + 32), 4);
    const total = buf.readInt32BE(at + 36);
    at += 40;
    rows.push([sid, lon, lat, impact, total]);
  }
  return rows;
}

describe('encodeCopyRows', () => {
  const day = epochDay('2026-02-12');
  const ctx = { object: OBJ, firstRow: 1000, batchDate: '2026-02-12', day };
  const batch = (over: Partial<Record<keyof ColumnBatch, unknown[]>> = {}): ColumnBatch => ({
    s_id: ['A-1', '세종대로_7', 'C\t3'],
    date: [day, day, day],
    impact_count: [1, 9, 0],
    total_count: [5, 3, 0],
    centroid_lon: [126.97, 127.0000001, -180],
    centroid_lat: [37.5, 37.6, 90],
    ...over,
  });
  const counters = (): RowCounters => ({ rows: 0, impactExceedsTotal: 0, emptySegmentId: 0 });

  test('encodes each field exactly, UTF-8 ids and doubles bit for bit', () => {
    const c = counters();
    const rows = decodeTuples(encodeCopyRows(batch(), 0, 3, ctx, c));
    assert.deepEqual(rows, [
      ['A-1', 126.97, 37.5, 1, 5],
      ['세종대로_7', 127.0000001, 37.6, 9, 3],
      ['C\t3', -180, 90, 0, 0],
    ]);
    assert.deepEqual(c, { rows: 3, impactExceedsTotal: 1, emptySegmentId: 0 });
  });

  test('encodes only the requested range and accepts bigint counts', () => {
    const c = counters();
    const rows = decodeTuples(encodeCopyRows(batch({ impact_count: [1n, 2n, 3n] }), 1, 3, ctx, c));
    assert.deepEqual(
      rows.map((r) => [r[0], r[3]]),
      [
        ['세종대로_7', 2],
        ['C\t3', 3],
      ],
    );
  });

  test('empty or blank ids are counted and skipped, not loaded', () => {
    const c = counters();
    const rows = decodeTuples(encodeCopyRows(batch({ s_id: ['', 'B', '  '] }), 0, 3, ctx, c));
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['B'],
    );
    assert.deepEqual(c, { rows: 1, impactExceedsTotal: 1, emptySegmentId: 2 });
  });

  test('ids given as UTF-8 bytes (as the decoder hands them over) encode as the same ids', () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    const c = counters();
    const ids = ['A-1', '세종대로_7', ' \t', '\u00a0', 'C\t3'].map(bytes);
    const five = <T>(v: T) => [v, v, v, v, v];
    const rows = decodeTuples(
      encodeCopyRows(
        {
          s_id: ids,
          date: five(day),
          impact_count: five(1),
          total_count: five(2),
          centroid_lon: five(127),
          centroid_lat: five(37),
        },
        0,
        5,
        ctx,
        c,
      ),
    );
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['A-1', '세종대로_7', 'C\t3'],
    );
    assert.deepEqual(
      c,
      { rows: 3, impactExceedsTotal: 0, emptySegmentId: 2 },
      'blank ids, Unicode blanks too',
    );
    assert.throws(
      () =>
        encodeCopyRows({ ...batch(), s_id: [bytes('x'.repeat(51)), bytes('B'), bytes('C')] }, 0, 3, ctx, c),
      /row 1000: s_id "x+…" is longer than 50 characters/,
    );
  });

  test('each column may start at a row of its own', () => {
    const c = counters();
    const b = batch();
    const rows = decodeTuples(
      encodeCopyRows({ ...b, s_id: ['skipped', ...Array.from(b.s_id)] }, 1, 3, ctx, c, { s_id: -1 }),
    );
    assert.deepEqual(
      rows.map((r) => [r[0], r[3]]),
      [
        ['세종대로_7', 9],
        ['C\t3', 0],
      ],
    );
  });

  const refusals: [string, Partial<Record<keyof ColumnBatch, unknown[]>>, RegExp][] = [
    ['a null s_id', { s_id: ['A', null, 'C'] }, /row 1001: s_id is null/],
    [
      'an s_id longer than 50 characters',
      { s_id: ['A', 'x'.repeat(51), 'C'] },
      /row 1001: s_id "x+…" is longer than 50/,
    ],
    [
      'another date',
      { date: [day, day, day + 1] },
      /row 1002: date is 2026-02-13, expected the batch date 2026-02-12/,
    ],
    ['a negative count', { total_count: [5, -1, 0] }, /row 1001: total_count is -1, expected an int ≥ 0/],
    ['a null count', { impact_count: [null, 1, 1] }, /row 1000: impact_count is null/],
    [
      'a longitude out of range',
      { centroid_lon: [126, 181, 0] },
      /row 1001: centroid_lon is 181, expected -180\.\.180/,
    ],
    ['a NaN latitude', { centroid_lat: [37, 37, NaN] }, /row 1002: centroid_lat is NaN, expected -90\.\.90/],
    ['a null latitude', { centroid_lat: [null, 37, 37] }, /row 1000: centroid_lat is null/],
  ];
  for (const [what, over, message] of refusals) {
    test(`${what} is refused naming the object and the row`, () => {
      assert.throws(
        () => encodeCopyRows(batch(over), 0, 3, ctx, counters()),
        (err: Error) =>
          err.name === 'Stage2ContractError' && err.message.startsWith(OBJ) && message.test(err.message),
      );
    });
  }

  test('the COPY header is the PGCOPY signature with no flags', () => {
    assert.equal(COPY_BINARY_HEADER.toString('latin1', 0, 11), 'PGCOPY\n\xff\r\n\0');
    assert.equal(COPY_BINARY_HEADER.length, 19);
  });
});

describe('files and dates', () => {
  test('Spark part files are data; markers and checksum files are not', () => {
    assert.ok(isDataFile('part-00000-abc.c000.snappy.parquet'));
    assert.ok(isDataFile('region=seoul/part-00000-abc.c000.snappy.parquet'));
    assert.ok(!isDataFile('_SUCCESS'));
    assert.ok(!isDataFile('.part-00000-abc.c000.snappy.parquet.crc'));
    assert.ok(!isDataFile('_committed_123.parquet'));
    assert.ok(!isDataFile('part-00000-abc.c000.snappy.parquet.crc'));
  });

  test('nothing under a folder starting with _ or . is data, however deep, whatever its name', () => {
    const leftover =
      '_temporary/0/_temporary/attempt_202602120200_0003_m_000001_7/part-00001-abc.c000.snappy.parquet';
    assert.ok(!isDataFile(leftover));
    assert.ok(!isDataFile('_temporary/0/task_202602120200_0003_m_000001/part-00001.parquet'));
    assert.ok(!isDataFile('.spark-staging-1b2c/part-00000.parquet'));
    assert.ok(!isDataFile('region=seoul/_temporary/part-00000.parquet'));
    assert.ok(!isDataFile('region=seoul/.hidden/part-00000.parquet'));
  });

  test('epochDay counts days since 1970-01-01 as Parquet DATE does', () => {
    assert.equal(epochDay('1970-01-02'), 1);
    assert.equal(epochDay('2026-02-12'), 20496);
  });
});
