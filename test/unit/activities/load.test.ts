import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextDay, partitionName, qualityFindings } from '../../../src/activities/load';
import { decoderHeapMb } from '../../../src/activities/load/decoder-session';

describe('qualityFindings', () => {
  test('nothing to report gives no warnings', () => {
    const q = qualityFindings(
      { rows: 100, impactExceedsTotal: 0, emptySegmentId: 0 },
      { date: '2026-02-11', rows: 120 },
    );
    assert.deepEqual(q, {
      impactExceedsTotal: 0,
      emptySegmentId: 0,
      previousRowCount: 120,
      rowCountChange: (100 - 120) / 120,
      warnings: [],
    });
  });

  test('impact > total and empty ids are reported with their counts', () => {
    const q = qualityFindings({ rows: 100, impactExceedsTotal: 3, emptySegmentId: 1200 }, null);
    assert.deepEqual(q.warnings, [
      'impact_count가 total_count보다 큰 행 3건',
      's_id가 비어 있어 적재하지 않은 행 1,200건',
    ]);
    assert.equal(q.previousRowCount, null);
    assert.equal(q.rowCountChange, null);
  });

  test('a row count change beyond ±50 % against the previous loaded date is reported', () => {
    const up = qualityFindings(
      { rows: 151, impactExceedsTotal: 0, emptySegmentId: 0 },
      { date: '2026-02-10', rows: 100 },
    );
    assert.deepEqual(up.warnings, ['행 수 급변: 151건, 직전 적재일(2026-02-10) 100건 대비 +51.0%']);
    const down = qualityFindings(
      { rows: 49, impactExceedsTotal: 0, emptySegmentId: 0 },
      { date: '2026-02-10', rows: 100 },
    );
    assert.match(down.warnings[0]!, /-51\.0%$/);
    const edge = qualityFindings(
      { rows: 150, impactExceedsTotal: 0, emptySegmentId: 0 },
      { date: '2026-02-10', rows: 100 },
    );
    assert.deepEqual(edge.warnings, []);
  });
});

describe('naming', () => {
  test('day partitions are named by date and bounded by the next day, across month and year ends', () => {
    assert.equal(partitionName('2026-02-12'), 'pothole_segments_20260212');
    assert.equal(nextDay('2026-02-28'), '2026-03-01');
    assert.equal(nextDay('2028-02-28'), '2028-02-29');
    assert.equal(nextDay('2026-12-31'), '2027-01-01');
  });
});

describe('decoderHeapMb', () => {
  const windows = (sid: number, others: number) => ({
    s_id: sid,
    date: others,
    impact_count: others,
    total_count: others,
    centroid_lon: others,
    centroid_lat: others,
  });

  test('grows with the largest window of each column and the length of the ids', () => {
    assert.equal(decoderHeapMb({ windows: windows(0, 0), idBytes: 0 }), 24);
    const small = decoderHeapMb({ windows: windows(32_768, 32_768), idBytes: 16 });
    assert.equal(decoderHeapMb({ windows: windows(32_768, 32_768), idBytes: 54 }) > small, true);
    assert.equal(decoderHeapMb({ windows: windows(32_768, 262_143), idBytes: 16 }) > small, true);
  });

  test('pages, not row groups, set it: windows of 1 MB pages stay under 100 MB', () => {
    assert.ok(decoderHeapMb({ windows: windows(87_381, 262_143), idBytes: 16 }) < 100);
    assert.ok(
      decoderHeapMb({ windows: windows(5_000_000, 5_000_000), idBytes: 16 }) > 1_000,
      'a chunk without offset index is one window, and gets the heap it needs',
    );
  });
});
