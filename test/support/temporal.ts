/** A Temporal client and a worker with recording stand-in activities on a task queue of the test's own. */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import type { PipelineSettings } from '../../src/activities/temporal';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { fakeActivities, Recorder } from './fake-activities';
import { stackEnv, stackProcessEnv, type Env } from './stack';

export { stackProcessEnv };

let runtimeInstalled = false;
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

export interface FakeWorld {
  client: Client;
  taskQueue: string;
  rec: Recorder;
  /** Ends every open run on the task queue, stops the worker, closes connections. */
  close(): Promise<void>;
}

/** `env` is laid over the stack's settings (e.g. TLS settings for another way to the server). */
export async function startFakeWorld(
  name: string,
  settings: PipelineSettings = {},
  env: Env = {},
): Promise<FakeWorld> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const { temporal } = loadConfig(['temporal'], stackEnv(env));
  const taskQueue = `${name}-${process.pid}-${Date.now()}`;
  const connection = await Connection.connect(temporalConnectionOptions(temporal));
  const client = new Client({ connection, namespace: temporal.TEMPORAL_NAMESPACE });
  const rec = new Recorder();
  rec.settings = { ...settings };
  const worker = await Worker.create({
    connection: await NativeConnection.connect(temporalConnectionOptions(temporal)),
    namespace: temporal.TEMPORAL_NAMESPACE,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      logger: quiet,
    }),
    activities: fakeActivities(rec, client, taskQueue),
    shutdownForceTime: '10s',
  });
  const running = worker.run();
  return {
    client,
    taskQueue,
    rec,
    async close() {
      for await (const w of client.workflow.list({
        query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
      })) {
        await client.workflow
          .getHandle(w.workflowId, w.runId)
          .terminate('test finished')
          .catch(() => undefined);
      }
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
