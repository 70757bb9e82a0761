import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config';
import { collectSparkCode } from '../../../src/demo/spark-code';

const SPARK_DIR = path.join(__dirname, '../../../spark');

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-spark-code-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
function tree(files: Record<string, string>): string {
  const root = path.join(scratch, `tree-${counter++}`);
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), body);
  }
  return root;
}

const names = (dir: string) =>
  collectSparkCode(dir)
    .map((f) => `${f.stage}/${f.name}`)
    .sort();

describe('Spark code deployment', () => {
  it("gives each of the repository's stages its main.py, config and the one shared common.py", () => {
    const files = collectSparkCode(SPARK_DIR);
    assert.deepEqual(files.map((f) => `${f.stage}/${f.name}`).sort(), [
      'stage1/common.py',
      'stage1/config_stage1.json',
      'stage1/main.py',
      'stage2/common.py',
      'stage2/config_stage2.json',
      'stage2/main.py',
    ]);
    const shared = fs.readFileSync(path.join(SPARK_DIR, 'common.py'));
    for (const f of files.filter((x) => x.name === 'common.py')) assert.ok(f.body.equals(shared));
  });

  it('skips bytecode caches and hidden files, and keeps sub-folders', () => {
    const root = tree({
      'common.py': '#',
      'stage1/main.py': '#',
      'stage1/config_stage1.json': '{}',
      'stage1/__pycache__/main.cpython-311.pyc': 'x',
      'stage1/.DS_Store': 'x',
      'stage1/lib/helpers.py': '#',
      'stage2/main.py': '#',
      'stage2/config_stage2.json': '{}',
    });
    assert.deepEqual(names(root), [
      'stage1/common.py',
      'stage1/config_stage1.json',
      'stage1/lib/helpers.py',
      'stage1/main.py',
      'stage2/common.py',
      'stage2/config_stage2.json',
      'stage2/main.py',
    ]);
  });

  it("accepts a stage's own common.py when it is the same as the shared one", () => {
    const root = tree({
      'common.py': 'same',
      'stage1/common.py': 'same',
      'stage1/main.py': '#',
      'stage1/config_stage1.json': '{}',
      'stage2/main.py': '#',
      'stage2/config_stage2.json': '{}',
    });
    assert.equal(names(root).filter((n) => n.endsWith('common.py')).length, 2);
  });

  it('refuses a stale copy of common.py instead of deploying it silently', () => {
    const root = tree({
      'common.py': 'new',
      'stage1/common.py': 'old',
      'stage1/main.py': '#',
      'stage1/config_stage1.json': '{}',
      'stage2/main.py': '#',
      'stage2/config_stage2.json': '{}',
    });
    assert.throws(() => collectSparkCode(root), /stage1\/common\.py differs from .*common\.py/);
  });

  it('names every missing piece of the job contract in one error', () => {
    const root = tree({ 'stage1/main.py': '#', 'stage2/config_stage2.json': '{ not json' });
    assert.throws(
      () => collectSparkCode(root),
      (err: Error) => {
        assert.match(err.message, /stage1\/config_stage1\.json is missing/);
        assert.match(err.message, /no common\.py for stage1/);
        assert.match(err.message, /stage2\/main\.py is missing/);
        assert.match(err.message, /config_stage2\.json is not valid JSON/);
        return true;
      },
    );
  });

  const teamLayout = loadConfig(['spark'], {
    SPARK_STAGE1_ENTRY: 'stage1_anomaly_detection.py',
    SPARK_STAGE1_PY_FILES: 'connection_{stage}.py',
    SPARK_STAGE2_ENTRY: 'stage2_spatial_clustering.py',
    SPARK_STAGE2_PY_FILES: 'connection_{stage}.py',
  }).spark;

  it('deploys another layout as it is when the settings name its files: no main.py, common.py or JSON config asked for', () => {
    const root = tree({
      'stage1/stage1_anomaly_detection.py': '#',
      'stage1/connection_stage1.py': '#',
      'stage1/config_stage1.yaml': 'threshold: 3',
      'stage2/stage2_spatial_clustering.py': '#',
      'stage2/connection_stage2.py': '#',
      'stage2/config_stage2.yaml': 'cell: 50',
      'stage2/sql/cells.sql': 'select 1',
    });
    assert.deepEqual(
      collectSparkCode(root, teamLayout)
        .map((f) => `${f.stage}/${f.name}`)
        .sort(),
      [
        'stage1/config_stage1.yaml',
        'stage1/connection_stage1.py',
        'stage1/stage1_anomaly_detection.py',
        'stage2/config_stage2.yaml',
        'stage2/connection_stage2.py',
        'stage2/sql/cells.sql',
        'stage2/stage2_spatial_clustering.py',
      ],
    );
  });

  it('names the missing entry or --py-file of another layout and the setting that names it', () => {
    const root = tree({
      'stage1/main.py': '#',
      'stage1/connection_stage1.py': '#',
      'stage2/stage2_spatial_clustering.py': '#',
    });
    assert.throws(
      () => collectSparkCode(root, teamLayout),
      (err: Error) => {
        assert.match(
          err.message,
          /stage1\/stage1_anomaly_detection\.py is missing \(SPARK_STAGE1_ENTRY names it as the entry file\)/,
        );
        assert.match(err.message, /no connection_stage2\.py for stage2 \(SPARK_STAGE2_PY_FILES\)/);
        assert.doesNotMatch(err.message, /config_stage|common\.py/);
        return true;
      },
    );
  });

  it('copies a --py-file kept at the top of the folder into the stage that names it', () => {
    const root = tree({
      'connection_stage1.py': 'shared',
      'stage1/stage1_anomaly_detection.py': '#',
      'stage2/stage2_spatial_clustering.py': '#',
      'stage2/connection_stage2.py': '#',
    });
    const copied = collectSparkCode(root, teamLayout).find((f) => f.name === 'connection_stage1.py');
    assert.equal(copied?.stage, 'stage1');
    assert.equal(copied?.body.toString(), 'shared');
  });

  it('names the folder when it does not exist', () => {
    assert.throws(() => collectSparkCode(path.join(scratch, 'nope')), /nope does not exist/);
  });
});
