/** The repair-status rules: forward one step at a time, back to 미보수 only with a note; bodies checked first. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allowedTransitions,
  NOTE_MAX_LENGTH,
  parseStatusChange,
  REPAIR_STATUSES,
  StatusChangeError,
} from '../../../src/dashboard/status';

function refusal(fn: () => unknown): StatusChangeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StatusChangeError, String(err));
    return err;
  }
  assert.fail('expected the change to be refused');
}

describe('repair status transitions', () => {
  it('move forward one step: 미보수 → 보수중 → 보수완료, without a note', () => {
    assert.deepEqual(allowedTransitions('미보수'), [{ to: '보수중', noteRequired: false }]);
    assert.deepEqual(
      allowedTransitions('보수중').find((t) => t.to === '보수완료'),
      { to: '보수완료', noteRequired: false },
    );
  });

  it('go back only to 미보수, and only with a note', () => {
    assert.deepEqual(
      allowedTransitions('보수중').find((t) => t.to === '미보수'),
      { to: '미보수', noteRequired: true },
    );
    assert.deepEqual(allowedTransitions('보수완료'), [{ to: '미보수', noteRequired: true }]);
  });

  it('never skip 보수중 or step from 보수완료 back to 보수중', () => {
    assert.ok(!allowedTransitions('미보수').some((t) => t.to === '보수완료'));
    assert.ok(!allowedTransitions('보수완료').some((t) => t.to === '보수중'));
    for (const s of REPAIR_STATUSES) assert.ok(!allowedTransitions(s).some((t) => t.to === s), s);
  });
});

describe('a status change request', () => {
  it('takes a status, a trimmed note and the status the page showed', () => {
    assert.deepEqual(
      parseStatusChange('S1', { status: '보수중', note: '  작업 지시 ', expected: '미보수' }),
      {
        status: '보수중',
        note: '작업 지시',
        expected: '미보수',
      },
    );
    assert.deepEqual(parseStatusChange('S1', { status: '보수중', note: '   ' }), { status: '보수중' });
  });

  it('is refused with 400 naming every problem at once', () => {
    const err = refusal(() =>
      parseStatusChange('S1', { status: 'done', note: 'x'.repeat(NOTE_MAX_LENGTH + 1), extra: 1 }),
    );
    assert.equal(err.statusCode, 400);
    assert.match(err.message, /status must be one of 미보수, 보수중, 보수완료/);
    assert.match(
      err.message,
      new RegExp(`note is ${NOTE_MAX_LENGTH + 1} characters; at most ${NOTE_MAX_LENGTH}`),
    );
    assert.match(err.message, /unknown field "extra"/);
    assert.equal(err.field, 'status');
  });

  it('must be a JSON object, for a segment id of at most 50 characters', () => {
    assert.match(refusal(() => parseStatusChange('S1', ['보수중'])).message, /must be a JSON object/);
    assert.match(refusal(() => parseStatusChange('S1', null)).message, /must be a JSON object/);
    assert.equal(refusal(() => parseStatusChange('x'.repeat(51), { status: '보수중' })).field, 's_id');
    assert.equal(refusal(() => parseStatusChange('S1', { status: '보수중', note: 5 })).field, 'note');
    assert.equal(
      refusal(() => parseStatusChange('S1', { status: '보수중', expected: '?' })).field,
      'expected',
    );
  });

  it("counts a note's characters after trimming, an emoji as one", () => {
    const emoji = '🚧'.repeat(NOTE_MAX_LENGTH);
    assert.equal(parseStatusChange('S1', { status: '보수중', note: ` ${emoji}\n` }).note, emoji);
    assert.match(
      refusal(() => parseStatusChange('S1', { status: '보수중', note: `${emoji}🚧` })).message,
      new RegExp(`^note is ${NOTE_MAX_LENGTH + 1} characters`),
    );
  });
});
