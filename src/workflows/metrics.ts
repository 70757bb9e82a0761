/**
 * Run-level figures for the worker's Prometheus endpoint (METRICS_PORT), through the SDK's workflow meter: it adds
 * the labels namespace, taskQueue and workflowType, and emits nothing while a workflow replays, so each figure is
 * counted once however often the history is replayed, and recording changes no command of the workflow.
 * Without METRICS_PORT the meter records into nothing. The activity-side figures are in src/worker/metrics.ts.
 */
import { metricMeter } from '@temporalio/workflow';
import type { LoadResult } from '../shared/types';

export type RunOutcome = 'succeeded' | 'failed' | 'cancelled';

/** The names and descriptions the worker's endpoint shows; src/worker/metrics.ts starts the alerted counters at 0. */
export const RUN_METRICS = {
  runs: ['pothole_runs_total', 'Pipeline runs by how they ended'],
  lastSuccess: ['pothole_last_success_timestamp_seconds', 'When a pipeline run last succeeded (Unix time)'],
  clusterUpSince: [
    'pothole_cluster_up_since_timestamp_seconds',
    'Since when the run has had the cluster up (Unix time); 0 once it is stopped',
  ],
  clusterUp: ['pothole_cluster_up_seconds', 'Seconds the cluster was up, per cluster session'],
  rowsLoaded: ['pothole_rows_loaded_total', 'Rows load_to_rdb loaded'],
  qualityRows: ['pothole_quality_rows_total', 'Rows the quality checks of load_to_rdb flagged, by finding'],
  qualityWarnings: ['pothole_quality_warnings_total', 'Quality warnings of load_to_rdb'],
  cleanupFailures: ['pothole_cleanup_failures_total', 'Failed stop_cluster attempts'],
  lockWait: ['pothole_lock_wait_seconds', 'Seconds waited for the cluster lock'],
  watchdogStops: ['pothole_watchdog_stopped_instances_total', 'Instances the watchdog stopped'],
} as const satisfies Record<string, readonly [string, string]>;

type RunMetric = keyof typeof RUN_METRICS;
const counter = (m: RunMetric) => metricMeter.createCounter(RUN_METRICS[m][0], '', RUN_METRICS[m][1]);
const gauge = (m: RunMetric) => metricMeter.createGauge(RUN_METRICS[m][0], 'float', 's', RUN_METRICS[m][1]);
const histogram = (m: RunMetric) =>
  metricMeter.createHistogram(RUN_METRICS[m][0], 'float', 's', RUN_METRICS[m][1]);

/** How a pipeline run ended; a success also sets the last-success time (the "no success for 36 h" alert). */
export function runEnded(outcome: RunOutcome): void {
  counter('runs').add(1, { outcome });
  if (outcome === 'succeeded') gauge('lastSuccess').set(Date.now() / 1000);
}

/** The cluster session starts (the run holds the cluster lock): alertable while the cluster is still up. */
export function clusterSessionStarted(at: number): void {
  gauge('clusterUpSince').set(at / 1000);
}

/** The cluster is stopped: the session's length, as the run's result reports it (clusterUpSeconds). */
export function clusterSessionEnded(upSeconds: number): void {
  gauge('clusterUpSince').set(0);
  histogram('clusterUp').record(upSeconds);
}

/** What load_to_rdb loaded and what its quality checks found. */
export function loaded(load: LoadResult): void {
  counter('rowsLoaded').add(load.rowsLoaded);
  const rows = counter('qualityRows');
  rows.add(load.quality.impactExceedsTotal, { finding: 'impact_exceeds_total' });
  rows.add(load.quality.emptySegmentId, { finding: 'empty_segment_id' });
  counter('qualityWarnings').add(load.quality.warnings.length);
}

/** A stop_cluster attempt failed (the cleanup retries until the instances are stopped). */
export function cleanupFailed(): void {
  counter('cleanupFailures').add(1);
}

/** How long the workflow waited for the cluster lock. */
export function lockWaited(seconds: number): void {
  histogram('lockWait').record(seconds);
}

/** Instances the watchdog stopped (a cluster no run held). */
export function watchdogStopped(instances: number): void {
  counter('watchdogStops').add(instances);
}
