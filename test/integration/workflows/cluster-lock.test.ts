/**
 * One run per cluster: runs that start together take turns between start_cluster and stop_cluster, say they are
 * waiting, and a cancelled waiter leaves no lock behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PipelineProgress } from '../../../src/shared/types';
import { startFakeWorld, type FakeWorld } from '../../support/temporal';

let world: FakeWorld;

before(async () => {
  world = await startFakeWorld('lock');
});
after(async () => {
  await world.close();
});

/** [start of start_cluster, end of stop_cluster] per run, from the recorded calls. */
function clusterWindows(workflowIds: string[]) {
  return workflowIds.map((id) => {
    const calls = world.rec.calls.filter((c) => c.workflowId === id);
    const from = calls.find((c) => c.step === 'start_cluster' && c.phase === 'start')!.at;
    const to = calls.find((c) => c.step === 'stop_cluster' && c.phase === 'end')!.at;
    return { id, from, to };
  });
}

describe('cluster lock', () => {
  it('two runs started at once never use the cluster at the same time', async () => {
    world.rec.calls = [];
    world.rec.delayMs = 500;
    const ids = ['2026-01-05', '2026-01-06'].map((d) => `${world.taskQueue}-${d}`);
    const handles = await Promise.all(
      ids.map((workflowId, i) =>
        world.client.workflow.start('potholePipeline', {
          taskQueue: world.taskQueue,
          workflowId,
          args: [`2026-01-0${5 + i}`],
        }),
      ),
    );
    // While the first holds the cluster, the second says what it waits for.
    await world.rec.waitFor('start_cluster');
    let waiting: string | undefined;
    for (let i = 0; i < 50 && !waiting; i++) {
      for (const h of handles) {
        const p = await h.query<PipelineProgress>('progress');
        waiting ??= p.waitingFor;
      }
      if (!waiting) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(String(waiting), /cluster in use by .*-2026-01-0[56]|waiting for the cluster lock/);
    await Promise.all(handles.map((h) => h.result()));
    world.rec.delayMs = 0;
    const [a, b] = clusterWindows(ids).sort((x, y) => x.from - y.from);
    assert.ok(a!.to <= b!.from, `overlap: ${JSON.stringify([a, b])}`);
  });

  it('a waiter that is cancelled leaves no lock behind', async () => {
    world.rec.calls = [];
    world.rec.behaviour = new Map([['run_stage1', 'block']]);
    const holder = await world.client.workflow.start('potholePipeline', {
      taskQueue: world.taskQueue,
      workflowId: `${world.taskQueue}-holder`,
      args: ['2026-01-07'],
    });
    await world.rec.waitFor('run_stage1');
    const waiter = await world.client.workflow.start('potholePipeline', {
      taskQueue: world.taskQueue,
      workflowId: `${world.taskQueue}-waiter`,
      args: ['2026-01-08'],
    });
    for (let i = 0; i < 50; i++) {
      if ((await waiter.query<PipelineProgress>('progress')).waitingFor) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await waiter.cancel();
    await assert.rejects(waiter.result());
    assert.ok(!world.rec.calls.some((c) => c.workflowId === waiter.workflowId && c.step === 'start_cluster'));

    // The holder finishes; a third run then gets the cluster at once.
    world.rec.behaviour = new Map();
    await holder.cancel();
    await assert.rejects(holder.result());
    const third = await world.client.workflow.start('potholePipeline', {
      taskQueue: world.taskQueue,
      workflowId: `${world.taskQueue}-third`,
      args: ['2026-01-09'],
    });
    const result = (await third.result()) as { batchDate: string };
    assert.equal(result.batchDate, '2026-01-09');
  });
});
