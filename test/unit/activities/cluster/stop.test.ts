/**
 * Which stop_cluster errors are worth retrying: throttling, network and server errors may pass; missing
 * permissions never do, and are told apart so the run hands the cluster to the watchdog instead of retrying for
 * good. The one line about the cluster names what was lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { classifyStopError } from '../../../../src/activities/cluster';
import { describeCleanup } from '../../../../src/shared/cleanup-outcome';

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('stop_cluster errors', () => {
  it('an UnauthorizedOperation is non-retryable ClusterStopForbidden, naming the permission to grant', () => {
    const err = classifyStopError(
      awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
      'stop_cluster for 2026-03-01 could not stop the cluster',
    );
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'ClusterStopForbidden');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /UnauthorizedOperation.*No retry can fix this.*ec2:StopInstances/s);
  });

  for (const name of ['RequestLimitExceeded', 'InternalError', 'ECONNRESET', 'TimeoutError']) {
    it(`${name} is passed on as it is: retried`, () => {
      const original = awsError(name, 'try again');
      assert.equal(classifyStopError(original, 'stop_cluster'), original);
    });
  }
});

describe('the cleanup line', () => {
  it('names the instances that were lost beside those stopped', () => {
    const line = describeCleanup({
      status: 'stopped',
      attempts: 1,
      instances: ['i-m', 'i-w1', 'i-w2'],
      stoppedInstances: ['i-m', 'i-w1'],
      lostInstances: ['i-w2 (terminated)'],
    });
    assert.equal(line, 'stopped i-m, i-w1; lost (nothing to stop): i-w2 (terminated)');
  });

  it('says when the run gave the cluster up to the watchdog', () => {
    const line = describeCleanup({
      status: 'left-to-watchdog',
      attempts: 1,
      instances: ['i-m'],
      stoppedInstances: [],
      lastError: 'ClusterStopForbidden: UnauthorizedOperation',
    });
    assert.match(line, /^NOT STOPPED: i-m may be running.*no retry can fix.*watchdog keeps trying/);
  });
});
