/**
 * The alert rules and the Grafana dashboard shipped in deploy/ are well formed and watch metrics the worker really
 * exports: a metric renamed in the code without its alert would otherwise leave the alert silent for good.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CLUSTER_METRICS } from '../../src/activities/metrics';
import { STEP_METRICS } from '../../src/worker/metrics';
import { RUN_METRICS } from '../../src/workflows/metrics';

const deploy = path.resolve(__dirname, '../../deploy');

/** Every pothole_* series name the worker exports (histograms as their _bucket, _sum and _count series). */
const HISTOGRAMS = [STEP_METRICS.duration, RUN_METRICS.clusterUp[0], RUN_METRICS.lockWait[0]];
const EXPORTED = new Set([
  ...Object.values(STEP_METRICS),
  ...Object.values(RUN_METRICS).map(([name]) => name),
  ...Object.values(CLUSTER_METRICS).map(([name]) => name),
  ...HISTOGRAMS.flatMap((h) => ['_bucket', '_sum', '_count'].map((s) => h + s)),
]);

const potholeNames = (expr: string) => [...expr.matchAll(/\bpothole_\w+/g)].map((m) => m[0]);

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('deploy/prometheus/alerts.yml', () => {
  const rules = (
    parse(fs.readFileSync(path.join(deploy, 'prometheus/alerts.yml'), 'utf8')) as {
      groups: { name: string; rules: Rule[] }[];
    }
  ).groups.flatMap((g) => g.rules);

  it('alerts on a cluster up too long, a failing cleanup, no success for 36 h and a failed run', () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    assert.match(byName.get('PotholeClusterUpTooLong')!.expr!, /pothole_cluster_up_since_timestamp_seconds/);
    assert.match(
      byName.get('PotholeClusterUpTooLong')!.expr!,
      /pothole_cluster_running_since_timestamp_seconds/,
    );
    assert.match(byName.get('PotholeCleanupFailing')!.expr!, /increase\(pothole_cleanup_failures_total/);
    assert.match(byName.get('PotholeNoSuccessfulRun')!.expr!, /36 \* 3600/);
    assert.match(byName.get('PotholeRunFailed')!.expr!, /pothole_runs_total\{outcome="failed"\}/);
  });

  it('gives every rule an expression over exported metrics, a severity, a summary and a description', () => {
    for (const r of rules) {
      assert.ok(r.alert && r.expr, JSON.stringify(r));
      assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
      assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: annotations`);
      const names = potholeNames(r.expr);
      assert.ok(names.length > 0, `${r.alert} watches no pothole_* metric`);
      for (const n of names) assert.ok(EXPORTED.has(n), `${r.alert}: ${n} is not exported`);
    }
  });
});

describe('deploy/grafana/pothole.json', () => {
  const dashboard = JSON.parse(fs.readFileSync(path.join(deploy, 'grafana/pothole.json'), 'utf8')) as {
    uid: string;
    panels: { id: number; type: string; title: string; targets?: { expr: string }[] }[];
  };
  const panels = dashboard.panels.filter((p) => p.type !== 'row');

  it('has a panel for step durations and outcomes, cluster time, rows, cleanup failures and the lock wait', () => {
    const watched = new Set(panels.flatMap((p) => (p.targets ?? []).flatMap((t) => potholeNames(t.expr))));
    for (const n of [
      'pothole_step_duration_seconds_sum',
      'pothole_step_duration_seconds_bucket',
      'pothole_step_attempts_total',
      'pothole_cluster_up_seconds_sum',
      'pothole_cluster_up_since_timestamp_seconds',
      'pothole_rows_loaded_total',
      'pothole_cleanup_failures_total',
      'pothole_lock_wait_seconds_sum',
      'pothole_last_success_timestamp_seconds',
    ]) {
      assert.ok(watched.has(n), `no panel shows ${n}`);
    }
  });

  it('queries only exported metrics, with unique panel ids', () => {
    assert.equal(dashboard.uid, 'pothole-pipeline');
    assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length);
    for (const p of panels) {
      assert.ok(p.targets?.length, `${p.title}: no query`);
      for (const t of p.targets) {
        for (const n of potholeNames(t.expr)) assert.ok(EXPORTED.has(n), `${p.title}: ${n} is not exported`);
      }
    }
  });
});
