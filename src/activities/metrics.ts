/**
 * The activities' own figures for the worker's Prometheus endpoint (src/worker/metrics.ts serves them): what the
 * watchdog's survey saw of the cluster's instances.
 */
import type { MetricMeter } from '@temporalio/common';

/** What the watchdog's survey saw of the cluster's instances (EC2's own state, every watchdog round). */
export const CLUSTER_METRICS = {
  running: ['pothole_cluster_running_instances', "The cluster's instances running (or pending)"],
  runningSince: [
    'pothole_cluster_running_since_timestamp_seconds',
    'Earliest start of the running instances (Unix time); 0 when none runs',
  ],
} as const;

/**
 * The cluster as EC2 reports it, from the watchdog's survey: unlike the run's own gauge, this holds whatever left
 * the instances running (a terminated run, a worker restarted mid-session) and clears once they are stopped.
 */
export function clusterInstancesSeen(
  meter: MetricMeter,
  running: readonly { launchTime?: string }[],
  now: number,
): void {
  meter.createGauge(CLUSTER_METRICS.running[0], 'int', '', CLUSTER_METRICS.running[1]).set(running.length);
  const starts = running.map((i) => (i.launchTime ? Date.parse(i.launchTime) : now));
  meter
    .createGauge(CLUSTER_METRICS.runningSince[0], 'float', 's', CLUSTER_METRICS.runningSince[1])
    .set(starts.length ? Math.min(...starts) / 1000 : 0);
}
