/**
 * One source for the settings: the README's table and deploy/pothole.env.example are written from the schema
 * (`npm run docs`), so neither can drift from what the configuration reads. Every setting says what it is for
 * and its unit, and the example is a valid configuration every role starts with.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { KNOWN_SETTINGS, loadConfig, Secret, SECTIONS_FOR, type SectionName } from '../../../src/config';
import {
  envExample,
  README_BEGIN,
  README_END,
  settings,
  settingsTable,
  withSettingsTable,
} from '../../../src/config/docs';
import { readShellAssignments } from '../../../src/config/shell-assignments';

const root = path.resolve(__dirname, '../../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const all = settings();

/** The units a number can be in: a count of something, a time, a distance, a price. */
const NUMBER_UNITS = [
  'seconds',
  'minutes',
  'days',
  'dates',
  'vehicle passes',
  'per cent',
  'attempts',
  'cores',
  'workers',
  'requests',
  'metres',
  'USD per hour',
  'TCP port',
];

describe('the generated settings documents', () => {
  it('README.md holds the table the schema gives (run `npm run docs` when this fails)', () => {
    const readme = read('README.md');
    assert.ok(readme.includes(README_BEGIN) && readme.includes(README_END), 'README.md has the markers');
    assert.ok(
      withSettingsTable(readme, settingsTable()) === readme,
      'README.md is out of date with the settings schema: run `npm run docs`',
    );
  });

  it('deploy/pothole.env.example is what the schema gives (run `npm run docs` when this fails)', () => {
    assert.ok(
      envExample() === read('deploy/pothole.env.example'),
      'deploy/pothole.env.example is out of date with the settings schema: run `npm run docs`',
    );
  });

  it('list every setting the configuration reads, each once', () => {
    const names = all.map((s) => s.name);
    assert.equal(new Set(names).size, names.length, 'no name twice');
    const localStack = ['POSTGRES_ADMIN_URL', 'MAIL_DIR', 'CHROMIUM_PATH'];
    assert.deepEqual(
      [...KNOWN_SETTINGS].filter((n) => !localStack.includes(n) && !names.includes(n)),
      [],
    );
    const table = settingsTable();
    const example = envExample();
    for (const name of names) {
      assert.ok(table.includes(`| \`${name}\` |`), `${name} in the README's table`);
      if (name !== 'POTHOLE_ENV_FILE') assert.match(example, new RegExp(`^(# )?${name}=`, 'm'), name);
    }
  });

  it('every setting says what it is for and its unit, on one line', () => {
    for (const { name, doc } of all) {
      assert.ok(doc.description && !doc.description.includes('\n'), `${name} has a one-line description`);
      assert.ok(doc.unit && !doc.unit.includes('\n'), `${name} has a unit`);
    }
  });

  it('a setting whose value is a number gives a unit a number is counted in', () => {
    const numeric = all.filter((s) => typeof s.field?.safeParse('1').data === 'number');
    assert.ok(numeric.length > 20, `${numeric.length} numeric settings`);
    for (const { name, doc } of numeric) {
      assert.ok(
        NUMBER_UNITS.includes(doc.unit!),
        `${name}: "${doc.unit}" is not one of ${NUMBER_UNITS.join(', ')}`,
      );
    }
  });

  it('a setting read as a secret is marked secret; so is DATABASE_URL, which holds the password', () => {
    const secret = (name: string) => all.find((s) => s.name === name)!.doc.secret === true;
    for (const { name, field } of all) {
      const sample = ['a-value', 'https://example.com/a-value'].map((v) => field?.safeParse(v).data);
      if (sample.some((v) => v instanceof Secret)) assert.ok(secret(name), `${name} is read as a secret`);
    }
    assert.ok(secret('DATABASE_URL'));
    assert.ok(!secret('POSTGRES_USER'));
  });

  it('the table shows each default as the field gives it, and what is required', () => {
    const row = (name: string) =>
      settingsTable()
        .split('\n')
        .find((l) => l.startsWith(`| \`${name}\` |`));
    assert.equal(
      row('SERVING_RETRY_WINDOW_SECONDS'),
      '| `SERVING_RETRY_WINDOW_SECONDS` | temporal | `1800` |  | how long each serving step retries through an ' +
        'outage of PostgreSQL or SMTP (the cluster is already stopped: waiting costs nothing); read by the worker ' +
        'that runs the workflows; unit: seconds |',
    );
    assert.match(row('S3_BUCKET')!, /^\| `S3_BUCKET` \| s3 \| required \| {2}\|/);
    assert.match(
      row('POSTGRES_PASSWORD')!,
      /^\| `POSTGRES_PASSWORD` \| postgres \| required unless `DATABASE_URL` \| yes \|/,
    );
    assert.match(row('SPARK_PYTHON_PACKAGES')!, /\| spark \| `pyarrow` \|/);
    assert.match(row('MAX_RANGE_DAYS')!, /\| temporal \| `3660` \|.*unit: days \|$/);
  });
});

describe('deploy/pothole.env.example', () => {
  const text = envExample();

  it('sets only plain NAME=value lines, which Docker, systemd and bash all read alike', () => {
    const set = text.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(set.length > 20, `${set.length} settings set`);
    for (const line of set) assert.match(line, /^[A-Z][A-Z0-9_]*=[\w.,:/@%+={}-]*$/);
    assert.deepEqual(readShellAssignments(text).unread, []);
  });

  it('is a valid configuration for every role', () => {
    const env = Object.fromEntries(readShellAssignments(text).assignments.map((a) => [a.name, a.value]));
    const roles = [...new Set<SectionName>([...SECTIONS_FOR.cluster, ...SECTIONS_FOR.serving, 'dashboard'])];
    const config = loadConfig([...roles, 'temporal'], env);
    assert.equal(config.temporal.TEMPORAL_ADDRESS, 'temporal.internal:7233');
    assert.equal(config.temporal.SERVING_TASK_QUEUE, 'pothole-serving');
  });

  it('a setting commented out shows its default, so uncommenting it changes nothing', () => {
    assert.match(text, /^# SPARK_STAGE_TIMEOUT_MINUTES=120$/m);
    assert.match(text, /^# SPARK_HISTORY_SERVER=true$/m);
    assert.match(
      text,
      /^# TEMPORAL_TLS_CA=\/etc\/pothole\/temporal-ca\.pem$/m,
      'or a hint where there is none',
    );
  });
});
