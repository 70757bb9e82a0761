/**
 * Stage2 row groups decoded in slices that fall on page boundaries, so a load holds a few pages of each
 * column at a time, whatever the size of the row groups Spark wrote (one 10M-row group included).
 *
 * The column chunks' offset indexes (which Spark and hyparquet-writer write by default) give every data
 * page's bytes and first row. Each column is read a window of whole pages at a time: hyparquet's
 * parquetRead with rowStart/rowEnd and useOffsetIndex reads and decodes only the pages holding those rows
 * (plus the dictionary page), and since a window starts and ends on pages of its own column, no page is
 * decoded twice. Columns' pages do not line up, so each column has its own window; rows are handed on up
 * to where the first window ends, and a column whose window is used up reads its next one. A column chunk
 * without an offset index is one window (the whole chunk, as before), and the heap is planned for it.
 * Free of Temporal, pg and AWS: it runs in the decoder thread.
 */
import { parquetRead, readOffsetIndex, type FileMetaData, type RowGroup } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { COLUMN_NAMES, Stage2ContractError, type OpenFile, type Stage2Column } from './contract';

/** A run of rows of one column that is decoded as a whole: a data page, or a chunk without offset index. */
export interface PageUnit {
  /** First row, counted from the row group's first row. */
  firstRow: number;
  rows: number;
  /** Its bytes in the file. */
  start: number;
  end: number;
}

/** One Stage2 column chunk of a row group, as slicing sees it. */
export interface ColumnLayout {
  column: Stage2Column;
  /** The chunk's bytes, dictionary page included. */
  chunkStart: number;
  chunkEnd: number;
  /** Where its first data page starts (after the dictionary page, when there is one). */
  dataStart: number;
  units: PageUnit[];
}

export interface GroupLayout {
  /** The group's first row, counted from the file's first row. */
  firstRow: number;
  rows: number;
  columns: ColumnLayout[];
}

type Range = [start: number, end: number];

function stage2Chunks(group: RowGroup) {
  return group.columns.filter((c) => COLUMN_NAMES.includes(c.meta_data?.path_in_schema[0] as Stage2Column));
}

/**
 * The bytes holding the offset indexes of every Stage2 column chunk of the file (writers put them
 * together before the footer), or undefined when no chunk has one.
 */
export function offsetIndexBlock(metadata: FileMetaData): Range | undefined {
  let start = Infinity;
  let end = 0;
  for (const group of metadata.row_groups) {
    for (const c of stage2Chunks(group)) {
      if (!c.offset_index_offset || !c.offset_index_length) continue;
      start = Math.min(start, Number(c.offset_index_offset));
      end = Math.max(end, Number(c.offset_index_offset) + c.offset_index_length);
    }
  }
  return start < end ? [start, end] : undefined;
}

/**
 * Every row group's Stage2 columns with their pages, read from the offset index block (`bytes`, which
 * starts at file offset `at`). A chunk without an offset index is one unit.
 */
export function groupLayouts(
  metadata: FileMetaData,
  index?: { bytes: ArrayBuffer; at: number },
): GroupLayout[] {
  let firstRow = 0;
  return metadata.row_groups.map((group) => {
    const rows = Number(group.num_rows);
    const columns = COLUMN_NAMES.map((column): ColumnLayout => {
      const chunk = stage2Chunks(group).find((c) => c.meta_data!.path_in_schema[0] === column);
      if (!chunk) throw new Error(`row group without column ${column}`);
      const meta = chunk.meta_data!;
      const chunkStart = Number(meta.dictionary_page_offset || meta.data_page_offset);
      const chunkEnd = chunkStart + Number(meta.total_compressed_size);
      const whole: ColumnLayout = {
        column,
        chunkStart,
        chunkEnd,
        dataStart: Number(meta.data_page_offset),
        units: [{ firstRow: 0, rows, start: chunkStart, end: chunkEnd }],
      };
      const offset = Number(chunk.offset_index_offset ?? 0);
      const length = chunk.offset_index_length ?? 0;
      if (!index || !length || offset < index.at || offset + length > index.at + index.bytes.byteLength) {
        return whole;
      }
      const view = new DataView(index.bytes, offset - index.at, length);
      const pages = readOffsetIndex({ view, offset: 0 }).page_locations;
      if (pages.length === 0) return whole;
      const units = pages.map((p, i) => {
        const first = Number(p.first_row_index);
        const next = pages[i + 1];
        return {
          firstRow: first,
          rows: (next ? Number(next.first_row_index) : rows) - first,
          start: Number(p.offset),
          end: Number(p.offset) + p.compressed_page_size,
        };
      });
      return { ...whole, dataStart: units[0]!.start, units };
    });
    const layout = { firstRow, rows, columns };
    firstRow += rows;
    return layout;
  });
}

/** The end (exclusive unit index) of a window starting at unit `from`: whole units, at least `target` rows. */
function windowEnd(layout: ColumnLayout, from: number, target: number): number {
  let to = from;
  let rows = 0;
  while (to < layout.units.length && (to === from || rows < target)) rows += layout.units[to++]!.rows;
  return to;
}

/** The most rows of one column decoded at once: the longest window of that column in any group. */
export function largestWindows(groups: GroupLayout[], target: number): Record<Stage2Column, number> {
  const largest = Object.fromEntries(COLUMN_NAMES.map((c) => [c, 0])) as Record<Stage2Column, number>;
  for (const g of groups) {
    for (const layout of g.columns) {
      for (let from = 0; from < layout.units.length;) {
        const to = windowEnd(layout, from, target);
        const rows = layout.units.slice(from, to).reduce((n, u) => n + u.rows, 0);
        largest[layout.column] = Math.max(largest[layout.column], rows);
        from = to;
      }
    }
  }
  return largest;
}

// Keep DATE as the day number: cheaper than a Date per row and compared to the batch day directly. Keep
// strings (s_id) as their UTF-8 bytes: encodeCopyRows copies ASCII ids into COPY as they are, which is
// several times cheaper than a TextDecoder call per value and a re-encoding of each string.
const parsers = { dateFromDays: (days: number) => days, stringFromBytes: (bytes: Uint8Array) => bytes };

/** Decodes units [from, to) of one column chunk: exactly their rows. */
async function readWindow(
  file: Pick<OpenFile, 'url' | 'buffer' | 'metadata'>,
  group: GroupLayout,
  groupIndex: number,
  layout: ColumnLayout,
  from: number,
  to: number,
): Promise<ArrayLike<unknown>> {
  const first = layout.units[from]!.firstRow;
  const last = layout.units[to - 1]!;
  const rowStart = group.firstRow + first;
  const rowEnd = group.firstRow + last.firstRow + last.rows;
  const rows = rowEnd - rowStart;
  const chunks: { rowStart: number; data: ArrayLike<unknown> }[] = [];
  try {
    await parquetRead({
      file: file.buffer,
      metadata: file.metadata,
      columns: [layout.column],
      rowStart,
      rowEnd,
      useOffsetIndex: true,
      compressors,
      parsers,
      onChunk: (chunk) => chunks.push({ rowStart: chunk.rowStart, data: chunk.columnData }),
    });
  } catch (err) {
    throw new Stage2ContractError(
      `${file.url}: row group ${groupIndex}, column "${layout.column}" (rows ${rowStart}..${rowEnd - 1}) ` +
        `cannot be decoded: ${(err as Error).message}`,
    );
  }
  const only = chunks.length === 1 ? chunks[0] : undefined;
  if (only && only.rowStart === rowStart && only.data.length === rows) return only.data;
  const merged: unknown[] = new Array(rows);
  let filled = 0;
  for (const c of chunks) {
    const lo = Math.max(0, rowStart - c.rowStart);
    const hi = Math.min(c.data.length, rowEnd - c.rowStart);
    for (let i = lo; i < hi; i++) merged[c.rowStart + i - rowStart] = c.data[i];
    filled += Math.max(0, hi - lo);
  }
  if (filled !== rows) {
    throw new Stage2ContractError(
      `${file.url}: row group ${groupIndex}: column "${layout.column}" decoded ${filled} of ${rows} values ` +
        `of rows ${rowStart}..${rowEnd - 1}`,
    );
  }
  return merged;
}

/** One column's decoded rows [first, first + values.length) of the group. */
export interface ColumnWindow {
  values: ArrayLike<unknown>;
  first: number;
}

/** Rows [from, to) of a group, each column in its own window (rows counted from the group's first row). */
export interface RowSlice {
  url: string;
  /** The group's first row, counted from the file's first row. */
  groupFirstRow: number;
  from: number;
  to: number;
  columns: Record<Stage2Column, ColumnWindow>;
}

export interface SlicedFile extends Pick<OpenFile, 'url' | 'buffer' | 'metadata'> {
  groups: GroupLayout[];
  /** Starts fetching a byte range: reads within it are served from it until it is forgotten. */
  prefetch?: (start: number, end: number) => void;
  /** Drops the fetched ranges that lie within [start, end). */
  forget?: (start: number, end: number) => void;
}

/**
 * Bytes fetched at once. Every GET has a cost of its own (S3 bills and delays each one; the local
 * emulator even reads the whole object for each), so a row group whose Stage2 columns are small is
 * fetched in one piece; a larger one is read this many bytes at a time, each column in runs of whole
 * pages of its share (a column of a third of the group's bytes in runs of a third of this), so the
 * columns' runs together hold about this much whatever the group's size. 10 MB rather than 16: measured on
 * one 10M-row group, 296 MB peak RSS against 307 MB (and a slower copy against the local emulator only).
 */
const GROUP_READ_BYTES = 10 * 1048576;

/**
 * A run of whole windows of one column fetched at once. Runs end where windows end: a window across two
 * runs would be read apart from both, its pages twice. The dictionary page is not in any run: it is
 * fetched on its own and held for the whole group (hyparquet reads it again for every window), so a run
 * can be let go as soon as its windows are decoded.
 */
export interface ReadRun {
  fromUnit: number;
  toUnit: number;
  start: number;
  end: number;
}

/** The runs of a column chunk: windows of `target` rows (one page each when omitted) up to `maxBytes`. */
export function readRuns(layout: ColumnLayout, maxBytes: number, target = 0): ReadRun[] {
  const runs: ReadRun[] = [];
  const units = layout.units;
  const unitEnd = (to: number) => (to === units.length ? layout.chunkEnd : units[to - 1]!.end);
  for (let from = 0; from < units.length;) {
    const start = units[from]!.start;
    let to = windowEnd(layout, from, target);
    for (;;) {
      if (to === units.length) break;
      const next = windowEnd(layout, to, target);
      if (unitEnd(next) - start > maxBytes) break;
      to = next;
    }
    runs.push({ fromUnit: from, toUnit: to, start, end: unitEnd(to) });
    from = to;
  }
  return runs;
}

/** A column's share of `bytes`, in proportion to its part of the group's Stage2 bytes. */
export function columnShare(group: GroupLayout, layout: ColumnLayout, bytes: number): number {
  const [start, end] = groupRange(group);
  return Math.floor((bytes * (layout.chunkEnd - layout.chunkStart)) / Math.max(1, end - start));
}

/** The bytes of a row group's Stage2 columns. */
function groupRange(group: GroupLayout): Range {
  return [
    Math.min(...group.columns.map((c) => c.chunkStart)),
    Math.max(...group.columns.map((c) => c.chunkEnd)),
  ];
}

/**
 * A slice of the columns' current windows. Built outside the generator on purpose: a local of the
 * generator referencing the windows would keep a used-up window alive while its successor is decoded.
 */
function sliceOf(
  url: string,
  groupFirstRow: number,
  from: number,
  to: number,
  state: { layout: ColumnLayout; window?: ColumnWindow }[],
): RowSlice {
  const columns = {} as Record<Stage2Column, ColumnWindow>;
  for (const s of state) columns[s.layout.column] = s.window!;
  return { url, groupFirstRow, from, to, columns };
}

/**
 * The rows of every file, in file and row order, a slice at a time: each slice ends where the first of
 * the columns' current windows ends. Bytes are fetched ahead: the next row group while this one is
 * decoded, or, for a large group, each column's next run of pages when its current run's last window is
 * decoded.
 */
export async function* rowSlices(
  files: SlicedFile[],
  target: number,
  reads: { groupBytes: number } = { groupBytes: GROUP_READ_BYTES },
): AsyncGenerator<RowSlice> {
  const plan = files.flatMap((file) => file.groups.map((group, index) => ({ file, group, index })));
  const whole = (g: GroupLayout) => {
    const [start, end] = groupRange(g);
    return end - start <= reads.groupBytes;
  };
  const fetched = new Set<GroupLayout>();
  const fetchGroup = (p: (typeof plan)[number] | undefined) => {
    if (!p || !whole(p.group) || fetched.has(p.group)) return;
    fetched.add(p.group);
    p.file.prefetch?.(...groupRange(p.group));
  };
  for (const [i, { file, group, index: g }] of plan.entries()) {
    fetchGroup(plan[i]);
    fetchGroup(plan[i + 1]);
    const inOnePiece = whole(group);
    const state = group.columns.map((layout) => ({
      layout,
      next: 0,
      window: undefined as (ColumnWindow & { end: number }) | undefined,
      runs: inOnePiece ? [] : readRuns(layout, columnShare(group, layout, reads.groupBytes), target),
      /** Runs fetched so far. */
      fetchedRuns: 0,
    }));
    for (const s of state) {
      if (s.runs.length > 0 && s.layout.units[0]!.start > s.layout.chunkStart) {
        file.prefetch?.(s.layout.chunkStart, s.layout.units[0]!.start); // the dictionary page
      }
    }
    for (let at = 0; at < group.rows;) {
      for (const s of state) {
        if (s.window && s.window.end > at) continue;
        const from = s.next;
        const to = windowEnd(s.layout, from, target);
        s.window = undefined; // let the used-up window go before the next one is decoded
        s.next = to;
        // Every run this window reads, and the one after it, are fetched; those behind it are dropped.
        while (s.fetchedRuns < s.runs.length && s.runs[s.fetchedRuns]!.fromUnit <= to) {
          const run = s.runs[s.fetchedRuns++]!;
          file.prefetch?.(run.start, run.end);
        }
        for (const run of s.runs) if (run.toUnit <= from) file.forget?.(run.start, run.end);
        const first = s.layout.units[from]!.firstRow;
        const values = await readWindow(file, group, g, s.layout, from, to);
        s.window = { values, first, end: first + values.length };
      }
      const to = Math.min(...state.map((s) => s.window!.end));
      yield sliceOf(file.url, group.firstRow, at, to, state);
      at = to;
    }
    file.forget?.(...groupRange(group));
  }
}
