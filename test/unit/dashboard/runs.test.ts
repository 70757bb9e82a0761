/** The pipeline panel's facts, read from recorded run histories with the CLI's readers. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { runFacts } from '../../../src/dashboard/runs';

const history = (name: string) =>
  historyFromJSON(
    JSON.parse(fs.readFileSync(path.resolve(__dirname, `../../fixtures/histories/${name}.json`), 'utf8')),
  ).events ?? [];

describe('what the pipeline panel shows of a run', () => {
  it('a successful run: its date, no failed step, the cluster up between start_cluster and stop_cluster, rows loaded', () => {
    const events = history('pipeline-success');
    const facts = runFacts(events);
    assert.equal(facts.inputBatchDate, '2026-11-20');
    assert.equal(facts.failedStep, null);
    assert.equal(facts.failure, null);
    assert.equal(facts.cleanup.status, 'stopped');
    const at = (step: string, kind: 'scheduled' | 'completed') => {
      const scheduled = events.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === step,
      )!;
      const e =
        kind === 'scheduled'
          ? scheduled
          : events.find(
              (x) =>
                String(x.activityTaskCompletedEventAttributes?.scheduledEventId) ===
                String(scheduled.eventId),
            )!;
      return Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
    };
    assert.equal(
      facts.clusterUpSeconds,
      (at('stop_cluster', 'completed') - at('start_cluster', 'scheduled')) / 1000,
    );
    assert.ok(facts.clusterUpSeconds! > 0);
    assert.ok(typeof facts.rowsLoaded === 'number' && facts.rowsLoaded > 0, String(facts.rowsLoaded));
  });

  it('a run whose input was missing: the failed step and why, no cluster, nothing loaded', () => {
    const facts = runFacts(history('pipeline-missing-input'));
    assert.equal(facts.failedStep, 'check_s3_input');
    assert.ok(facts.failure && facts.failure.length > 0);
    assert.equal(facts.clusterUpSeconds, null);
    assert.equal(facts.rowsLoaded, null);
    assert.equal(facts.cleanup.status, 'not-needed');
  });

  it('a run cancelled during run_stage1: no failed step, the cluster stopped', () => {
    const facts = runFacts(history('pipeline-cancelled-in-run_stage1'));
    assert.equal(facts.failedStep, null);
    assert.equal(facts.cleanup.status, 'stopped');
    assert.ok(facts.clusterUpSeconds! > 0);
  });
});
