/** `pothole dashboard` as production runs it, in a process of its own on a free loopback port: for the benchmarks. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../test/support/free-port';

/**
 * Starts it with these settings (without the env file they came from: the child must not read it again over
 * POSTGRES_DB) and resolves once it listens. `origin` is http://127.0.0.1:PORT.
 */
export async function startDashboardProcess(
  env: Record<string, string | undefined>,
  options: { stdout?: 'inherit' | 'ignore' } = {},
) {
  const port = await freePort();
  const { POTHOLE_ENV_FILE: _file, ...settings } = env;
  const child = spawn(process.execPath, [path.join(__dirname, '../bin/pothole.js'), 'dashboard'], {
    env: { ...settings, DASHBOARD_HOST: '127.0.0.1', DASHBOARD_PORT: String(port) },
    stdio: ['ignore', options.stdout ?? 'inherit', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('dashboard at')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`pothole dashboard exited (${code}):\n${stderr}`)));
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}
