/**
 * The pipeline panel's API against the local Temporal server: the latest pipeline runs, newest first, each with its
 * date, status, cleanup outcome and a link to the Temporal UI. The two runs here have no worker (one left running,
 * one terminated before any step), which is all the listing and the history reading need.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../src/config';
import { connectClient } from '../../../src/temporal/client';
import type { RunRow } from '../../../src/dashboard/runs';
import { createThrowawayDatabase, uniqueSuffix, type ThrowawayDatabase } from '../../support/database';
import { stackEnv } from '../../support/stack';
import { dashboardFor } from './support';

const env = stackEnv();
const { temporal } = loadConfig(['temporal'], env);
const suffix = uniqueSuffix();
let db: ThrowawayDatabase;
let app: FastifyInstance;
let client: Client;
let terminated: WorkflowHandle;
let running: WorkflowHandle;

before(async () => {
  db = await createThrowawayDatabase('dashboard_runs');
  app = await dashboardFor(db.pool, { TEMPORAL_ADDRESS: temporal.TEMPORAL_ADDRESS });
  client = await connectClient(temporal);
  const start = (name: string, input: unknown) =>
    client.workflow.start('potholePipeline', {
      taskQueue: `dashboard-runs-${suffix}`,
      workflowId: `dashboard-runs-${suffix}-${name}`,
      args: [input as never],
    });
  terminated = await start('terminated', { batchDate: '2031-01-02' });
  await terminated.terminate('test: a run that never reached a step');
  running = await start('running', '2031-01-03');
});

after(async () => {
  await running?.terminate('test finished').catch(() => undefined);
  await client?.connection.close();
  await app?.close();
  await db?.drop();
});

/** The panel's rows once both runs are listed (the server's listing lags a start by a moment). */
async function panelRows(): Promise<RunRow[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await app.inject({ url: '/api/runs' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.available, true);
    const rows = body.runs as RunRow[];
    const ours = rows.filter((r) => r.workflowId.includes(suffix));
    if (ours.length === 2 && ours.some((r) => r.status === 'TERMINATED')) return rows;
    if (Date.now() > deadline)
      assert.fail(`our two runs are not listed: ${JSON.stringify(rows.slice(0, 3))}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('the pipeline panel', () => {
  it('lists at most 14 pipeline runs, newest first', async () => {
    const rows = await panelRows();
    assert.ok(rows.length >= 2 && rows.length <= 14, String(rows.length));
    const starts = rows.map((r) => r.startedAt);
    assert.deepEqual(starts, [...starts].sort().reverse());
  });

  it('shows a running run with its date (from its input), still open, nothing failed', async () => {
    const row = (await panelRows()).find((r) => r.workflowId === running.workflowId)!;
    assert.deepEqual(
      [row.batchDate, row.status, row.closedAt, row.failedStep, row.rowsLoaded, row.clusterUpSeconds],
      ['2031-01-03', 'RUNNING', null, null, null, null],
    );
    assert.ok(row.durationSeconds >= 0);
  });

  it('shows a terminated run, what became of the cluster, and links it to the Temporal UI', async () => {
    const row = (await panelRows()).find((r) => r.workflowId === terminated.workflowId)!;
    assert.equal(row.batchDate, '2031-01-02');
    assert.equal(row.status, 'TERMINATED');
    assert.ok(row.closedAt);
    assert.equal(row.cleanup.status, 'not-needed');
    assert.equal(row.cleanupText, 'not started by this run');
    assert.equal(
      row.url,
      `${temporal.TEMPORAL_UI_URL}/namespaces/${temporal.TEMPORAL_NAMESPACE}/workflows/${terminated.workflowId}/${row.runId}/history`,
    );
  });
});
