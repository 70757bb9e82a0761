// The pipeline panel for the on-call engineer: the last runs from Temporal, each linking to the Temporal UI.
// When Temporal cannot be reached the panel says so; the rest of the page does not depend on it.
import { api, el, fmt, duration, dateTime } from './api.js';

const STATUS = {
  COMPLETED: '성공',
  FAILED: '실패',
  RUNNING: '실행 중',
  CANCELLED: '취소',
  TERMINATED: '강제 종료',
  TIMED_OUT: '시간 초과',
  CONTINUED_AS_NEW: '계속',
};

/** What became of the cluster, in a few words; the full sentence (instances, errors) is the cell's tooltip. */
function cleanupLabel(run) {
  const c = run.cleanup;
  const attempts = c.attempts > 1 ? ` (${c.attempts}회 시도)` : '';
  switch (c.status) {
    case 'not-needed':
      return '시작 안 함';
    case 'stopped':
      return `정지됨${attempts}${c.sparkError ? ' · stop_spark 실패' : ''}`;
    default:
      return run.cleanupText; // NOT STOPPED YET: which instances may be running, and why; never shortened
  }
}

export async function loadRuns() {
  const box = document.getElementById('runs');
  let answer;
  try {
    answer = await api('/api/runs');
  } catch (err) {
    box.replaceChildren(
      el('p', { class: 'error', role: 'alert' }, `실행 기록을 볼 수 없습니다: ${err.message}`),
    );
    return;
  }
  if (answer.runs.length === 0) {
    box.replaceChildren(el('p', {}, 'Temporal에 기록된 실행이 없습니다.'));
    return;
  }
  const rows = answer.runs.map((r) =>
    el(
      'tr',
      { 'data-run': r.workflowId },
      el(
        'td',
        {},
        el(
          'a',
          { href: r.url, target: '_blank', rel: 'noopener', title: 'Temporal UI에서 보기' },
          r.batchDate ?? r.workflowId,
        ),
      ),
      el(
        'td',
        { class: r.status === 'COMPLETED' || r.status === 'RUNNING' ? '' : 'failed', title: r.status },
        STATUS[r.status] ?? r.status,
      ),
      el('td', { class: r.failedStep ? 'failed' : '', title: r.failure ?? '' }, r.failedStep ?? '–'),
      el('td', { class: 'num', title: `시작 ${dateTime(r.startedAt)}` }, duration(r.durationSeconds)),
      el(
        'td',
        { class: 'num' },
        r.clusterUpSeconds === null ? '–' : `${(r.clusterUpSeconds / 60).toFixed(1)}분`,
      ),
      el('td', { class: 'num' }, fmt(r.rowsLoaded)),
      el('td', { class: `cleanup-${r.cleanup.status}`, title: r.cleanupText }, cleanupLabel(r)),
    ),
  );
  box.replaceChildren(
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...[
            '날짜 (Temporal UI)',
            '결과',
            '실패 단계',
            '소요',
            '클러스터 가동',
            '적재 행',
            '클러스터 정리',
          ].map((h) => el('th', {}, h)),
        ),
      ),
      el('tbody', {}, ...rows),
    ),
  );
}
