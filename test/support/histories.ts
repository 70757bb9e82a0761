/**
 * Recorded histories for the replay test (test/fixtures/histories): tests that run a workflow into a shape worth
 * keeping save its history under a name when RECORD_HISTORIES=1, e.g.
 *   RECORD_HISTORIES=1 bash scripts/test.sh test/faults/cluster-owner.test.ts
 * and the replay test then replays every file, so a change that would break runs in flight fails there first.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { REPO_ROOT } from './stack';

const HISTORIES_DIR = path.join(REPO_ROOT, 'test/fixtures/histories');

/** Saves the run's history as test/fixtures/histories/<name>.json when RECORD_HISTORIES=1; otherwise nothing. */
export async function keepHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  const json = JSON.stringify(JSON.parse(historyToJSON(history)), null, 2);
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), `${json}\n`);
  console.log(`recorded ${handle.workflowId} as ${name}.json (${history.events?.length ?? 0} events)`);
}
