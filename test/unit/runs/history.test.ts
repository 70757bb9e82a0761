import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { describeCleanup } from '../../../src/shared/cleanup-outcome';
import { cleanupFromHistory, stepsFromHistory } from '../../../src/runs/history';
import { STEPS } from '../../../src/shared/steps';

const fixture = path.resolve(__dirname, '../../fixtures/histories/pipeline-success.json');

describe('steps read back from a run history', () => {
  it('shows every step of a successful recorded run as done, with times and attempts', () => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(fixture, 'utf8')));
    const steps = stepsFromHistory(history.events ?? []);
    assert.deepEqual(
      steps.map((s) => s.step),
      [...STEPS],
    );
    for (const s of steps) {
      assert.equal(s.status, 'done', s.step);
      assert.ok(s.startedAt && s.endedAt && s.startedAt <= s.endedAt, s.step);
      assert.equal(s.attempt, 1);
    }
  });

  it('shows an optional step a run had after the step it follows, with its outcome', () => {
    const at = (s: number) => ({ seconds: 1_770_000_000 + s, nanos: 0 });
    const events = [
      {
        eventId: 5,
        eventTime: at(0),
        activityTaskScheduledEventAttributes: { activityType: { name: 'load_to_rdb' } },
      },
      { eventId: 6, eventTime: at(1), activityTaskCompletedEventAttributes: { scheduledEventId: 5 } },
      {
        eventId: 7,
        eventTime: at(2),
        activityTaskScheduledEventAttributes: { activityType: { name: 'load_complaints' } },
      },
      {
        eventId: 8,
        eventTime: at(3),
        activityTaskFailedEventAttributes: { scheduledEventId: 7, failure: { message: 'HTTP 503' } },
      },
    ];
    const steps = stepsFromHistory(events as unknown as Parameters<typeof stepsFromHistory>[0]);
    assert.deepEqual(
      steps.map((s) => s.step),
      [
        ...STEPS.slice(0, STEPS.indexOf('refresh_views')),
        'load_complaints',
        'refresh_views',
        'send_email_report',
      ],
    );
    assert.deepEqual(
      steps.filter((s) => s.status !== 'pending').map((s) => [s.step, s.status, s.detail]),
      [
        ['load_to_rdb', 'done', undefined],
        ['load_complaints', 'failed', 'HTTP 503'],
      ],
    );
  });

  it('shows steps a run never reached as pending', () => {
    assert.deepEqual(
      stepsFromHistory([]).map((s) => s.status),
      STEPS.map(() => 'pending'),
    );
  });
});

describe('the cleanup outcome read back from a run history', () => {
  it('a recorded successful run stopped the instances start_cluster started, in one attempt', () => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(fixture, 'utf8')));
    const cleanup = cleanupFromHistory(history.events ?? []);
    assert.equal(cleanup.status, 'stopped');
    assert.equal(cleanup.attempts, 1);
    assert.ok(cleanup.instances.length >= 2, JSON.stringify(cleanup));
    assert.deepEqual([...cleanup.stoppedInstances].sort(), [...cleanup.instances].sort());
    assert.match(describeCleanup(cleanup), /^stopped i-/);
  });

  it('a run that failed before start_cluster needed no cleanup', () => {
    const missing = path.resolve(__dirname, '../../fixtures/histories/pipeline-missing-input.json');
    const history = historyFromJSON(JSON.parse(fs.readFileSync(missing, 'utf8')));
    assert.equal(cleanupFromHistory(history.events ?? []).status, 'not-needed');
  });

  it('a run that reached start_cluster but never stopped it (terminated) left its cluster up', () => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(fixture, 'utf8')));
    const events = history.events ?? [];
    const firstStop = events.findIndex(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'stop_spark',
    );
    const cleanup = cleanupFromHistory(events.slice(0, firstStop));
    assert.equal(cleanup.status, 'stopping');
    assert.match(describeCleanup(cleanup), /^NOT STOPPED YET: i-.* may be running/);
  });
});
