/**
 * How the doctor runs its checks: in order, each within its time limit, skipped when its settings are invalid,
 * and an error of a check is that check's problem, never the end of the report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ok, runChecks, type Check } from '../../../../src/cli/doctor/check';
import { checkConfiguration } from '../../../../src/cli/doctor/configuration';
import { DoctorContext, SECTION_NAMES } from '../../../../src/cli/doctor/context';

const options = { sendTest: false, timeoutMs: 200 };
/** Valid except the s3 and cluster sections. */
const env = {
  SSH_PRIVATE_KEY_PATH: '/k',
  SSH_KNOWN_HOSTS_PATH: '/kh',
  POSTGRES_PASSWORD: 'pw',
  REPORT_EMAIL: 'a@b.c',
  REPORT_FROM: 'p@b.c',
  SMTP_HOST: 'localhost',
  EXPECTED_WORKER_COUNT: 'two',
};

const check = (name: string, needs: Check['needs'], run: Check['run']): Check => ({
  name,
  needs,
  unreachableFix: `is ${name} up?`,
  run,
});

describe('doctor checks', () => {
  it('run in order; a check needing an invalid section is skipped with the reason, the others still run', async () => {
    const ctx = new DoctorContext(env, options);
    const ran: string[] = [];
    const results = await runChecks(
      [
        check('first', ['temporal'], async () => (ran.push('first'), [ok('first', 'fine')])),
        check('needs s3', ['aws', 's3'], async () => (ran.push('s3'), [])),
        check('last', ['postgres'], async () => (ran.push('last'), [ok('last', 'fine')])),
      ],
      ctx,
      1_000,
    );
    assert.deepEqual(ran, ['first', 'last']);
    assert.deepEqual(
      results.map((r) => [r.name, r.status, r.detail]),
      [
        ['first', 'ok', 'fine'],
        ['needs s3', 'skipped', 'needs the s3 settings, which are invalid (see configuration)'],
        ['last', 'ok', 'fine'],
      ],
    );
  });

  it('a check that does not answer in time is a problem with its fix, and its signal is aborted', async () => {
    const ctx = new DoctorContext(env, options);
    let aborted = false;
    const started = Date.now();
    const results = await runChecks(
      [
        check('hangs', [], (_ctx, signal) => {
          signal.addEventListener('abort', () => (aborted = true));
          return new Promise(() => undefined);
        }),
      ],
      ctx,
      200,
    );
    assert.ok(Date.now() - started < 1_000);
    assert.deepEqual(results, [
      { name: 'hangs', status: 'problem', detail: 'no answer within 0.2 s', fix: 'is hangs up?' },
    ]);
    assert.ok(aborted);
  });

  it('a check that throws is a problem with its message, and the next check runs', async () => {
    const ctx = new DoctorContext(env, options);
    const results = await runChecks(
      [
        check('throws', [], async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:1');
        }),
        check('next', [], async () => [ok('next', 'fine')]),
      ],
      ctx,
      1_000,
    );
    assert.deepEqual(
      results.map((r) => [r.name, r.status, r.detail, r.fix]),
      [
        ['throws', 'problem', 'connect ECONNREFUSED 127.0.0.1:1', 'is throws up?'],
        ['next', 'ok', 'fine', undefined],
      ],
    );
  });
});

describe('configuration check', () => {
  it('lists every problem of every section at once, with where to fix them', () => {
    const r = checkConfiguration(new DoctorContext(env, options), '/etc/pothole/.env');
    assert.equal(r.status, 'problem');
    assert.equal(
      r.detail,
      '4 problems in the s3, cluster settings: EXPECTED_WORKER_COUNT must be a positive integer, got "two"; ' +
        'MASTER_INSTANCE_ID is required (or set CLUSTER_NAME to find the instances by tag); S3_BUCKET is required; ' +
        'WORKER1_INSTANCE_ID is required: set WORKER1_INSTANCE_ID.. or WORKER_INSTANCE_IDS (or CLUSTER_NAME)',
    );
    assert.match(r.fix!, /in \/etc\/pothole\/\.env; the README's Configuration table/);
  });

  it('is ok when every section validates', () => {
    const complete = { ...env, S3_BUCKET: 'b', CLUSTER_NAME: 'c', EXPECTED_WORKER_COUNT: '' };
    const r = checkConfiguration(new DoctorContext(complete, options), undefined);
    assert.deepEqual(r, {
      name: 'configuration',
      status: 'ok',
      detail: `all ${SECTION_NAMES.length} sections valid (read from the environment)`,
    });
  });

  it('names the settings lines not read, whether the sections validate or not: one may be what is missing', () => {
    const unread = [{ file: '/etc/pothole/.env', line: 3, why: 'would run a command: $(…)' }];
    const named =
      'settings lines not read (bash would run them; they are never run here): ' +
      '/etc/pothole/.env line 3 (would run a command: $(…))';
    const complete = { ...env, S3_BUCKET: 'b', CLUSTER_NAME: 'c', EXPECTED_WORKER_COUNT: '' };
    const fine = checkConfiguration(new DoctorContext(complete, options), '/etc/pothole/.env', [], unread);
    assert.equal(fine.status, 'ok');
    assert.ok(fine.detail.endsWith(`; ${named}`), fine.detail);
    const broken = checkConfiguration(new DoctorContext(env, options), '/etc/pothole/.env', [], unread);
    assert.equal(broken.status, 'problem');
    assert.ok(broken.detail.endsWith(`; ${named}`), broken.detail);
  });

  it('settings that cannot be read at all make every section invalid', () => {
    const ctx = new DoctorContext(undefined, options, [
      'POTHOLE_ENV_FILE points at /x, which does not exist',
    ]);
    const r = checkConfiguration(ctx, '/x');
    assert.match(r.detail, /^1 problem in the temporal, .* settings: POTHOLE_ENV_FILE points at \/x/);
    assert.equal(ctx.invalid.size, SECTION_NAMES.length);
  });
});
