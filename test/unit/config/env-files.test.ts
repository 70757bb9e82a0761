/**
 * The settings files: the original infra/env.sh and the serving .env are read as they are, several files may be
 * named, and what nothing reads is named once instead of being silently dropped. How each line is read is
 * specified against bash in shell-assignments.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ConfigError,
  ignoredSettingsWarning,
  KNOWN_SETTINGS,
  unreadLinesWarning,
  loadConfig,
  readEnv,
  readSettings,
} from '../../../src/config';

/** A folder holding these files. */
function folderWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-env-files-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const envSh = [
  '#!/bin/bash',
  '# Airflow worker settings',
  '',
  'export S3_BUCKET=pothole-data',
  'export REPORT_FROM="Road Safety <road@example.com>"',
  "export GMAIL_PASSWORD='app pass # not a comment'",
  '  export SSH_USER=ec2-user   # the Amazon Linux user',
  'export MASTER_INSTANCE_ID=i-0master',
  'SPARK_HOME=/opt/spark-3.5',
  'export AIRFLOW_HOME=/opt/airflow',
  'export DAG_OWNER=road-team',
  '',
].join('\n');

const dotEnv = [
  '# serving',
  'POSTGRES_PASSWORD=pw-from-dotenv',
  'S3_BUCKET=serving-bucket',
  'FLASK_ENV=production',
  '',
].join('\n');

describe('settings files', () => {
  it('reads export lines, double and single quoted values, comments and blank lines of env.sh', () => {
    const dir = folderWith({ 'infra/env.sh': envSh });
    const env = readEnv({ POTHOLE_ENV_FILE: 'infra/env.sh' }, dir);
    assert.equal(env.S3_BUCKET, 'pothole-data');
    assert.equal(env.REPORT_FROM, 'Road Safety <road@example.com>');
    assert.equal(env.GMAIL_PASSWORD, 'app pass # not a comment');
    assert.equal(env.SSH_USER, 'ec2-user');
    assert.equal(env.SPARK_HOME, '/opt/spark-3.5');
    const { cluster } = loadConfig(['cluster'], { ...env, WORKER1_INSTANCE_ID: 'i-w1' });
    assert.equal(cluster.masterInstanceId, 'i-0master');
  });

  it('reads several files: a later file overrides an earlier one, the process environment overrides both', () => {
    const dir = folderWith({ 'infra/env.sh': envSh, '.env': dotEnv });
    const env = readEnv({ POTHOLE_ENV_FILE: 'infra/env.sh, .env', SSH_USER: 'from-process' }, dir);
    assert.equal(env.S3_BUCKET, 'serving-bucket', '.env comes later than env.sh');
    assert.equal(env.POSTGRES_PASSWORD, 'pw-from-dotenv');
    assert.equal(env.REPORT_FROM, 'Road Safety <road@example.com>', 'only in env.sh');
    assert.equal(env.SSH_USER, 'from-process');
    const reversed = readEnv({ POTHOLE_ENV_FILE: '.env,infra/env.sh' }, dir);
    assert.equal(reversed.S3_BUCKET, 'pothole-data');
  });

  it('names what the files set but nothing reads, per file, in one line; never the process environment', () => {
    const dir = folderWith({ 'infra/env.sh': envSh, '.env': dotEnv });
    const { ignored } = readSettings(
      { POTHOLE_ENV_FILE: 'infra/env.sh,.env', HOME: '/root', SOMETHING_ELSE: 'x' },
      dir,
    );
    assert.deepEqual(ignored, [
      { file: 'infra/env.sh', names: ['AIRFLOW_HOME', 'DAG_OWNER'] },
      { file: '.env', names: ['FLASK_ENV'] },
    ]);
    assert.equal(
      ignoredSettingsWarning(ignored),
      'ignored settings in infra/env.sh: AIRFLOW_HOME, DAG_OWNER; in .env: FLASK_ENV (nothing reads these names)',
    );
    assert.equal(ignoredSettingsWarning([]), undefined);
  });

  it('an ignored name set in two files is named under each of them', () => {
    const dir = folderWith({ 'a.env': 'S3_BUKET=a\nS3_BUCKET=a\n', 'b.env': 'S3_BUKET=b\nS3_BUCKET=b\n' });
    const { env, ignored } = readSettings({ POTHOLE_ENV_FILE: 'a.env,b.env' }, dir);
    assert.equal(env.S3_BUCKET, 'b');
    assert.equal(
      ignoredSettingsWarning(ignored),
      'ignored settings in a.env: S3_BUKET; in b.env: S3_BUKET (nothing reads these names)',
    );
  });

  it('reads ./.env when POTHOLE_ENV_FILE is unset, and nothing when there is none', () => {
    const dir = folderWith({ '.env': dotEnv });
    assert.equal(readEnv({}, dir).POSTGRES_PASSWORD, 'pw-from-dotenv');
    assert.deepEqual(readSettings({ PATH: '/bin' }, folderWith({})), {
      env: { PATH: '/bin' },
      ignored: [],
      unread: [],
    });
  });

  it('a named file that does not exist is an error naming it; every missing one is listed', () => {
    const dir = folderWith({ '.env': dotEnv });
    assert.throws(
      () => readEnv({ POTHOLE_ENV_FILE: 'infra/env.sh,.env,missing.env' }, dir),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          `POTHOLE_ENV_FILE names ${path.join(dir, 'infra/env.sh')}, which does not exist`,
          `POTHOLE_ENV_FILE names ${path.join(dir, 'missing.env')}, which does not exist`,
        ]);
        return true;
      },
    );
  });
});

describe('settings lines that bash would run', () => {
  it('are not read, and named with their file, line and why; the lines around them are read', () => {
    const dir = folderWith({
      'infra/env.sh': [
        'export S3_BUCKET=pothole-data',
        'export POSTGRES_PASSWORD=$(cat /run/secrets/pg)',
        'source /opt/airflow/env.sh',
        'SSH_USER=ubuntu',
      ].join('\n'),
      '.env': 'load() {\n  S3_BUCKET=other\n}\nPOSTGRES_DB=road_safety\n',
    });
    const { env, unread } = readSettings({ POTHOLE_ENV_FILE: 'infra/env.sh,.env' }, dir);
    assert.equal(env.S3_BUCKET, 'pothole-data');
    assert.equal(env.SSH_USER, 'ubuntu');
    assert.equal(env.POSTGRES_DB, 'road_safety');
    assert.equal(env.POSTGRES_PASSWORD, undefined);
    assert.deepEqual(unread, [
      { file: 'infra/env.sh', line: 2, why: 'would run a command: $(…)' },
      { file: 'infra/env.sh', line: 3, why: 'would run the command "source"' },
      { file: '.env', line: 1, lastLine: 3, why: 'defines a function' },
    ]);
    assert.equal(
      unreadLinesWarning(unread),
      'settings lines not read (bash would run them; they are never run here): ' +
        'infra/env.sh line 2 (would run a command: $(…)); infra/env.sh line 3 (would run the command "source"); ' +
        '.env lines 1-3 (defines a function)',
    );
    assert.equal(unreadLinesWarning([]), undefined);
  });

  it('a # inside a value is part of it, as in bash: POSTGRES_PASSWORD=pa#ss is pa#ss', () => {
    const dir = folderWith({ '.env': 'POSTGRES_PASSWORD=pa#ss # the comment starts here\n' });
    assert.equal(readEnv({}, dir).POSTGRES_PASSWORD, 'pa#ss');
  });
});

describe('a settings file that is not a text file', () => {
  /** The one problem reading `named` gives. */
  function problem(named: string, cwd = folderWith({})): string {
    try {
      readEnv({ POTHOLE_ENV_FILE: named }, cwd);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.problems.length, 1, err.message);
      return err.problems[0]!;
    }
    assert.fail(`${named} was read`);
  }

  it('a directory is a configuration error naming the setting and the directory', () => {
    const dir = folderWith({ 'conf/x': '' });
    assert.equal(
      problem('conf', dir),
      `POTHOLE_ENV_FILE names ${path.join(dir, 'conf')}, which is a directory`,
    );
  });

  it('a device is an error, never read as empty settings', () => {
    assert.equal(
      problem('/dev/null'),
      'POTHOLE_ENV_FILE names /dev/null, which is not a regular file (a device, a FIFO or a socket)',
    );
  });

  it('a FIFO is an error at once, never a start that waits for a writer', (t) => {
    const dir = folderWith({});
    const fifo = path.join(dir, 'settings.fifo');
    const made = spawnSync('mkfifo', [fifo]);
    if (made.error || made.status !== 0) return t.skip('mkfifo is not available');
    assert.match(problem(fifo), /which is not a regular file/);
  });

  it('a binary file is an error naming it, not settings read from its printable parts', () => {
    const dir = folderWith({});
    fs.writeFileSync(
      path.join(dir, 'id_ed25519.gz'),
      Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x41, 0x3d, 0x31]),
    );
    fs.writeFileSync(path.join(dir, 'latin1.env'), Buffer.from('S3_BUCKET=caf\xe9\n', 'latin1'));
    assert.equal(
      problem('id_ed25519.gz', dir),
      `POTHOLE_ENV_FILE names ${path.join(dir, 'id_ed25519.gz')}, which is a binary file, not settings (a NUL byte at offset 3)`,
    );
    assert.match(
      problem('latin1.env', dir),
      /latin1\.env, which is a binary file, not settings \(not UTF-8 text\)/,
    );
  });

  it('./.env read without POTHOLE_ENV_FILE is held to the same rule', () => {
    const dir = folderWith({ '.env/x': '' });
    assert.equal(
      problem('', dir).replace(dir, '<dir>'),
      'POTHOLE_ENV_FILE is unset, so <dir>/.env is read, but it is a directory',
    );
  });
});

describe('known settings', () => {
  it('come from every section, also those whose object is transformed', () => {
    for (const name of [
      'TEMPORAL_ADDRESS',
      'S3_BUCKET',
      'MASTER_INSTANCE_ID',
      'DATABASE_URL',
      'GMAIL_ADDRESS',
    ]) {
      assert.ok(KNOWN_SETTINGS.has(name), name);
    }
    assert.ok(!KNOWN_SETTINGS.has('AIRFLOW_HOME'));
  });

  it("the local stack's settings file names nothing the configuration ignores", () => {
    // The names stack/up.sh writes to .stack/env, which the tests, the demo and the benchmark read.
    const script = fs.readFileSync(path.resolve(__dirname, '../../../stack/up.sh'), 'utf8');
    const heredoc = /cat >"\$STACK_DIR\/env\.new" <<EOF\n([\s\S]*?)\nEOF\n/.exec(script);
    assert.ok(heredoc, 'stack/up.sh writes .stack/env from a heredoc');
    const names = heredoc[1]!
      .split('\n')
      .filter((line) => /^[A-Z0-9_]+=/.test(line))
      .map((line) => line.slice(0, line.indexOf('=')));
    assert.ok(names.length > 30, `found ${names.length} names`);
    assert.deepEqual(
      names.filter((n) => !KNOWN_SETTINGS.has(n)),
      [],
    );
  });
});
