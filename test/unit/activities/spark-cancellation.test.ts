/**
 * What a cancelled stage attempt does with its driver: killed only when the run asked to cancel the step or
 * the run has closed; otherwise (server outage, timeout, worker shutdown, pause) it is left for the next
 * attempt to re-attach to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityCancellationDetails } from '@temporalio/common';
import { decideDriverOnCancellation } from '../../../src/activities/spark/cancellation';

const open = async () => true;
const closed = async () => false;
const unreachable = async (): Promise<boolean> => {
  throw new Error('14 UNAVAILABLE: connection refused');
};
const mustNotAsk = async (): Promise<boolean> => {
  throw new assert.AssertionError({ message: 'Temporal was asked without need' });
};
const as = (o: ConstructorParameters<typeof ActivityCancellationDetails>[0]) =>
  new ActivityCancellationDetails(o);

test('a cancel requested by the run kills the driver without asking Temporal anything', async () => {
  const v = await decideDriverOnCancellation(
    { details: as({ cancelRequested: true }), reason: 'CANCELLED' },
    mustNotAsk,
  );
  assert.equal(v.kill, true);
  assert.match(v.why, /asked to cancel/);
});

test('an attempt the server no longer knows, whose run is still open, leaves the driver running', async () => {
  // After a Temporal outage longer than the heartbeat timeout: the attempt timed out server-side and the next
  // attempt is (or will be) scheduled; it re-attaches to the driver.
  const v = await decideDriverOnCancellation({ details: as({ notFound: true }), reason: 'NOT_FOUND' }, open);
  assert.equal(v.kill, false);
  assert.match(v.why, /no longer knows this attempt but the run is still open/);
});

test('an attempt the server no longer knows because its run closed (reset, terminated) kills the driver', async () => {
  const v = await decideDriverOnCancellation(
    { details: as({ notFound: true }), reason: 'NOT_FOUND' },
    closed,
  );
  assert.equal(v.kill, true);
  assert.match(v.why, /run is closed/);
});

test('when Temporal cannot be asked, the driver is left running and the log says why', async () => {
  const v = await decideDriverOnCancellation(
    { details: as({ notFound: true }), reason: 'NOT_FOUND' },
    unreachable,
  );
  assert.equal(v.kill, false);
  assert.match(v.why, /could not say whether the run is still open \(14 UNAVAILABLE: connection refused\)/);
  assert.match(v.why, /stop_spark or the cluster watchdog/);
});

test('a local heartbeat timeout (reported with notFound too) of an open run leaves the driver', async () => {
  const v = await decideDriverOnCancellation(
    { details: as({ timedOut: true, notFound: true }), reason: 'TIMED_OUT' },
    open,
  );
  assert.equal(v.kill, false);
  assert.match(v.why, /timed out/);
});

test('a timed-out attempt of a run that has closed kills the driver', async () => {
  const v = await decideDriverOnCancellation(
    { details: as({ timedOut: true }), reason: 'TIMED_OUT' },
    closed,
  );
  assert.equal(v.kill, true);
});

test('a worker shutting down leaves the driver without asking Temporal', async () => {
  assert.equal(
    (
      await decideDriverOnCancellation(
        { details: as({ workerShutdown: true }), reason: 'WORKER_SHUTDOWN' },
        mustNotAsk,
      )
    ).kill,
    false,
  );
  // The worker's own shutdown cancel carries no details, only the reason.
  assert.equal(
    (await decideDriverOnCancellation({ details: as({}), reason: 'WORKER_SHUTDOWN' }, mustNotAsk)).kill,
    false,
  );
});

test('a paused or activity-reset attempt of an open run leaves the driver', async () => {
  for (const details of [as({ paused: true }), as({ reset: true })]) {
    assert.equal((await decideDriverOnCancellation({ details, reason: 'PAUSED' }, open)).kill, false);
  }
});

test('a cancellation without details that is not a cancel request is checked against the run', async () => {
  assert.equal((await decideDriverOnCancellation({ reason: 'NOT_FOUND' }, closed)).kill, true);
  assert.equal((await decideDriverOnCancellation({ reason: 'NOT_FOUND' }, open)).kill, false);
  assert.equal((await decideDriverOnCancellation({ reason: 'CANCELLED' }, mustNotAsk)).kill, true);
});
