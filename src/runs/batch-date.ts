import { yesterdayInSeoul } from '../shared/steps';

/** The batch date a workflow id names: ours carry it, the schedule's carry their slot (the next day, 02:00 KST). */
export function batchDateOf(workflowId: string): string | undefined {
  const scheduled = /^pothole-pipeline-scheduled-(.+)$/.exec(workflowId);
  if (scheduled) {
    const slot = new Date(scheduled[1]!);
    return Number.isNaN(slot.getTime()) ? undefined : yesterdayInSeoul(slot);
  }
  const backfill = /^pothole-backfill-(\d{4}-\d{2}-\d{2})-(\d{4}-\d{2}-\d{2})$/.exec(workflowId);
  if (backfill) return `${backfill[1]}..${backfill[2]}`;
  return /^pothole-pipeline-(\d{4}-\d{2}-\d{2})$/.exec(workflowId)?.[1];
}
