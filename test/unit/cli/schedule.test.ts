/** The watchdog's schedule: every WATCHDOG_INTERVAL_SECONDS, never overlapping, on the pipeline's task queue. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { watchdogScheduleOptions, WATCHDOG_SCHEDULE_ID } from '../../../src/cli/schedule';
import { loadConfig } from '../../../src/config';

describe('the watchdog schedule', () => {
  it('runs potholeWatchdog every 300 s by default, skipping a round while the previous one runs', () => {
    const o = watchdogScheduleOptions(loadConfig(['temporal', 'watchdog'], {}));
    assert.equal(o.scheduleId, WATCHDOG_SCHEDULE_ID);
    assert.deepEqual(o.spec.intervals, [{ every: '300s' }]);
    assert.equal(o.policies?.overlap, ScheduleOverlapPolicy.SKIP);
    assert.equal(o.action.type, 'startWorkflow');
    assert.equal(o.action.workflowType, 'potholeWatchdog');
    assert.equal(o.action.taskQueue, 'pothole-pipeline');
  });

  it('follows WATCHDOG_INTERVAL_SECONDS and the pipeline task queue', () => {
    const o = watchdogScheduleOptions(
      loadConfig(['temporal', 'watchdog'], { WATCHDOG_INTERVAL_SECONDS: '10', TEMPORAL_TASK_QUEUE: 'q' }),
    );
    assert.deepEqual(o.spec.intervals, [{ every: '10s' }]);
    assert.equal(o.action.type === 'startWorkflow' && o.action.taskQueue, 'q');
  });
});
