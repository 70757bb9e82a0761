import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipelineSettings } from '../../../src/activities';
import { loadConfig } from '../../../src/config';

describe('the settings the workflows are given', () => {
  it('carry the nightly complaints load when COMPLAINTS_NIGHTLY is on, never its key', () => {
    const on = pipelineSettings(
      loadConfig(['temporal', 'complaints'], {
        COMPLAINTS_NIGHTLY: 'true',
        COMPLAINTS_API_KEY: 'portal-key-do-not-print',
        COMPLAINTS_LOOKBACK_DAYS: '5',
      }),
    );
    assert.deepEqual(on.complaints, { lookbackDays: 5 });
    assert.ok(!JSON.stringify(on).includes('portal-key-do-not-print'), JSON.stringify(on));
  });

  it('leave it out when it is off', () => {
    const off = pipelineSettings(loadConfig(['temporal', 'complaints'], { COMPLAINTS_API_KEY: 'k' }));
    assert.equal(off.complaints, undefined);
    assert.equal(off.servingRetryWindowSeconds, 1800);
  });
});
