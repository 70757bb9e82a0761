/**
 * npm run build: the production build in dist/. Compiles src/ (tsconfig.build.json), copies the files the code
 * reads at run time (the SQL migrations, the dashboard's page), and bundles the workflow code once, here, so a
 * worker started from dist loads dist/workflow-bundle.js instead of running webpack at every start.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const started = Date.now();

fs.rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

for (const dir of ['db/migrations', 'dashboard/public']) {
  fs.cpSync(path.join(root, 'src', dir), path.join(dist, dir), {
    recursive: true,
    filter: (f) => !f.endsWith('.ts'),
  });
}

async function bundle(): Promise<void> {
  // The compiled worker names its workflow sources and interceptors: the bundle is made of exactly those.
  const { workflowSources, WORKFLOW_BUNDLE } = (await import(
    path.join(dist, 'worker.js')
  )) as typeof import('../src/worker');
  // WARN: webpack's module list (logged at INFO) is noise here; its errors still show.
  const { code } = await bundleWorkflowCode({ ...workflowSources(), logger: new DefaultLogger('WARN') });
  fs.writeFileSync(WORKFLOW_BUNDLE, code);
  const files = fs.readdirSync(dist, { recursive: true }).length;
  console.log(
    `dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${files} files, ` +
      `${path.relative(root, WORKFLOW_BUNDLE)} ${(code.length / 1048576).toFixed(1)} MB`,
  );
}

bundle().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
