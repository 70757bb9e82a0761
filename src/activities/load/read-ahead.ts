/**
 * A Parquet file read through byte ranges fetched ahead: a read is served from the ranges held when they
 * cover it (one range, or several that follow each other: the first window of a chunk reads its
 * dictionary page and its first pages at once), else fetched on its own. Free of AWS and threads: the
 * decoder thread builds one per file on top of its requests to the main thread.
 */
import type { SlicedFile } from './slices';

export type Fetch = (start: number, end: number) => Promise<ArrayBuffer>;

interface Held {
  start: number;
  end: number;
  bytes: Promise<ArrayBuffer>;
}

export interface ReadAheadFile extends Pick<SlicedFile, 'prefetch' | 'forget'> {
  buffer: SlicedFile['buffer'];
  /** The byte ranges held now (fetched or in flight), [start, end). */
  held(): [number, number][];
}

/**
 * `pinned` is held for as long as the file (its offset index block: hyparquet reads a chunk's offset
 * index again for every window).
 */
export function readAhead(
  byteLength: number,
  fetch: Fetch,
  pinned?: { bytes: ArrayBuffer; at: number },
): ReadAheadFile {
  let held: Held[] = [];
  const within = (h: { start: number; end: number }, start: number, end: number) =>
    start >= h.start && end <= h.end;

  /** The held ranges that cover [start, end) one after the other, or undefined. */
  function cover(start: number, end: number): Held[] | undefined {
    const parts: Held[] = [];
    for (let at = start; at < end;) {
      const h = held.find((r) => r.start <= at && r.end > at);
      if (!h) return undefined;
      parts.push(h);
      at = h.end;
    }
    return parts;
  }

  return {
    held: () => held.map((h): [number, number] => [h.start, h.end]),
    buffer: {
      byteLength,
      async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
        if (pinned && within({ start: pinned.at, end: pinned.at + pinned.bytes.byteLength }, start, end)) {
          return pinned.bytes.slice(start - pinned.at, end - pinned.at);
        }
        const parts = end > start ? cover(start, end) : undefined;
        if (!parts) return fetch(start, end);
        if (parts.length === 1) {
          const [h] = parts as [Held];
          return (await h.bytes).slice(start - h.start, end - h.start);
        }
        const out = new Uint8Array(end - start);
        for (const h of parts) {
          const bytes = new Uint8Array(await h.bytes);
          const from = Math.max(start, h.start);
          const to = Math.min(end, h.end);
          out.set(bytes.subarray(from - h.start, to - h.start), from - start);
        }
        return out.buffer;
      },
    },
    prefetch(start: number, end: number) {
      if (end <= start) return;
      const bytes = fetch(start, end);
      bytes.catch(() => undefined); // a failed fetch ahead is retried by the read itself
      held.push({ start, end, bytes: bytes.catch(() => fetch(start, end)) });
    },
    forget(start: number, end: number) {
      held = held.filter((h) => !within({ start, end }, h.start, h.end));
    },
  };
}
