import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addDays,
  dateRange,
  daysInRange,
  runSteps,
  STEPS,
  validateBatchDate,
  workflowIdFor,
  yesterdayInSeoul,
} from '../../../src/shared/steps';

describe('batch dates', () => {
  it('accepts a real calendar date written YYYY-MM-DD', () => {
    assert.equal(validateBatchDate('2026-02-12'), '2026-02-12');
    assert.equal(validateBatchDate('2024-02-29'), '2024-02-29');
  });

  for (const bad of [
    '2026-02-30',
    '2025-02-29',
    '2026-13-01',
    '26-02-12',
    '2026-2-12',
    '2026-02-12; rm -rf /',
    '',
    ' 2026-02-12',
  ]) {
    it(`rejects ${JSON.stringify(bad)} with a message naming it`, () => {
      const v = validateBatchDate(bad);
      assert.equal(typeof v, 'object');
      assert.match((v as { error: string }).error, /batch date/);
      assert.ok((v as { error: string }).error.includes(JSON.stringify(bad)));
    });
  }

  it('a year before 1000 is not written YYYY-MM-DD, never "not a real calendar date"', () => {
    for (const bad of ['0999-01-01', '0026-02-12', '0000-01-01', '0099-12-31']) {
      assert.deepEqual(validateBatchDate(bad), {
        error: `batch date "${bad}" is not written YYYY-MM-DD (a year from 1000 to 9999)`,
      });
    }
    assert.deepEqual(validateBatchDate('999-01-01'), {
      error: 'batch date "999-01-01" is not written YYYY-MM-DD',
    });
    assert.equal(validateBatchDate('1000-01-01'), '1000-01-01');
    assert.equal(validateBatchDate('9999-12-31'), '9999-12-31');
  });

  it('rejects non-strings', () => {
    assert.deepEqual(validateBatchDate(20260212), {
      error: 'batch date must be a string YYYY-MM-DD, got number',
    });
  });

  it('yesterday is computed in Asia/Seoul, not UTC', () => {
    // 2026-02-12 17:00 UTC is 02:00 on the 13th in Seoul: the nightly slot processes the 12th.
    assert.equal(yesterdayInSeoul(new Date('2026-02-12T17:00:00Z')), '2026-02-12');
    // 2026-02-12 14:59 UTC is 23:59 on the 12th in Seoul: yesterday is the 11th.
    assert.equal(yesterdayInSeoul(new Date('2026-02-12T14:59:00Z')), '2026-02-11');
    assert.equal(yesterdayInSeoul(new Date('2026-03-01T00:00:00Z')), '2026-02-28');
  });

  it('ranges are inclusive and cross months', () => {
    assert.deepEqual(dateRange('2026-01-30', '2026-02-02'), [
      '2026-01-30',
      '2026-01-31',
      '2026-02-01',
      '2026-02-02',
    ]);
    assert.deepEqual(dateRange('2026-02-02', '2026-02-01'), []);
  });

  it('a range counts its dates, both ends included, without listing them', () => {
    assert.equal(daysInRange('2026-02-12', '2026-02-12'), 1);
    assert.equal(daysInRange('2024-02-28', '2024-03-01'), 3);
    assert.equal(daysInRange('2016-01-01', '2026-12-31'), 4018);
    assert.equal(daysInRange('1000-01-01', '9999-12-31'), 3287182);
    assert.equal(daysInRange('2026-02-02', '2026-02-01'), 0);
  });

  it('days are added across months and leap days, and subtracted', () => {
    assert.equal(addDays('2024-02-28', 1), '2024-02-29');
    assert.equal(addDays('2026-03-01', -1), '2026-02-28');
    assert.equal(addDays('2026-02-12', -6), '2026-02-06');
    assert.equal(addDays('2026-02-12', 0), '2026-02-12');
  });
});

describe('steps', () => {
  it('keep the original DAG task names in pipeline order, cleanup before serving', () => {
    assert.deepEqual(STEPS, [
      'check_s3_input',
      'start_cluster',
      'start_spark',
      'download_code',
      'install_deps',
      'run_stage1',
      'check_s3_stage1_out',
      'run_stage2',
      'check_s3_stage2_out',
      'stop_spark',
      'stop_cluster',
      'load_to_rdb',
      'refresh_views',
      'send_email_report',
    ]);
  });

  it('an optional step runs right after the step it follows, and only in runs that have it', () => {
    assert.deepEqual(runSteps(), [...STEPS]);
    const withComplaints = runSteps(['load_complaints']);
    assert.deepEqual(
      withComplaints.filter((s) => s !== 'load_complaints'),
      [...STEPS],
    );
    assert.deepEqual(withComplaints.slice(-4), [
      'load_to_rdb',
      'load_complaints',
      'refresh_views',
      'send_email_report',
    ]);
  });

  it('a run for a date has a predictable workflow id', () => {
    assert.equal(workflowIdFor('2026-02-12'), 'pothole-pipeline-2026-02-12');
  });
});
