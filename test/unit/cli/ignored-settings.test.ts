/**
 * The CLI and the worker name the settings their files set but nothing reads, once, at start; names that are only
 * in the process environment are never named. Both are refused by their validation (no database password, no
 * bucket), so nothing is contacted.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

const bin = path.resolve(__dirname, '../../../bin/pothole.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-ignored-'));
fs.writeFileSync(
  path.join(dir, 'env.sh'),
  'export TEMPORAL_ADDRESS=127.0.0.1:1\nexport AIRFLOW_HOME=/opt/airflow\nexport S3_BUKET=typo\n',
);
fs.writeFileSync(path.join(dir, '.env'), 'DAG_OWNER=road-team\n');

function pothole(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, POTHOLE_ENV_FILE: 'env.sh,.env', NOT_A_SETTING: 'x' },
    timeout: 60_000,
  });
  return { code: r.status, err: r.stderr };
}

const occurrences = (text: string, part: string) => text.split(part).length - 1;

describe('ignored settings', () => {
  it('the CLI names them in one warning line, before the validation that refuses it', () => {
    const { code, err } = pothole('db', 'migrate');
    const warning =
      'warning: ignored settings in env.sh: AIRFLOW_HOME, S3_BUKET; in .env: DAG_OWNER (nothing reads these names)';
    assert.equal(occurrences(err, warning), 1, err);
    assert.doesNotMatch(err, /NOT_A_SETTING|PATH/);
    assert.match(err, /POSTGRES_PASSWORD is required/);
    assert.equal(code, 2);
  });

  it('the worker logs them once, before the validation that refuses it', () => {
    const { code, err } = pothole('worker');
    const lines = err.split('\n').filter((l) => l.includes('ignored settings'));
    assert.equal(lines.length, 1, err);
    const logged = JSON.parse(lines[0]!) as { level: string; message: string };
    assert.equal(logged.level, 'WARN');
    assert.equal(
      logged.message,
      'ignored settings in env.sh: AIRFLOW_HOME, S3_BUKET; in .env: DAG_OWNER (nothing reads these names)',
    );
    assert.match(err, /S3_BUCKET is required/);
    assert.equal(code, 2);
    // Every line of its log is JSON, its refusal to start too.
    const refusal = err
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: string; problems?: string[] })
      .find((l) => l.problems);
    assert.equal(refusal?.level, 'ERROR');
    assert.ok(
      refusal.problems!.some((p) => p.startsWith('S3_BUCKET is required')),
      err,
    );
  });
});
