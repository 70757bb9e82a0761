import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readMigrations } from '../../../src/db/migrate';

function dirWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

test('the shipped migrations are read in version order with checksums', () => {
  const migrations = readMigrations();
  assert.ok(migrations.length >= 2);
  assert.deepEqual(
    migrations.map((m) => m.version),
    [...migrations.map((m) => m.version)].sort(),
  );
  for (const m of migrations) assert.match(m.checksum, /^[0-9a-f]{64}$/);
});

test('migrations are ordered by their number, not by the order of the directory', () => {
  const dir = dirWith({ '010_b.sql': 'SELECT 2', '002_a.sql': 'SELECT 1', 'README.md': 'not sql' });
  assert.deepEqual(
    readMigrations(dir).map((m) => m.file),
    ['002_a.sql', '010_b.sql'],
  );
});

test('a badly named migration file is refused', () => {
  assert.throws(() => readMigrations(dirWith({ '1_x.sql': '' })), /1_x\.sql is not named NNN_name\.sql/);
});

test('two migrations with one version number are refused', () => {
  assert.throws(
    () => readMigrations(dirWith({ '003_a.sql': '', '003_b.sql': '' })),
    /003_a\.sql and 003_b\.sql share version 003/,
  );
});
