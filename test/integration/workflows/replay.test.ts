/**
 * The workflow code replays histories recorded from real runs on the local stack without a non-determinism
 * error: a change that would break runs in flight (or resets of old runs) fails here first.
 * Record another with: temporal workflow show -w <id> --output json > test/fixtures/histories/<name>.json
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Worker, DefaultLogger, Runtime } from '@temporalio/worker';

const dir = path.resolve(__dirname, '../../fixtures/histories');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

Runtime.install({ logger: new DefaultLogger('ERROR') });

describe('replaying recorded histories', () => {
  it('has recorded histories to replay', () => {
    assert.ok(files.length >= 1);
  });

  for (const file of files) {
    it(`replays ${file} deterministically`, async () => {
      const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as unknown;
      await Worker.runReplayHistory(
        { workflowsPath: require.resolve('../../../src/workflows') },
        history,
        path.basename(file, '.json'),
      );
    });
  }
});
