/**
 * `pothole schedule`, through the real CLI against the local Temporal server. The scheduled runs go to a task
 * queue of this test's own, served by stand-in activities.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PipelineProgress } from '../../../src/shared/types';
import { yesterdayInSeoul } from '../../../src/shared/steps';
import { stackProcessEnv, startFakeWorld, type FakeWorld } from '../../support/temporal';

const bin = path.resolve(__dirname, '../../../bin/pothole.js');
let world: FakeWorld;

function pothole(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: stackProcessEnv({ TEMPORAL_TASK_QUEUE: world.taskQueue }),
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `pothole ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  world = await startFakeWorld('schedule');
  spawnSync(process.execPath, [bin, 'schedule', 'delete'], {
    env: stackProcessEnv(),
  });
});

after(async () => {
  spawnSync(process.execPath, [bin, 'schedule', 'delete'], {
    env: stackProcessEnv(),
  });
  await world.close();
});

describe('the nightly schedule', () => {
  it('create then describe shows 02:00 Asia/Seoul, no overlap and a catch-up window', () => {
    pothole('schedule', 'create');
    const d = JSON.parse(pothole('schedule', 'describe', '--json')) as {
      spec: { timezone: string; calendars: { hour: { start: number }[]; minute: { start: number }[] }[] };
      policies: { overlap: string; catchupWindow: number };
      nextActionTimes: string[];
    };
    assert.equal(d.spec.timezone, 'Asia/Seoul');
    assert.equal(d.spec.calendars[0]!.hour[0]!.start, 2);
    assert.equal(d.spec.calendars[0]!.minute[0]!.start, 0);
    assert.equal(d.policies.overlap, 'SKIP');
    assert.equal(d.policies.catchupWindow, 24 * 3600 * 1000);
    // 02:00 in Seoul is 17:00 UTC.
    assert.match(d.nextActionTimes[0]!, /T17:00:00\.000Z$/);
    const human = pothole('schedule', 'describe');
    assert.match(human, /Asia\/Seoul/);
  });

  it('trigger starts a run for the previous day in Asia/Seoul', async () => {
    const before = Date.now();
    pothole('schedule', 'trigger');
    let runId: string | undefined;
    for (let i = 0; i < 100 && !runId; i++) {
      for await (const w of world.client.workflow.list({
        query: `TaskQueue = '${world.taskQueue}' AND WorkflowType = 'potholePipeline'`,
      })) {
        runId = w.workflowId;
      }
      if (!runId) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(runId, 'a scheduled run started');
    const handle = world.client.workflow.getHandle(runId);
    const progress = await handle.query<PipelineProgress>('progress');
    assert.equal(progress.batchDate, yesterdayInSeoul(new Date(before)));
    await handle.result();
  });

  it('pause and unpause', () => {
    assert.match(pothole('schedule', 'pause'), /PAUSED/);
    assert.doesNotMatch(pothole('schedule', 'unpause'), /PAUSED/);
  });
});
