/** What the answer to an EC2 DryRun request means for the permission check. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dryRunVerdict } from '../../../../src/cli/doctor/ec2';

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('dryRunVerdict', () => {
  it('DryRunOperation: the call would have succeeded', () => {
    const err = awsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    assert.deepEqual(dryRunVerdict(err), { status: 'permitted' });
  });

  it('UnauthorizedOperation: not allowed, without the encoded policy blob', () => {
    const err = awsError(
      'UnauthorizedOperation',
      'You are not authorized to perform this operation. Encoded authorization failure message: AbCdEf123…',
    );
    assert.deepEqual(dryRunVerdict(err), {
      status: 'denied',
      reason: 'UnauthorizedOperation: You are not authorized to perform this operation.',
    });
  });

  it('no error: the endpoint carried the request out (it ignores DryRun)', () => {
    assert.deepEqual(dryRunVerdict(undefined), { status: 'performed' });
  });

  it('any other error is not an answer about permissions', () => {
    const err = awsError('InvalidInstanceID.NotFound', "The instance ID 'i-1' does not exist");
    assert.throws(() => dryRunVerdict(err), /does not exist/);
  });
});
