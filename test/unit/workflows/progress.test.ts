/** The one-line detail a run's progress shows for refresh_views: what the on-call engineer reads in `pothole status`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detailOf } from '../../../src/workflows/progress';

const views = [
  { name: 'mvw_dashboard_heatmap', seconds: 1 },
  { name: 'mvw_dashboard_weekly_stats', seconds: 0.1 },
  { name: 'mvw_dashboard_repair_priority', seconds: 2 },
];

describe('refresh_views detail', () => {
  it('names the retired days and the repairs being checked', () => {
    assert.equal(
      detailOf({
        views,
        repairChecks: { opened: 1, ended: 0, changed: 1, verdicts: { 확인중: 2, '효과 확인': 1, 재발: 1 } },
        retired: { days: ['2025-11-01', '2025-11-02'], leftForNextTime: [] },
      }),
      '3 views refreshed; repairs being checked: 2 확인중, 1 효과 확인, 1 재발; retired 2 day(s) past SERVING_KEEP_DAYS (2025-11-01 … 2025-11-02)',
    );
  });

  it('says when retiring failed, and stays as before for runs recorded before the history', () => {
    assert.equal(
      detailOf({
        views,
        retired: { days: [], leftForNextTime: [], error: 'canceling statement due to lock timeout' },
      }),
      '3 views refreshed; retiring old days failed, the next refresh tries again: canceling statement due to lock timeout',
    );
    assert.equal(detailOf({ views }), '3 views refreshed');
  });
});
