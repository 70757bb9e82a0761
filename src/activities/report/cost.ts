/**
 * The report's footer about money: how long this run's cluster was up, what it cost, and this month's total so
 * far. Korean like the rest of the report.
 */
import { formatUsd, type RunCost } from '../../cost/run-cost';
import type { MonthToDate } from '../../cost/from-temporal';

export interface ReportCost {
  run: RunCost;
  /** This month's total, or why it could not be added up. */
  monthToDate?: MonthToDate | { error: string };
}

/** "1시간 30분 15초", "2분 5초", "40초". */
export function koreanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [h ? `${h}시간` : '', h || m ? `${m}분` : '', `${s % 60}초`];
  return parts.filter(Boolean).join(' ');
}

export function costFooterLines(cost: ReportCost): string[] {
  const { run } = cost;
  const session = run.from && run.to ? ` (백필 ${run.from}..${run.to} 세션 전체)` : '';
  const nodes = run.workers !== undefined ? `, 마스터 1대 + 워커 ${run.workers}대` : '';
  const lines = [
    run.clusterUpSeconds > 0
      ? `이번 실행 클러스터 가동 ${koreanDuration(run.clusterUpSeconds)}, 비용 ${formatUsd(run.clusterCostUsd)}${nodes}${session}`
      : '이번 실행은 클러스터를 켜지 않았습니다 (비용 $0.00).',
  ];
  const mtd = cost.monthToDate;
  if (mtd && 'error' in mtd) lines.push(`이번 달 누계: 집계하지 못했습니다 (${mtd.error})`);
  else if (mtd) {
    const t = mtd.total;
    lines.push(
      `${mtd.month} 누계: ${formatUsd(t.clusterCostUsd)}, 클러스터 가동 ${koreanDuration(t.clusterUpSeconds)} ` +
        `(실행 ${t.runs}회${t.unknown ? `, 비용 미상 ${t.unknown}회 제외` : ''})`,
    );
  }
  return lines;
}
