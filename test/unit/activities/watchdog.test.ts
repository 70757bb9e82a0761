/**
 * What the watchdog stops: running instances nobody holds the cluster for, once the grace period has passed;
 * never while an open run holds the cluster lock, never instances tagged to be kept (they are reported).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideWatchdog, isKept, type WatchdogInstance } from '../../../src/activities/watchdog';
import { slackMessage } from '../../../src/activities/slack';
import { loadConfig } from '../../../src/config';

const now = new Date('2026-03-01T03:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000).toISOString();
const instance = (id: string, over: Partial<WatchdogInstance> = {}): WatchdogInstance => ({
  id,
  role: id === 'i-m' ? 'master' : 'worker',
  state: 'running',
  launchTime: minutesAgo(60),
  keep: false,
  ...over,
});
const cluster = [instance('i-m'), instance('i-w1'), instance('i-w2')];
const grace = 600;
const nobody = { holding: [], unknown: [] };

describe('the watchdog decision', () => {
  it('stops a running cluster no run has held for longer than the grace period', () => {
    const plan = decideWatchdog({ instances: cluster, lock: {}, users: nobody, now, graceSeconds: grace });
    assert.deepEqual(
      plan.stop.map((i) => i.id),
      ['i-m', 'i-w1', 'i-w2'],
    );
    assert.equal(plan.idleSince, minutesAgo(60));
  });

  it('never stops a cluster an open run holds, however long it has been up', () => {
    const plan = decideWatchdog({
      instances: cluster.map((i) => ({ ...i, launchTime: minutesAgo(600) })),
      lock: { heldBy: 'pothole-pipeline-2026-02-28' },
      users: nobody,
      now,
      graceSeconds: grace,
    });
    assert.deepEqual(plan.stop, []);
    assert.match(plan.reason, /in use by pothole-pipeline-2026-02-28/);
  });

  it('never stops a cluster an open run says it holds, whatever the lock says (a lock workflow lost and started afresh)', () => {
    const plan = decideWatchdog({
      instances: cluster,
      lock: {},
      users: { holding: [{ workflowId: 'pothole-pipeline-2026-02-28', runId: 'r1' }], unknown: [] },
      now,
      graceSeconds: grace,
    });
    assert.deepEqual(plan.stop, []);
    assert.match(plan.reason, /in use by pothole-pipeline-2026-02-28 \(by its own account\)/);
  });

  it('never stops a cluster while an open run cannot be asked whether it holds it', () => {
    const plan = decideWatchdog({
      instances: cluster,
      lock: {},
      users: { holding: [], unknown: [{ workflowId: 'pothole-backfill-x', runId: 'r2' }] },
      now,
      graceSeconds: grace,
    });
    assert.deepEqual(plan.stop, []);
    assert.match(plan.reason, /pothole-backfill-x could not be asked/);
  });

  it('counts the grace from the later of the instances start and the last time a run held the lock', () => {
    const justReleased = decideWatchdog({
      instances: cluster,
      lock: { lastHeldBy: 'run-a', lastHeldUntil: minutesAgo(5) },
      users: nobody,
      now,
      graceSeconds: grace,
    });
    assert.deepEqual(justReleased.stop, []);
    assert.equal(justReleased.idleSince, minutesAgo(5));
    const longReleased = decideWatchdog({
      instances: cluster,
      lock: { lastHeldBy: 'run-a', lastHeldUntil: minutesAgo(11) },
      users: nobody,
      now,
      graceSeconds: grace,
    });
    assert.equal(longReleased.stop.length, 3);
    const justStarted = decideWatchdog({
      instances: cluster.map((i) => ({ ...i, launchTime: minutesAgo(9) })),
      lock: {},
      users: nobody,
      now,
      graceSeconds: grace,
    });
    assert.deepEqual(justStarted.stop, []);
    assert.match(justStarted.reason, /within the 600 s grace/);
  });

  it('reports instances tagged to keep and never stops them', () => {
    const plan = decideWatchdog({
      instances: [instance('i-m'), instance('i-w1', { keep: true }), instance('i-w2')],
      lock: {},
      users: nobody,
      now,
      graceSeconds: grace,
    });
    assert.deepEqual(
      plan.stop.map((i) => i.id),
      ['i-m', 'i-w2'],
    );
    assert.deepEqual(
      plan.kept.map((i) => i.id),
      ['i-w1'],
    );
    const onlyKept = decideWatchdog({
      instances: cluster.map((i) => ({ ...i, keep: true })),
      lock: {},
      users: nobody,
      now,
      graceSeconds: grace,
    });
    assert.deepEqual(onlyKept.stop, []);
    assert.equal(onlyKept.kept.length, 3);
  });

  it('the keep tag counts with any value except "false"', () => {
    assert.equal(isKept({ 'pothole:keep': '' }, 'pothole:keep'), true);
    assert.equal(isKept({ 'pothole:keep': 'debugging stage2' }, 'pothole:keep'), true);
    assert.equal(isKept({ 'pothole:keep': 'false' }, 'pothole:keep'), false);
    assert.equal(isKept({ Name: 'x' }, 'pothole:keep'), false);
    assert.equal(isKept(undefined, 'pothole:keep'), false);
  });

  it('leaves stopped and stopping instances alone: nothing to stop', () => {
    const plan = decideWatchdog({
      instances: [instance('i-m', { state: 'stopped' }), instance('i-w1', { state: 'stopping' })],
      lock: {},
      users: nobody,
      now,
      graceSeconds: grace,
    });
    assert.deepEqual(plan.stop, []);
    assert.equal(plan.reason, 'nothing runs');
  });

  it('the Slack alert names what it stopped, since when, and what it kept', () => {
    const { temporal } = loadConfig(['temporal'], {});
    const { text } = slackMessage(
      {
        kind: 'watchdog',
        batchDate: '2026-03-01',
        workflowId: 'pothole-watchdog-2026-03-01T03:00:00Z',
        runId: 'r1',
        watchdog: {
          stopped: [{ id: 'i-m', role: 'master', launchTime: minutesAgo(60) }],
          kept: [{ id: 'i-w1', role: 'worker', launchTime: minutesAgo(60) }],
          idleSince: minutesAgo(20),
          lastHeldBy: 'pothole-pipeline-2026-02-28',
          lastHeldUntil: minutesAgo(20),
          driversKilled: ['stage1-2026-02-28'],
        },
      },
      temporal,
    );
    assert.match(text, /Watchdog stopped/);
    assert.match(text, /i-m \(master\), running since 2026-03-01T02:00:00.000Z/);
    assert.match(text, /Unused since:\* 2026-03-01T02:40:00.000Z/);
    assert.match(text, /Last held by:\* pothole-pipeline-2026-02-28/);
    assert.match(text, /stage1-2026-02-28/);
    assert.match(text, /tagged to keep[^]*i-w1/);
  });
});
