import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { stackConfig, uniqueName } from '../../support/stack';
import type { SmokeActivities } from './smoke-workflow';

Runtime.install({ logger: new DefaultLogger('WARN') });

test('a workflow runs through the Temporal dev server and its history stays on the server', async () => {
  const { temporal } = stackConfig(['temporal']);
  const taskQueue = uniqueName('stack-smoke');
  const workflowId = uniqueName('stack-smoke-wf');

  const connection = await Connection.connect({ address: temporal.TEMPORAL_ADDRESS, connectTimeout: 5_000 });
  const nativeConnection = await NativeConnection.connect({ address: temporal.TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: temporal.TEMPORAL_NAMESPACE });
    const activities: SmokeActivities = { shout: async (text) => text.toUpperCase() };
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: temporal.TEMPORAL_NAMESPACE,
      taskQueue,
      workflowsPath: require.resolve('./smoke-workflow'),
      activities,
    });

    const result = await worker.runUntil(
      client.workflow.execute('smokeWorkflow', { taskQueue, workflowId, args: ['pothole'] }),
    );
    assert.equal(result, 'hello POTHOLE');

    // Read back from the server: the run is recorded as completed, with the activity in its history.
    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    assert.equal(description.status.name, 'COMPLETED');
    assert.equal(description.taskQueue, taskQueue);
    const history = await handle.fetchHistory();
    const scheduled = history.events?.filter((e) => e.activityTaskScheduledEventAttributes) ?? [];
    assert.equal(scheduled.length, 1);
    assert.equal(scheduled[0]!.activityTaskScheduledEventAttributes!.activityType!.name, 'shout');
  } finally {
    await nativeConnection.close();
    await connection.close();
  }
});
