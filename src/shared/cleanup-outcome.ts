/**
 * One line about what became of the cluster, the same in Slack, `pothole status` and the run summary.
 * Pure (imported by the CLI and the Slack activity).
 */
import type { CleanupOutcome } from './types';

/** An instance that may have been the cluster's and is gone, as every message names it: "i-0abc (terminated)". */
export const lostInstanceLabels = (lost: { id: string; state: string }[]): string[] =>
  lost.map((l) => `${l.id} (${l.state})`);

export function describeCleanup(c: CleanupOutcome | undefined): string {
  if (!c) return 'unknown (run recorded before cleanup outcomes were kept)';
  const ids = (list: string[]) => (list.length ? list.join(', ') : 'the cluster instances');
  const attempts = c.attempts > 1 ? ` after ${c.attempts} attempts` : '';
  const spark = c.sparkError ? ` (stop_spark failed: ${c.sparkError})` : '';
  const lost = c.lostInstances?.length ? `; lost (nothing to stop): ${c.lostInstances.join(', ')}` : '';
  switch (c.status) {
    case 'not-needed':
      return 'not started by this run';
    case 'stopped':
      return c.stoppedInstances.length
        ? `stopped ${ids(c.stoppedInstances)}${attempts}${lost}${spark}`
        : `already stopped${attempts}${lost}${spark}`;
    case 'left-to-watchdog':
      return (
        `NOT STOPPED: ${ids(c.instances)} may be running; stop_cluster failed with an error no retry can fix` +
        `${c.lastError ? `: ${c.lastError}` : ''}; the watchdog keeps trying and alerting${spark}`
      );
    case 'stopping':
      return (
        `NOT STOPPED YET: ${ids(c.instances)} may be running; stop_cluster failed ${c.attempts} time(s)` +
        `${c.lastError ? `: ${c.lastError}` : ''}${spark}`
      );
  }
}
