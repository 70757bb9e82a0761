import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeStageOutput } from '../../../src/activities/s3-checks';

const obj = (key: string, size = 100) => ({ key, size });

test('parquet files with a _SUCCESS marker are complete output', () => {
  const v = judgeStageOutput([
    obj('_SUCCESS', 0),
    obj('part-00000-a.snappy.parquet'),
    obj('part-00001-a.snappy.parquet'),
  ]);
  assert.equal(v.ok, true);
  assert.equal(v.ok && v.dataFiles.length, 2);
  assert.equal(v.ok && v.successMarker, true);
});

test('parquet files without _SUCCESS and without _temporary are accepted, marker reported absent', () => {
  const v = judgeStageOutput([obj('part-00000.parquet')]);
  assert.equal(v.ok && v.successMarker, false);
});

test('a _temporary/ folder without _SUCCESS is an incomplete write, even with part files present', () => {
  const v = judgeStageOutput([
    obj('part-00000.parquet'),
    obj('_temporary/0/_temporary/attempt_1/part-00001.parquet'),
  ]);
  assert.equal(v.ok, false);
  assert.equal(!v.ok && v.problem, 'incomplete');
});

test('a _temporary/ leftover next to _SUCCESS is accepted with a warning', () => {
  const v = judgeStageOutput([obj('_SUCCESS', 0), obj('part-0.parquet'), obj('_temporary/0/x', 0)]);
  assert.equal(v.ok, true);
  assert.equal(v.ok && v.warnings.length, 1);
});

test('empty parquet files, non-parquet files and hidden files are not data', () => {
  const v = judgeStageOutput([
    obj('_SUCCESS', 0),
    obj('part-0.parquet', 0),
    obj('notes.csv'),
    obj('.part-0.parquet.crc'),
    obj('_metadata/x.parquet'),
  ]);
  assert.equal(v.ok, false);
  assert.equal(!v.ok && v.problem, 'no-parquet');
});

test('parquet files in sub-partitions count', () => {
  const v = judgeStageOutput([obj('_SUCCESS', 0), obj('region=seoul/part-0.parquet')]);
  assert.equal(v.ok && v.dataFiles.length, 1);
});

test('nothing at all is reported as empty', () => {
  const v = judgeStageOutput([]);
  assert.equal(!v.ok && v.problem, 'empty');
});
