/**
 * The linter guards the workflow sandbox: workflow code that reaches for Node's I/O or an activity's implementation,
 * or a promise left floating, is refused by `npm run lint` before it can reach a replay.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '../..');
// An existing workflow file's path, so the type-aware rules see it as part of the project.
const workflowFile = path.join(root, 'src/workflows/input.ts');
const activityFile = path.join(root, 'src/activities/views.ts');

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: root }).lintText(code, { filePath });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('lint guards', () => {
  it('refuses Node built-ins in workflow code', async () => {
    const found = await ruleIds(`import fs from 'node:fs';\nexport const f = fs;\n`, workflowFile);
    assert.ok(
      found.some((m) => m.startsWith('@typescript-eslint/no-restricted-imports')),
      found.join('\n'),
    );
  });

  it('refuses workflow files in activity code: the lock protocol comes from its own module', async () => {
    const found = await ruleIds(
      `import { clusterLock } from '../workflows/cluster-lock';\nexport const f = clusterLock;\n`,
      activityFile,
    );
    assert.ok(
      found.some((m) => m.includes('src/shared/lock-protocol.ts')),
      found.join('\n'),
    );
    const protocol = await ruleIds(
      `import { lockWorkflowIdFor } from '../shared/lock-protocol';\nexport const f = lockWorkflowIdFor;\n`,
      activityFile,
    );
    assert.deepEqual(protocol, []);
  });

  it('refuses activity implementations in workflow code but allows their types', async () => {
    const value = await ruleIds(
      `import { createViewActivities } from '../activities/views';\nexport const f = createViewActivities;\n`,
      workflowFile,
    );
    assert.ok(
      value.some((m) => m.includes('types only')),
      value.join('\n'),
    );
    const types = await ruleIds(
      `import type { Activities } from '../activities';\nexport type A = Activities;\n`,
      workflowFile,
    );
    assert.deepEqual(types, []);
  });

  it('refuses a floating promise anywhere', async () => {
    const code = `async function step(): Promise<void> {}\nexport function run(): void {\n  step();\n}\n`;
    for (const file of [workflowFile, activityFile]) {
      const found = await ruleIds(code, file);
      assert.ok(
        found.some((m) => m.startsWith('@typescript-eslint/no-floating-promises')),
        `${file}: ${found.join('\n')}`,
      );
    }
  });
});
