/**
 * The real worker process and the `pothole` CLI as child processes, and the Spark processes they leave on the
 * local stack: what the end-to-end and fault tests drive and inspect.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './stack';

const bin = path.join(REPO_ROOT, 'bin/pothole.js');

/** Starts `pothole worker` with that environment; resolves once it serves its task queue. */
export async function startWorkerProcess(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, 'worker'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      if (process.env.POTHOLE_TEST_WORKER_LOG) fs.appendFileSync(process.env.POTHOLE_TEST_WORKER_LOG, c);
      err += c.toString();
      if (err.includes('serving')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
  });
  return child;
}

export async function stopWorkerProcess(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/** The CLI, run without blocking this process (a recording proxy may live in it). */
export function potholeCli(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout, stderr })));
}

/** Polls until `fn` returns something truthy (every 500 ms). */
export async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Pids of processes whose command line matches the pattern (Spark drivers and daemons on the local stack). */
export const sparkProcesses = (pattern: string): string[] =>
  spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);

export const describeProcesses = (pids: string[]): string =>
  pids.length
    ? spawnSync('ps', ['-o', 'pid,lstart,args', '-p', pids.join(',')], { encoding: 'utf8' }).stdout
    : '';
