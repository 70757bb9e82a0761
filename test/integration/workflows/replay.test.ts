/**
 * The workflow code replays histories recorded from real runs without a non-determinism error: a change that
 * would break runs in flight (or resets of old runs) fails here first. Every workflow type the worker registers
 * has recorded histories of its current shape: each patch its code can record appears in one of them (a change
 * of a command sequence goes behind patched(), and a history with the new shape is recorded beside the old ones).
 * Record with RECORD_HISTORIES=1 (see test/support/histories.ts), or:
 *   temporal workflow show -w <id> --output json > test/fixtures/histories/<name>.json
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Worker, DefaultLogger, Runtime } from '@temporalio/worker';

const dir = path.resolve(__dirname, '../../fixtures/histories');
const workflowsDir = path.resolve(__dirname, '../../../src/workflows');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

Runtime.install({ logger: new DefaultLogger('ERROR') });

/** The patches each workflow type's code can record (through the modules it uses). */
const PATCHES: Record<string, string[]> = {
  potholePipeline: [
    'load-complaints',
    'announce-cancelled-runs',
    'cluster-cost-memo',
    'cluster-lock-recheck',
    'cleanup-permanent-errors-to-watchdog',
  ],
  potholeBackfill: ['cluster-cost-memo', 'cluster-lock-recheck', 'cleanup-permanent-errors-to-watchdog'],
  clusterLock: ['cluster-lock-regrant', 'cluster-lock-open-runs'],
  potholeWatchdog: ['watchdog-read-then-act', 'watchdog-alerts-failed-stop', 'cluster-lock-recheck'],
};

/** Patches recorded only on a path no run of the local stack can take, with why. */
const NOT_RECORDABLE: Record<string, string> = {
  'cleanup-permanent-errors-to-watchdog':
    'taken only when EC2 refuses stop_cluster for good (missing permissions), which the emulator never does',
  'watchdog-alerts-failed-stop': 'taken only when the watchdog cannot stop instances for the same reason',
};

interface RecordedHistory {
  events: {
    workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
    markerRecordedEventAttributes?: {
      markerName?: string;
      details?: Record<string, { payloads?: { data?: string }[] }>;
    };
  }[];
}

const histories = files.map((file) => {
  const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as RecordedHistory;
  const type = history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';
  const patches = new Set<string>();
  for (const e of history.events) {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') continue;
    for (const detail of Object.values(m.details ?? {})) {
      for (const p of detail.payloads ?? []) {
        patches.add((JSON.parse(Buffer.from(p.data ?? '', 'base64').toString('utf8')) as { id: string }).id);
      }
    }
  }
  return { file, history, type, patches };
});

/** Every patch id the workflow code passes to patched(), literally or through a constant of its module. */
function patchesInCode(): Set<string> {
  const ids = new Set<string>();
  for (const f of fs.readdirSync(workflowsDir).filter((n) => n.endsWith('.ts'))) {
    const code = fs.readFileSync(path.join(workflowsDir, f), 'utf8');
    for (const m of code.matchAll(/patched\(\s*(?:'([^']+)'|([A-Z_]+))\s*\)/g)) {
      const id = m[1] ?? new RegExp(`const ${m[2]} = '([^']+)'`).exec(code)?.[1];
      assert.ok(id, `${f}: the patch constant ${m[2]} is not a string literal of the module`);
      ids.add(id);
    }
  }
  return ids;
}

const registeredTypes = () =>
  [...fs.readFileSync(path.join(workflowsDir, 'index.ts'), 'utf8').matchAll(/export \{ (\w+) \}/g)].map(
    (m) => m[1]!,
  );

describe('replaying recorded histories', () => {
  for (const { file, history } of histories) {
    it(`replays ${file} deterministically`, async () => {
      await Worker.runReplayHistory(
        { workflowsPath: require.resolve('../../../src/workflows') },
        history,
        path.basename(file, '.json'),
      );
    });
  }
});

describe('recorded histories of every workflow type', () => {
  it('every patch in the workflow code is listed for the types that record it', () => {
    const listed = new Set(Object.values(PATCHES).flat());
    const unlisted = [...patchesInCode()].filter((id) => !listed.has(id));
    assert.deepEqual(unlisted, [], 'add these patches to PATCHES (and record a history with them)');
    assert.deepEqual(Object.keys(PATCHES).sort(), registeredTypes().sort());
  });

  for (const type of registeredTypes()) {
    it(`${type} has recorded histories with every patch its code records`, () => {
      const own = histories.filter((h) => h.type === type);
      assert.ok(own.length > 0, `no recorded history of ${type}`);
      const recorded = new Set(own.flatMap((h) => [...h.patches]));
      const missing = (PATCHES[type] ?? []).filter((id) => !recorded.has(id) && !(id in NOT_RECORDABLE));
      console.log(`${type}: ${own.length} histories; patches recorded: ${[...recorded].sort().join(', ')}`);
      assert.deepEqual(missing, [], `record a history of ${type} that takes these patches`);
    });
  }
});
