/** The doctor's report: one line per check, the fix below a problem, JSON for scripts, and no secret in either. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ok, problem, skipped } from '../../../../src/cli/doctor/check';
import { exitCode, formatJson, formatResults, redact, secretValues } from '../../../../src/cli/doctor/format';

const results = [
  ok('temporal', '127.0.0.1:7233 answers; namespace default exists'),
  problem('smtp', 'cannot reach 127.0.0.1:2525: connect ECONNREFUSED', 'start the SMTP server'),
  skipped('kakao', 'KAKAO_REST_API_KEY is not set'),
];

describe('doctor report', () => {
  it('prints ok, PROBLEM and skipped lines aligned, with the fix indented below the problem', () => {
    assert.equal(
      formatResults(results),
      [
        'ok      temporal: 127.0.0.1:7233 answers; namespace default exists',
        'PROBLEM smtp: cannot reach 127.0.0.1:2525: connect ECONNREFUSED',
        '  fix: start the SMTP server',
        'skipped kakao: KAKAO_REST_API_KEY is not set',
      ].join('\n'),
    );
  });

  it('folds a multi-line server error into the one line of its check', () => {
    const text = formatResults([
      problem('ssh to the master', 'exited with 1:\n  line one\nline two', 'a\nb'),
    ]);
    assert.equal(text, 'PROBLEM ssh to the master: exited with 1: line one line two\n  fix: a b');
  });

  it('prints a JSON array with the fix only on problems', () => {
    assert.deepEqual(JSON.parse(formatJson(results)), [
      { name: 'temporal', status: 'ok', detail: '127.0.0.1:7233 answers; namespace default exists' },
      {
        name: 'smtp',
        status: 'problem',
        detail: 'cannot reach 127.0.0.1:2525: connect ECONNREFUSED',
        fix: 'start the SMTP server',
      },
      { name: 'kakao', status: 'skipped', detail: 'KAKAO_REST_API_KEY is not set' },
    ]);
  });

  it('exits non-zero only when a check found a problem (skipped is not a problem)', () => {
    assert.equal(exitCode(results), 1);
    assert.equal(exitCode([results[0]!, results[2]!]), 0);
    assert.equal(exitCode([]), 0);
  });

  it('blanks every secret setting out of details and fixes, the longer value first', () => {
    const env = {
      SMTP_PASSWORD: 'hunter22',
      DATABASE_URL: 'postgres://u:hunter22@db/x',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/abcd',
      KAKAO_REST_API_KEY: 'kkkk1234',
      POSTGRES_USER: 'pothole_user',
      SMTP_USER: 'me',
    };
    const secrets = secretValues(env);
    assert.deepEqual(secrets, [
      'https://hooks.slack.com/services/T/B/abcd',
      'postgres://u:hunter22@db/x',
      'hunter22',
      'kkkk1234',
    ]);
    const [r] = redact(
      [problem('x', 'url postgres://u:hunter22@db/x and hunter22 and pothole_user', 'key kkkk1234')],
      secrets,
    );
    assert.equal(r!.detail, 'url *** and *** and pothole_user');
    assert.equal(r!.fix, 'key ***');
  });
});
