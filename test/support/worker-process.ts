/**
 * A real `pothole worker` process and the `pothole` CLI, run as an operator would, for end-to-end and
 * fault tests. Children never block this process (tests may serve things, e.g. a recording proxy).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './stack';

const POTHOLE_BIN = path.join(REPO_ROOT, 'bin/pothole.js');

/**
 * Starts `pothole worker` with this environment; resolves once it serves its task queues (its log's
 * `worker (role) serving …` line). `onOutput` receives everything it prints (its JSON log lines), for tests that
 * read the log. `command` and `cwd` run another entry point than bin/pothole.js: the built one is
 * `['dist/cli/main.js']` in the folder that holds dist.
 */
export async function startWorkerProcess(
  env: NodeJS.ProcessEnv,
  args: string[] = [],
  onOutput?: (text: string) => void,
  command: string[] = [POTHOLE_BIN],
  cwd = REPO_ROOT,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...command, 'worker', ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let printed = '';
    let serving = false;
    const read = (c: Buffer) => {
      onOutput?.(c.toString());
      if (serving) return;
      printed += c.toString();
      serving = /worker \(\w+\) serving/.test(printed);
      if (serving) resolve();
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${printed}`)));
  });
  return child;
}

/** Stops a worker process (SIGTERM: graceful; SIGKILL: a crash) and waits for it to exit. */
export async function stopWorkerProcess(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

export interface CliOutcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `pothole <args>` and collects its output. */
export function runPothole(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliOutcome> {
  const child = spawn(process.execPath, [POTHOLE_BIN, ...args], {
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
