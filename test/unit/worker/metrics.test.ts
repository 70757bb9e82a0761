/**
 * The worker's Prometheus endpoint: METRICS_PORT turns it on (and nothing listens without it), and every attempt of
 * a pipeline step is measured by step and outcome. What a real run exports is checked end to end in
 * test/e2e/job-layout.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure, type MetricMeter, type MetricTags } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../../../src/config';
import { metricsTelemetry, stepMetrics } from '../../../src/worker/metrics';
import { freePort } from '../../support/free-port';

const REPO_ROOT = path.resolve(__dirname, '../../..');

/** A meter that keeps what is recorded on it: [kind, name, value, tags]. */
function recordingMeter() {
  const seen: [string, string, number, MetricTags][] = [];
  const meter = {
    createCounter: (name: string) => ({
      add: (v: number, t: MetricTags = {}) => seen.push(['counter', name, v, t]),
    }),
    createHistogram: (name: string) => ({
      record: (v: number, t: MetricTags = {}) => seen.push(['histogram', name, v, t]),
    }),
    createGauge: (name: string) => ({
      set: (v: number, t: MetricTags = {}) => seen.push(['gauge', name, v, t]),
    }),
    withTags: () => meter,
  };
  return { meter: meter as unknown as MetricMeter, seen };
}

/** The labels the interceptor sets (the meter also carries namespace, taskQueue and activityType). */
const labels = (t: MetricTags) => ({ step: t.step, outcome: t.outcome });

/** Runs `fn` as the activity `activityType` with the step interceptor; returns what it recorded. */
async function attempt(activityType: string, fn: (env: MockActivityEnvironment) => Promise<unknown>) {
  const { meter, seen } = recordingMeter();
  const env = new MockActivityEnvironment(
    { activityType },
    {
      interceptors: [stepMetrics],
      metricMeter: meter,
      logger: new DefaultLogger('ERROR', () => undefined),
    },
  );
  await env.run(() => fn(env)).catch(() => undefined);
  return seen;
}

/** The TCP ports a process listens on, read from /proc (its socket inodes that /proc/net/tcp* lists as LISTEN). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set(
    fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((x): x is string => !!x),
  );
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && inodes.has(f[9]!)) ports.push(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/**
 * A process that sets up the Temporal runtime from its settings as the worker does, then waits: its pid, and a
 * function that ends it.
 */
async function runtimeProcess(env: Record<string, string>) {
  const script = `
    const { Runtime } = require('@temporalio/worker');
    const { loadConfig } = require('./src/config');
    const { metricsTelemetry } = require('./src/worker/metrics');
    Runtime.install({ telemetryOptions: metricsTelemetry(loadConfig(['temporal'], process.env).temporal) });
    console.log('installed');
    setInterval(() => undefined, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => c.toString().includes('installed') && resolve());
    child.once('exit', (code) => reject(new Error(`exited ${code}`)));
  });
  return {
    pid: child.pid!,
    // SIGKILL: the runtime handles SIGTERM itself (it shuts workers down) and would leave this process waiting.
    stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGKILL'))),
  };
}

describe('the metrics endpoint', () => {
  it('is off unless METRICS_PORT is set, on every interface by default, and refuses a bad port', () => {
    const off = loadConfig(['temporal'], {}).temporal;
    assert.equal(off.METRICS_PORT, undefined);
    assert.equal(metricsTelemetry(off), undefined);

    const on = loadConfig(['temporal'], { METRICS_PORT: '9464' }).temporal;
    const prometheus = (metricsTelemetry(on)?.metrics as { prometheus: { bindAddress: string } }).prometheus;
    assert.equal(prometheus.bindAddress, '0.0.0.0:9464');
    const v6 = metricsTelemetry(
      loadConfig(['temporal'], { METRICS_PORT: '9464', METRICS_HOST: '::1' }).temporal,
    );
    assert.equal(
      (v6?.metrics as { prometheus: { bindAddress: string } }).prometheus.bindAddress,
      '[::1]:9464',
    );

    assert.throws(
      () => loadConfig(['temporal'], { METRICS_PORT: 'metrics' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.includes('METRICS_PORT must be a port number (1-65535), got "metrics"'),
    );
  });

  it('listens on METRICS_PORT when set; without it the runtime listens on no port at all', async () => {
    const port = await freePort();
    const on = await runtimeProcess({ METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' });
    try {
      assert.deepEqual(listeningPorts(on.pid), [port]);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    } finally {
      await on.stop();
    }
    const off = await runtimeProcess({});
    try {
      assert.deepEqual(listeningPorts(off.pid), []);
    } finally {
      await off.stop();
    }
  });
});

describe('step metrics', () => {
  it("records each step attempt's duration and outcome, labelled by step", async () => {
    const ok = await attempt('run_stage1', () => new Promise((r) => setTimeout(r, 50)));
    assert.deepEqual(
      ok.map(([kind, name, , tags]) => [kind, name, labels(tags)]),
      [
        ['histogram', 'pothole_step_duration_seconds', { step: 'run_stage1', outcome: 'success' }],
        ['counter', 'pothole_step_attempts_total', { step: 'run_stage1', outcome: 'success' }],
      ],
    );
    const seconds = ok[0]![2];
    // A 50 ms timer may fire a fraction of a millisecond early as the step's own clock measures it.
    assert.ok(seconds >= 0.045 && seconds < 1, `duration ${seconds} s`);
    assert.equal(ok[1]![2], 1);

    const failed = await attempt('load_to_rdb', () => Promise.reject(ApplicationFailure.nonRetryable('bad')));
    assert.deepEqual(labels(failed[1]![3]), { step: 'load_to_rdb', outcome: 'failure' });
    const optional = await attempt('load_complaints', () => Promise.reject(new Error('portal down')));
    assert.deepEqual(labels(optional[1]![3]), { step: 'load_complaints', outcome: 'failure' });
  });

  it('counts an attempt that was asked to cancel as cancelled', async () => {
    const seen = await attempt('run_stage2', (env) => {
      setTimeout(() => env.cancel(), 10);
      return new Promise((_, reject) => setTimeout(() => reject(new CancelledFailure('cancelled')), 30));
    });
    assert.deepEqual(labels(seen[1]![3]), { step: 'run_stage2', outcome: 'cancelled' });
  });

  it('leaves activities that are not pipeline steps alone', async () => {
    assert.deepEqual(await attempt('notify_slack', () => Promise.resolve()), []);
    assert.deepEqual(await attempt('watchdog_survey', () => Promise.resolve()), []);
  });
});
