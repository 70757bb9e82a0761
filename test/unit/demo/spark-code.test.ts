import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
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

  it('names the folder when it does not exist', () => {
    assert.throws(() => collectSparkCode(path.join(scratch, 'nope')), /nope does not exist/);
  });
});
