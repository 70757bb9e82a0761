/**
 * The house as docs/architecture.md draws it: the rooms of src/ are the ones on the page, and every import points
 * down the floors (dependency-cruiser, with the rules of .dependency-cruiser.cjs). Each rule is also run over a small
 * tree that breaks it, so a rule whose paths no longer match anything is noticed rather than passing in silence.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

const root = path.resolve(__dirname, '../..');
const config = path.join(root, '.dependency-cruiser.cjs');
const depcruise = path.join(root, 'node_modules/.bin/depcruise');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}
interface CruiseSummary {
  violations: Violation[];
  totalCruised: number;
  totalDependenciesCruised: number;
}

function cruise(cwd: string): CruiseSummary {
  const run = spawnSync(depcruise, ['src', '--config', config, '--output-type', 'json'], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  // depcruise exits non-zero when it finds violations; its JSON is on stdout either way.
  assert.ok(run.stdout.startsWith('{'), `depcruise printed no result: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { summary: CruiseSummary }).summary;
}

function ruleNames(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const rules = (require(config) as { forbidden: { name: string }[] }).forbidden;
  return rules.map((r) => r.name).sort();
}

/** The names in the fenced block that follows `heading` in docs/architecture.md. */
function block(heading: string): string {
  const doc = fs.readFileSync(path.join(root, 'docs/architecture.md'), 'utf8');
  const at = doc.indexOf(heading);
  assert.notEqual(at, -1, `docs/architecture.md has "${heading}"`);
  const open = doc.indexOf('```', at);
  const close = doc.indexOf('```', open + 3);
  return doc.slice(doc.indexOf('\n', open) + 1, close);
}

describe('the house', () => {
  it('every import in src/ points down the floors', () => {
    const summary = cruise(root);
    console.log(
      `${summary.totalCruised} modules, ${summary.totalDependenciesCruised} dependencies cruised; ` +
        `${summary.violations.length} violations of ${ruleNames().length} rules`,
    );
    assert.deepEqual(
      summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`),
      [],
    );
  });

  describe('each rule refuses the import it is written for', () => {
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-house-'));
    after(() => fs.rmSync(tree, { recursive: true, force: true }));
    const files: Record<string, string> = {
      'src/workflows/pipeline.ts':
        "import fs from 'node:fs';\nimport { runStage } from '../activities/spark';\nexport const f = [fs, runStage];\n",
      'src/workflows/lock.ts': "export const lockId = 'cluster-lock';\n",
      'src/activities/spark.ts':
        "import { lockId } from '../workflows/lock';\nexport const runStage = lockId;\n",
      'src/db/pool.ts': "import { runStage } from '../activities/spark';\nexport const pool = runStage;\n",
      'src/config/index.ts': "import { pool } from '../db/pool';\nexport const config = pool;\n",
      'src/cli/history.ts': "import { program } from '../client';\nexport const history = program;\n",
      'src/client.ts': "export const program = 'pothole';\n",
      'src/dashboard/runs.ts': "import { history } from '../cli/history';\nexport const runs = history;\n",
      'src/worker.ts': "import { runs } from './dashboard/runs';\nexport const worker = runs;\n",
      'src/shared/steps.ts': "import { register } from 'tsx/cjs/api';\nexport const steps = register;\n",
      'src/cost/run-cost.ts': "import { helper } from '../../test/helper';\nexport const cost = helper;\n",
      'test/helper.ts': 'export const helper = 1;\n',
      'src/demo/roads.ts': "import { ROADS } from './road-list';\nexport const roads = ROADS;\n",
      'src/runs/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
      'src/runs/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
      'package.json': JSON.stringify({ name: 'house', devDependencies: { tsx: '*' } }),
    };
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(tree, name)), { recursive: true });
      fs.writeFileSync(path.join(tree, name), text);
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(tree, 'node_modules'));
    const summary = cruise(tree);
    const broken = (rule: string) =>
      summary.violations.filter((v) => v.rule.name === rule).map((v) => `${v.from} → ${v.to}`);

    it('names every rule of the configuration', () => {
      assert.deepEqual([...new Set(summary.violations.map((v) => v.rule.name))].sort(), ruleNames());
    });
    it('workflow code takes no Node built-in and no activity code', () => {
      assert.ok(broken('workflows-are-replayable').includes('src/workflows/pipeline.ts → fs'));
      assert.deepEqual(broken('workflows-see-activities-as-types'), [
        'src/workflows/pipeline.ts → src/activities/spark.ts',
      ]);
    });
    it('activities do not reach up into workflow code', () => {
      assert.deepEqual(broken('activities-below-workflows'), [
        'src/activities/spark.ts → src/workflows/lock.ts',
      ]);
    });
    it('the database layer knows no activity; the configuration knows no database', () => {
      assert.deepEqual(broken('temporal-and-data-below-activities'), [
        'src/db/pool.ts → src/activities/spark.ts',
      ]);
      assert.ok(broken('bottom-imports-nothing-above').includes('src/config/index.ts → src/db/pool.ts'));
    });
    it('the dashboard does not import the CLI, nor the worker the dashboard', () => {
      assert.deepEqual(broken('dashboard-is-not-the-cli'), ['src/dashboard/runs.ts → src/cli/history.ts']);
      assert.deepEqual(broken('worker-is-not-the-cli'), ['src/worker.ts → src/dashboard/runs.ts']);
      assert.deepEqual(broken('only-the-process-runs-the-program'), ['src/cli/history.ts → src/client.ts']);
    });
    it('an import that does not resolve is named, not skipped', () => {
      assert.deepEqual(broken('imports-resolve'), ['src/demo/roads.ts → ./road-list']);
    });
    it('production code takes no dev dependency, no test code, and no cycle', () => {
      assert.equal(broken('production-code-needs-no-dev-dependency').length, 1);
      assert.match(broken('production-code-needs-no-dev-dependency')[0]!, /^src\/shared\/steps\.ts → .*tsx/);
      assert.deepEqual(broken('production-code-imports-no-tooling'), [
        'src/cost/run-cost.ts → test/helper.ts',
      ]);
      assert.equal(broken('no-circular').length, 1, 'the cycle, at the import that closes it');
      assert.match(broken('no-circular')[0]!, /^src\/runs\/[ab]\.ts → src\/runs\/[ab]\.ts$/);
    });
  });

  it("docs/architecture.md lists exactly src/'s rooms, and each name on its floors exists", () => {
    const rooms = block('## The rooms')
      .split('\n')
      .map((line) => /^ {2}(\S+)/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined);
    const onDisk = fs
      .readdirSync(path.join(root, 'src'), { withFileTypes: true })
      .map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
    assert.deepEqual([...rooms].sort(), [...onDisk].sort());

    const floors = block('## One direction');
    const named = [...floors.matchAll(/[\w-]+(?:\/[\w.-]*)?(?:\.ts)?/g)]
      .map((m) => m[0])
      .filter((name) => name.endsWith('/') || name.endsWith('.ts'));
    assert.ok(named.length >= 10, `names on the floors: ${named.join(' ')}`);
    for (const name of named) {
      assert.ok(fs.existsSync(path.join(root, 'src', name)), `src/${name}, named on a floor, exists`);
    }
  });
});
