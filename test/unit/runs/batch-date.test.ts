import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchDateOf } from '../../../src/runs/batch-date';

describe('batch dates of runs', () => {
  it('are read from our ids, the schedule ids and backfill ids', () => {
    assert.equal(batchDateOf('pothole-pipeline-2026-02-12'), '2026-02-12');
    // The nightly slot for the 12th is 02:00 in Seoul on the 13th, 17:00 UTC on the 12th.
    assert.equal(batchDateOf('pothole-pipeline-scheduled-2026-02-12T17:00:00Z'), '2026-02-12');
    assert.equal(batchDateOf('pothole-backfill-2026-02-01-2026-02-07'), '2026-02-01..2026-02-07');
    assert.equal(batchDateOf('something-else'), undefined);
  });
});
