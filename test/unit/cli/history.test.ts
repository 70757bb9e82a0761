import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { stepsFromHistory } from '../../../src/cli/history';
import { STEPS } from '../../../src/steps';

const fixture = path.resolve(__dirname, '../../fixtures/histories/pipeline-success.json');

describe('steps read back from a run history', () => {
  it('shows every step of a successful recorded run as done, with times and attempts', () => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(fixture, 'utf8')));
    const steps = stepsFromHistory(history.events ?? []);
    assert.deepEqual(
      steps.map((s) => s.step),
      [...STEPS],
    );
    for (const s of steps) {
      assert.equal(s.status, 'done', s.step);
      assert.ok(s.startedAt && s.endedAt && s.startedAt <= s.endedAt, s.step);
      assert.equal(s.attempt, 1);
    }
  });

  it('shows steps a run never reached as pending', () => {
    assert.deepEqual(
      stepsFromHistory([]).map((s) => s.status),
      STEPS.map(() => 'pending'),
    );
  });
});
