import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parquetMetadata } from 'hyparquet';
import { writeStage2Parquet, type Stage2Columns, type WriteOptions } from '../../../bench/stage2-parquet';
import { COLUMN_NAMES } from '../../../src/activities/load/contract';
import { decodePlan, decoderHeapMb } from '../../../src/activities/load/decoder-session';
import {
  groupLayouts,
  offsetIndexBlock,
  columnShare,
  readRuns,
  rowSlices,
  type RowSlice,
  type SlicedFile,
} from '../../../src/activities/load/slices';
import { readAhead } from '../../../src/activities/load/read-ahead';

const DAY = 20_496; // 2026-02-12
const utf8 = new TextDecoder();

function columns(rows: number): Stage2Columns {
  return {
    // Not in s_id order, as Spark writes them; distinct, so the column is plain-encoded.
    s_id: Array.from({ length: rows }, (_, i) => `SEG_${String((i * 7_919) % rows).padStart(8, '0')}`),
    date: new Array<number>(rows).fill(DAY),
    impact_count: Array.from({ length: rows }, (_, i) => i % 30),
    total_count: Array.from({ length: rows }, (_, i) => 30 + (i % 400)),
    centroid_lon: Array.from({ length: rows }, (_, i) => 126 + i / rows),
    centroid_lat: Array.from({ length: rows }, (_, i) => 37 + i / rows),
  };
}

/** A Parquet file in memory, opened as the decoder thread opens one, recording the byte ranges read. */
function open(data: Stage2Columns, options: WriteOptions) {
  const written = writeStage2Parquet(data, options);
  const bytes = written.buffer.slice(
    written.byteOffset,
    written.byteOffset + written.byteLength,
  ) as ArrayBuffer;
  const metadata = parquetMetadata(bytes);
  const block = offsetIndexBlock(metadata);
  const groups = groupLayouts(metadata, block && { bytes: bytes.slice(...block), at: block[0] });
  const reads: [number, number][] = [];
  const file: SlicedFile = {
    url: 's3://b/stage2/dt=2026-02-12/part-00000.snappy.parquet',
    metadata,
    groups,
    buffer: {
      byteLength: bytes.byteLength,
      slice: (start: number, end = bytes.byteLength) => {
        reads.push([start, end]);
        return bytes.slice(start, end);
      },
    },
  };
  return { file, reads, block };
}

async function collect(
  files: SlicedFile[],
  target: number,
  reads?: Parameters<typeof rowSlices>[2],
): Promise<RowSlice[]> {
  const slices: RowSlice[] = [];
  for await (const s of rowSlices(files, target, reads)) slices.push(s);
  return slices;
}

/**
 * The file as the decoder thread reads it (read-ahead.ts): ranges fetched ahead serve the reads they
 * cover until they are forgotten; `gets` records every fetch, `direct` the reads no fetched range held,
 * `peakHeld` the most bytes held at once.
 */
function fetching(file: SlicedFile, block: [number, number] | undefined) {
  const source = file.buffer;
  const gets: [number, number][] = [];
  const direct: [number, number][] = [];
  const prefetching = new Set<string>();
  const pinned = block && { bytes: source.slice(...block) as ArrayBuffer, at: block[0] };
  const remote = readAhead(
    source.byteLength,
    async (start, end) => {
      gets.push([start, end]);
      if (!prefetching.has(`${start}-${end}`)) direct.push([start, end]);
      return source.slice(start, end);
    },
    pinned,
  );
  const heldBytes = () => remote.held().reduce((n, [start, end]) => n + end - start, 0);
  const stats = { peakHeld: 0, held: heldBytes, ranges: () => remote.held() };
  const fetched: SlicedFile = {
    ...file,
    buffer: remote.buffer,
    prefetch: (start, end) => {
      prefetching.add(`${start}-${end}`);
      remote.prefetch!(start, end);
      stats.peakHeld = Math.max(stats.peakHeld, heldBytes());
    },
    forget: remote.forget,
  };
  return { fetched, stats, gets, direct };
}

/** One 120,000-row group whose distinct ids are forced into a dictionary: a page of ~2 MB (~0.7 MB compressed). */
function dictionaryGroup() {
  const rows = 120_000;
  const data = columns(rows);
  const { file, block } = open(data, {
    rowGroupSize: rows,
    pageSize: 16 * 1024,
    encodings: { s_id: 'RLE_DICTIONARY' },
  });
  const ids = file.groups[0]!.columns.find((c) => c.column === 's_id')!;
  return { data, file, block, ids };
}

/** Every row of the slices, file-relative, checked against the written columns. */
function assertRows(slices: RowSlice[], data: Stage2Columns) {
  let next = 0;
  for (const s of slices) {
    assert.equal(s.groupFirstRow + s.from, next, 'slices follow each other without gap or overlap');
    for (let i = s.from; i < s.to; i++) {
      for (const name of COLUMN_NAMES) {
        const w = s.columns[name];
        const expected = (data[name] as ArrayLike<unknown>)[s.groupFirstRow + i];
        const value = w.values[i - w.first];
        // s_id comes as its UTF-8 bytes, which encodeCopyRows copies into COPY.
        const shown = value instanceof Uint8Array ? utf8.decode(value) : value;
        assert.equal(shown, expected, `${name} of row ${s.groupFirstRow + i}`);
      }
    }
    next = s.groupFirstRow + s.to;
  }
  assert.equal(next, data.s_id.length, 'every row comes out');
}

describe('row slices', () => {
  test('every row of several row groups of several pages comes out once, in order, with its values', async () => {
    const data = columns(50_000);
    const { file } = open(data, { rowGroupSize: 20_000, pageSize: 16 * 1024 });
    assert.equal(file.groups.length, 3);
    for (const g of file.groups) {
      for (const c of g.columns) {
        assert.ok(c.units.length > 1 || c.column === 'date', `${c.column} has several pages`);
        assert.equal(
          c.units.reduce((n, u) => n + u.rows, 0),
          g.rows,
          `the pages of ${c.column} cover the group`,
        );
      }
    }
    assertRows(await collect([file], 4_096), data);
  });

  test('one huge row group is decoded a window of whole pages at a time, never whole', async () => {
    const rows = 300_000;
    const data = columns(rows);
    const { file } = open(data, { rowGroupSize: rows, pageSize: 64 * 1024 });
    assert.equal(file.groups.length, 1);
    const target = 8_192;
    const slices = await collect([file], target);
    assertRows(slices, data);
    const pageStarts = new Map(
      file.groups[0]!.columns.map((c) => [c.column, new Set(c.units.map((u) => u.firstRow))]),
    );
    for (const s of slices) {
      for (const name of COLUMN_NAMES) {
        const w = s.columns[name];
        assert.ok(pageStarts.get(name)!.has(w.first), `a window of ${name} starts on one of its pages`);
        const largestPage = Math.max(
          ...file.groups[0]!.columns.find((c) => c.column === name)!.units.map((u) => u.rows),
        );
        assert.ok(w.values.length < target + largestPage, `a window of ${name} holds a few pages`);
      }
    }
    const plan = decodePlan([file], target);
    assert.ok(plan.windows.s_id < rows / 10, 'the heap is planned for windows, not for the group');
    assert.ok(decoderHeapMb(plan) < decoderHeapMb({ ...plan, windows: { ...plan.windows, s_id: rows } }));
  });

  test('no data page is read twice', async () => {
    const data = columns(100_000);
    const { file, reads, block } = open(data, { rowGroupSize: 100_000, pageSize: 32 * 1024 });
    await collect([file], 4_096);
    const pages = file.groups[0]!.columns.flatMap((c) => c.units);
    for (const page of pages) {
      const readingIt = reads.filter(([start, end]) => start <= page.start && end >= page.end);
      assert.equal(readingIt.length, 1, `page at ${page.start} read once`);
    }
    assert.ok(block, 'the file has offset indexes');
  });

  test('a column chunk without offset index is one window', async () => {
    // One page per column: hyparquet-writer writes no offset index then, like parquet-mr before 1.11.
    const data = columns(10_000);
    const { file, block } = open(data, { rowGroupSize: 10_000, pageSize: 1 << 30 });
    assert.equal(block, undefined);
    for (const c of file.groups[0]!.columns) assert.deepEqual(c.units.length, 1);
    assertRows(await collect([file], 1_000), data);
    assert.equal(decodePlan([file], 1_000).windows.s_id, 10_000);
  });

  test('a small row group is fetched in one read, while the one before it is decoded', async () => {
    const data = columns(50_000);
    const { file, block } = open(data, { rowGroupSize: 20_000, pageSize: 16 * 1024 });
    const { fetched, stats, gets } = fetching(file, block);
    assertRows(await collect([fetched], 4_096), data);
    assert.equal(gets.length, 3, 'one read per row group');
    assert.equal(stats.held(), 0, 'nothing is held once the file is done');
  });

  test('one row group with a large dictionary-encoded s_id column loads, fetched in runs, no page twice', async () => {
    const { data, file, block, ids } = dictionaryGroup();
    assert.ok(ids.dataStart - ids.chunkStart > 512 * 1024, 's_id has a large dictionary page (compressed)');
    assert.ok(ids.units.length > 3, 's_id has several data pages');
    const { fetched, stats, gets, direct } = fetching(file, block);
    const groupBytes = 256 * 1024;
    assertRows(await collect([fetched], 4_096, { groupBytes }), data);
    assert.deepEqual(direct, [], 'every read is served from a fetched run');
    const sorted = [...gets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      assert.ok(sorted[i]![0] >= sorted[i - 1]![1], `no byte is fetched twice (${sorted[i]![0]})`);
    }
    assert.ok(gets.length > COLUMN_NAMES.length, 'the group is fetched in runs, not whole');
    const plan = decodePlan([file], 4_096);
    assert.ok(plan.dictionaryBytes! > 512 * 1024, 'the heap is planned for the dictionary too');
    assert.ok(decoderHeapMb(plan) > decoderHeapMb({ ...plan, dictionaryBytes: 0 }));
    assert.equal(stats.held(), 0, 'nothing is held once the file is done');
  });

  test("a large group holds each column's dictionary page and at most two runs of its pages, never the first run to the end", async () => {
    const { data, file, block, ids } = dictionaryGroup();
    const { fetched, stats } = fetching(file, block);
    const lastPage = ids.units.at(-1)!;
    let firstPageHeldAtTheEnd: boolean | undefined;
    const read = fetched.buffer.slice;
    fetched.buffer.slice = (start: number, end?: number) => {
      if (start <= lastPage.start && (end ?? Infinity) >= lastPage.end) {
        const first = ids.units[0]!;
        firstPageHeldAtTheEnd = stats.ranges().some(([s, e]) => s <= first.start && e >= first.end);
      }
      return read(start, end);
    };
    const groupBytes = 256 * 1024;
    assertRows(await collect([fetched], 4_096, { groupBytes }), data);
    assert.equal(firstPageHeldAtTheEnd, false, "s_id's first pages were let go before its last was read");
    const dictionaries = file.groups[0]!.columns.reduce((n, c) => n + c.units[0]!.start - c.chunkStart, 0);
    const largestPage = Math.max(
      ...file.groups[0]!.columns.flatMap((c) => c.units.map((u) => u.end - u.start)),
    );
    // Each column's current run (its share of groupBytes) and, during its run's last window, its next.
    const bound = dictionaries + 2 * groupBytes + COLUMN_NAMES.length * 2 * largestPage;
    assert.ok(stats.peakHeld <= bound, `held at most ${bound} bytes at once (held ${stats.peakHeld})`);
  });

  test('a used-up window is let go before the next window of its column is decoded', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const data = columns(100_000);
    const { file, block } = open(data, { rowGroupSize: 100_000, pageSize: 32 * 1024 });
    const ids = file.groups[0]!.columns.find((c) => c.column === 's_id')!;
    const first: { window?: WeakRef<object> } = {};
    let alive: boolean | undefined;
    const { fetched } = fetching(file, block);
    const read = fetched.buffer.slice;
    fetched.buffer.slice = async (start: number, end?: number) => {
      // The read of s_id's second window: its first window must be garbage by now.
      if (first.window && alive === undefined && start === ids.units[1]!.start) {
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        alive = first.window.deref() !== undefined;
      }
      return read(start, end);
    };
    const slices = rowSlices([fetched], 1);
    // Taken in a function of its own, so that nothing here holds the slice once it returns.
    const watch = async () => new WeakRef((await slices.next()).value!.columns.s_id.values as object);
    first.window = await watch();
    await new Promise((resolve) => setImmediate(resolve));
    while (!(await slices.next()).done);
    assert.equal(alive, false, 'the first s_id window was let go');
  });

  test("a large group is read in runs of whole pages, each column's runs its share of the bytes read at once", () => {
    const { file } = open(columns(100_000), { rowGroupSize: 100_000, pageSize: 16 * 1024 });
    const group = file.groups[0]!;
    const shares = group.columns.map((layout) => columnShare(group, layout, 1_000_000));
    const total = shares.reduce((n, b) => n + b, 0);
    assert.ok(total <= 1_000_000 && total > 1_000_000 - shares.length, `the shares add up (${total})`);
    const ids = group.columns.findIndex((c) => c.column === 's_id');
    const dates = group.columns.findIndex((c) => c.column === 'date');
    assert.ok(shares[ids]! > 10 * shares[dates]!, "s_id's share is larger than the constant date's");
    for (const layout of file.groups[0]!.columns) {
      const runs = readRuns(layout, 64 * 1024);
      assert.equal(runs[0]!.start, layout.units[0]!.start, 'the dictionary page is fetched apart');
      assert.equal(runs.at(-1)!.end, layout.chunkEnd);
      for (const [i, run] of runs.entries()) {
        if (i > 0) assert.equal(run.fromUnit, runs[i - 1]!.toUnit, 'runs follow each other');
        assert.ok(
          run.toUnit - run.fromUnit === 1 || run.end - run.start <= 64 * 1024,
          'a run is at most the size asked, or one page',
        );
      }
    }
  });
});
