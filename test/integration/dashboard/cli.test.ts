/** `pothole dashboard` as an operator starts it: settings checked first, the schema checked, then served until SIGTERM. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../support/database';
import { REPO_ROOT, stackProcessEnv } from '../../support/stack';
import { NO_TEMPORAL, seedSmallWeek } from './support';
import { freePort } from '../../support/free-port';

let db: ThrowawayDatabase;

before(async () => {
  db = await createThrowawayDatabase('dashboard_cli');
  await seedSmallWeek(db.pool);
});

after(async () => {
  await db?.drop();
});

function dashboard(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/pothole.js'), 'dashboard'], {
    cwd: REPO_ROOT,
    env: stackProcessEnv({ TEMPORAL_ADDRESS: NO_TEMPORAL, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
  );

/** Waits for the line saying where it serves. */
async function serving(child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!output().includes('dashboard at')) {
    if (child.exitCode !== null || Date.now() > deadline) assert.fail(`not serving: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('pothole dashboard', () => {
  it('refuses bad settings, naming each, before touching anything', async () => {
    const { child, output } = dashboard({ DASHBOARD_PORT: 'eighty', DASHBOARD_USER: 'manager' });
    assert.equal(await exited(child), 2);
    assert.match(output(), /DASHBOARD_PASSWORD is required when DASHBOARD_USER is set/);
    assert.match(output(), /DASHBOARD_PORT must be a port number \(1-65535\), got "eighty"/);
  });

  it('refuses a database the migrations have not reached, naming the command', async () => {
    const bare = await createThrowawayDatabase('dashboard_cli_bare', { migrate: false });
    try {
      const { child, output } = dashboard({
        POSTGRES_DB: bare.name,
        DASHBOARD_PORT: String(await freePort()),
      });
      assert.equal(await exited(child), 1);
      assert.match(
        output(),
        /error: the database lacks .*: apply the migrations with "npx pothole db migrate"/,
      );
    } finally {
      await bare.drop();
    }
  });

  it('refuses to bind beyond loopback without DASHBOARD_USER, naming it and DASHBOARD_ALLOW_ANONYMOUS_CHANGES', async () => {
    const { child, output } = dashboard({
      POSTGRES_DB: db.name,
      DASHBOARD_HOST: '0.0.0.0',
      DASHBOARD_PORT: String(await freePort()),
    });
    assert.equal(await exited(child), 2);
    assert.match(
      output(),
      /DASHBOARD_USER is required when DASHBOARD_HOST \(0\.0\.0\.0\) is beyond loopback: without a login anyone who reaches the dashboard can change repair statuses; set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_ALLOW_ANONYMOUS_CHANGES=true to allow that/,
    );
    assert.doesNotMatch(output(), /dashboard at/);
  });

  it('binds beyond loopback without a login when DASHBOARD_ALLOW_ANONYMOUS_CHANGES=true', async () => {
    const port = await freePort();
    const { child, output } = dashboard({
      POSTGRES_DB: db.name,
      DASHBOARD_HOST: '0.0.0.0',
      DASHBOARD_PORT: String(port),
      DASHBOARD_ALLOW_ANONYMOUS_CHANGES: 'true',
    });
    try {
      await serving(child, output);
      assert.match(output(), new RegExp(`dashboard at http://localhost:${port}/`));
      const settings = await (await fetch(`http://127.0.0.1:${port}/api/settings`)).json();
      assert.equal(settings.loginRequired, false);
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('serves the page on DASHBOARD_HOST:DASHBOARD_PORT and stops on SIGTERM', async () => {
    const port = await freePort();
    const { child, output } = dashboard({
      POSTGRES_DB: db.name,
      DASHBOARD_HOST: '127.0.0.1',
      DASHBOARD_PORT: String(port),
    });
    try {
      await serving(child, output);
      assert.match(output(), new RegExp(`dashboard at http://127\\.0\\.0\\.1:${port}/`));
      const list = await (await fetch(`http://127.0.0.1:${port}/api/priority`)).json();
      assert.equal(list.rows[0].s_id, 'GN_0001');
      assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
