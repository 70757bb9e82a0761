/**
 * The daily report as mail: Korean like the original, an HTML part that renders in mail clients
 * (inline CSS only, the 7-day trend as table bars, no images) and a plain-text part.
 * Every value that reaches the HTML goes through escapeHtml.
 */
import type { QualityFindings } from '../../shared/types';
import { costFooterLines, type ReportCost } from './cost';
import type { CheckSide, PriorityRow, RepairVerdictRow, ReportData, WorseningRow } from './queries';

export interface RenderedReport {
  subject: string;
  html: string;
  text: string;
}

export function reportSubject(batchDate: string): string {
  return `[포트홀 탐지] 일일 리포트 - ${batchDate}`;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const int = (n: number) => Math.round(n).toLocaleString('ko-KR');
const coord = (n: number | null) => (n === null ? '-' : n.toFixed(5));
const orDash = (s: string | null) => (s && s.trim() !== '' ? s : '-');

/** "+12 (+8.5%)" against the previous day, or "전일 데이터 없음". */
export function changeText(current: number, previous: number | null): string {
  if (previous === null) return '전일 데이터 없음';
  const diff = current - previous;
  const sign = diff > 0 ? '+' : '';
  const pct = previous > 0 ? ` (${sign}${((diff / previous) * 100).toFixed(1)}%)` : '';
  return `${sign}${int(diff)}${pct}`;
}

function ratioText(w: WorseningRow): string {
  return Number.isFinite(w.ratio) ? `${w.ratio.toFixed(1)}배` : '신규 발생';
}

/** "14일 20.0% (충격 140 / 통행 700)": one side of a repair check. */
function checkSideText(s: CheckSide): string {
  const rate = s.rate === null ? '통행 없음' : `${s.rate.toFixed(1)}%`;
  return `${int(s.days)}일 ${rate} (충격 ${int(s.impacts)} / 통행 ${int(s.traffic)})`;
}

const RECURRED_MARK = '재발';
const VERDICTS_TITLE = '보수 효과 판정 (최근 7일)';
const NO_VERDICTS = '최근 7일 동안 새로 판정된 보수가 없습니다.';

function qualityLines(quality: QualityFindings | undefined): string[] {
  if (!quality) return ['이번 실행의 적재 품질 점검 결과가 전달되지 않았습니다.'];
  if (quality.warnings.length === 0) return ['이상 없음'];
  return quality.warnings;
}

// ---- HTML ------------------------------------------------------------------------------------------------

const FONT = "font-family:'Apple SD Gothic Neo','Malgun Gothic',Arial,sans-serif";
const TH =
  'padding:6px 8px;border-bottom:2px solid #d0d7de;text-align:left;background:#f6f8fa;font-size:13px';
const TD = 'padding:6px 8px;border-bottom:1px solid #eaeef2;font-size:13px';
const NUM = `${TD};text-align:right`;

function table(headers: string[], rows: string[][], numeric: boolean[]): string {
  const head = headers.map((h, i) => `<th style="${TH}${numeric[i] ? ';text-align:right' : ''}">${h}</th>`);
  const body = rows.map(
    (cells) => `<tr>${cells.map((c, i) => `<td style="${numeric[i] ? NUM : TD}">${c}</td>`).join('')}</tr>`,
  );
  return (
    `<table role="presentation" cellspacing="0" cellpadding="0" style="border-collapse:collapse;width:100%">` +
    `<tr>${head.join('')}</tr>${body.join('')}</table>`
  );
}

function section(title: string, content: string): string {
  return `<h3 style="margin:24px 0 8px;font-size:16px;color:#1f2328">${title}</h3>${content}`;
}

function kpiCell(label: string, value: string, note: string): string {
  return (
    `<td style="padding:12px;border:1px solid #d0d7de;border-radius:6px;width:33%;vertical-align:top">` +
    `<div style="font-size:12px;color:#57606a">${label}</div>` +
    `<div style="font-size:22px;font-weight:bold;color:#1f2328;margin-top:4px">${value}</div>` +
    `<div style="font-size:12px;color:#57606a;margin-top:4px">${note}</div></td>`
  );
}

function priorityHtml(rows: PriorityRow[]): string {
  if (rows.length === 0) return '<p style="font-size:13px">해당 날짜에 적재된 구간이 없습니다.</p>';
  return table(
    ['순위', '도로명 (좌표)', '구', '우선순위 점수', '충격', '민원'],
    rows.map((r) => [
      escapeHtml(r.rank),
      `${escapeHtml(orDash(r.roadName))}${r.recurred ? ` ${recurredBadge()}` : ''}` +
        `<br><span style="color:#57606a;font-size:11px">` +
        `${escapeHtml(r.sId)} · ${escapeHtml(coord(r.lat))}, ${escapeHtml(coord(r.lon))}</span>`,
      escapeHtml(orDash(r.district)),
      escapeHtml(int(r.score)),
      escapeHtml(int(r.impacts)),
      escapeHtml(int(r.complaints)),
    ]),
    [false, false, false, true, true, true],
  );
}

function recurredBadge(): string {
  return (
    `<span style="display:inline-block;padding:0 6px;border-radius:8px;background:#6a1b9a;color:#ffffff;` +
    `font-size:11px;font-weight:bold">${RECURRED_MARK}</span>`
  );
}

function verdictsHtml(rows: RepairVerdictRow[]): string {
  if (rows.length === 0) return `<p style="font-size:13px">${NO_VERDICTS}</p>`;
  return table(
    ['판정', '도로명 (구간)', '구', '보수일', '보수 전', '보수 후', '판정일'],
    rows.map((v) => [
      v.verdict === '재발'
        ? recurredBadge()
        : `<span style="color:#1a7f37;font-weight:bold">${escapeHtml(v.verdict)}</span>`,
      `${escapeHtml(orDash(v.roadName))}<br><span style="color:#57606a;font-size:11px">${escapeHtml(v.sId)}</span>`,
      escapeHtml(orDash(v.district)),
      escapeHtml(v.repairedOn),
      escapeHtml(checkSideText(v.before)),
      escapeHtml(checkSideText(v.after)),
      escapeHtml(v.decidedOn),
    ]),
    [false, false, false, false, true, true, false],
  );
}

function worseningHtml(rows: WorseningRow[]): string {
  if (rows.length === 0) return '<p style="font-size:13px">최근 7일 평균의 150%를 넘은 구간이 없습니다.</p>';
  return table(
    ['구간', '도로명', '구', '오늘 충격', '직전 7일 평균', '증가'],
    rows.map((w) => [
      escapeHtml(w.sId),
      escapeHtml(orDash(w.roadName)),
      escapeHtml(orDash(w.district)),
      escapeHtml(int(w.impacts)),
      escapeHtml(w.previousAverage.toFixed(1)),
      escapeHtml(ratioText(w)),
    ]),
    [false, false, false, true, true, true],
  );
}

function trendHtml(data: ReportData): string {
  const max = Math.max(1, ...data.trend.map((d) => d.impacts));
  const rows = data.trend.map((d) => {
    const width = Math.round((d.impacts / max) * 100);
    const color = d.date === data.batchDate ? '#cf222e' : '#0969da';
    const bar =
      `<table role="presentation" cellspacing="0" cellpadding="0" style="width:100%;border-collapse:collapse"><tr>` +
      (width > 0
        ? `<td style="width:${width}%;background:${color};height:14px;font-size:1px;line-height:1px">&nbsp;</td>`
        : '') +
      `<td style="height:14px;font-size:1px;line-height:1px">&nbsp;</td></tr></table>`;
    return (
      `<tr><td style="${TD};width:90px;white-space:nowrap">${escapeHtml(d.date)}</td>` +
      `<td style="${TD}">${bar}</td>` +
      `<td style="${NUM};width:110px;white-space:nowrap">${escapeHtml(int(d.impacts))}건</td></tr>`
    );
  });
  return (
    `<table role="presentation" cellspacing="0" cellpadding="0" style="border-collapse:collapse;width:100%">` +
    `${rows.join('')}</table>`
  );
}

function costHtml(cost: ReportCost | undefined): string {
  if (!cost) return '';
  const lines = costFooterLines(cost).map(escapeHtml).join('<br>');
  return `<p style="font-size:12px;color:#57606a;margin-top:24px">${lines}</p>`;
}

function renderHtml(
  data: ReportData,
  quality: QualityFindings | undefined,
  cost: ReportCost | undefined,
): string {
  const k = data.kpis;
  const kpis =
    `<table role="presentation" cellspacing="8" cellpadding="0" style="width:100%;border-collapse:separate"><tr>` +
    kpiCell(
      '총 충격 감지',
      `${escapeHtml(int(k.totalImpacts))}건`,
      `전일 대비 ${escapeHtml(changeText(k.totalImpacts, k.previousTotalImpacts))}`,
    ) +
    kpiCell(
      '충격 감지 구간',
      `${escapeHtml(int(k.activeSegments))}개`,
      `전체 ${escapeHtml(int(k.segments))}개 구간 · 전일 대비 ` +
        escapeHtml(changeText(k.activeSegments, k.previousActiveSegments)),
    ) +
    kpiCell('총 통행 측정', `${escapeHtml(int(k.totalTraffic))}건`, `기준일 ${escapeHtml(data.batchDate)}`) +
    `</tr></table>`;
  const qualityItems = qualityLines(quality)
    .map((w) => `<li style="font-size:13px;margin:2px 0">${escapeHtml(w)}</li>`)
    .join('');
  const qualityColor = quality && quality.warnings.length > 0 ? '#9a6700' : '#1a7f37';
  return (
    `<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8">` +
    `<title>${escapeHtml(reportSubject(data.batchDate))}</title></head>` +
    `<body style="margin:0;padding:0;background:#ffffff">` +
    `<div style="${FONT};max-width:720px;margin:0 auto;padding:16px;color:#1f2328">` +
    `<h2 style="margin:0 0 4px;font-size:20px">포트홀 탐지 일일 리포트</h2>` +
    `<div style="font-size:13px;color:#57606a">기준일: ${escapeHtml(data.batchDate)}</div>` +
    kpis +
    section('보수 우선순위 Top 5', priorityHtml(data.topPriority)) +
    section(VERDICTS_TITLE, verdictsHtml(data.repairVerdicts)) +
    section('악화 구간 (최근 7일 평균 대비 150% 초과)', worseningHtml(data.worsening)) +
    section(
      '데이터 품질 점검',
      `<ul style="margin:0;padding-left:20px;color:${qualityColor}">${qualityItems}</ul>`,
    ) +
    section('최근 7일 충격 감지 추이', trendHtml(data)) +
    costHtml(cost) +
    `<p style="font-size:11px;color:#8c959f;margin-top:24px">` +
    `우선순위 점수 = 충격 수 × 1 + 민원 수 × 50 + 도로 등급 × 10 (등급 미상은 3). ` +
    `이 메일은 포트홀 탐지 파이프라인이 자동으로 보냈습니다.</p>` +
    `</div></body></html>`
  );
}

// ---- plain text ------------------------------------------------------------------------------------------

function renderText(
  data: ReportData,
  quality: QualityFindings | undefined,
  cost: ReportCost | undefined,
): string {
  const k = data.kpis;
  const lines = [
    `포트홀 탐지 일일 리포트 - ${data.batchDate}`,
    '',
    `총 충격 감지: ${int(k.totalImpacts)}건 (전일 대비 ${changeText(k.totalImpacts, k.previousTotalImpacts)})`,
    `충격 감지 구간: ${int(k.activeSegments)}개 / 전체 ${int(k.segments)}개 ` +
      `(전일 대비 ${changeText(k.activeSegments, k.previousActiveSegments)})`,
    `총 통행 측정: ${int(k.totalTraffic)}건`,
    '',
    '[보수 우선순위 Top 5]',
    ...(data.topPriority.length === 0
      ? ['해당 날짜에 적재된 구간이 없습니다.']
      : data.topPriority.map(
          (r) =>
            `${r.rank}. ${orDash(r.roadName)} (${coord(r.lat)}, ${coord(r.lon)}) ${orDash(r.district)} ` +
            `- 점수 ${int(r.score)}, 충격 ${int(r.impacts)}, 민원 ${int(r.complaints)} [${r.sId}]` +
            (r.recurred ? ` · ${RECURRED_MARK}` : ''),
        )),
    '',
    `[${VERDICTS_TITLE}]`,
    ...(data.repairVerdicts.length === 0
      ? [NO_VERDICTS]
      : data.repairVerdicts.map(
          (v) =>
            `- ${v.verdict}: ${orDash(v.roadName)} ${orDash(v.district)} [${v.sId}] 보수일 ${v.repairedOn}, ` +
            `보수 전 ${checkSideText(v.before)} → 보수 후 ${checkSideText(v.after)}, 판정 ${v.decidedOn}`,
        )),
    '',
    '[악화 구간 (최근 7일 평균 대비 150% 초과)]',
    ...(data.worsening.length === 0
      ? ['해당 구간 없음']
      : data.worsening.map(
          (w) =>
            `- ${w.sId} ${orDash(w.roadName)} ${orDash(w.district)}: 오늘 ${int(w.impacts)}, ` +
            `평균 ${w.previousAverage.toFixed(1)} (${ratioText(w)})`,
        )),
    '',
    '[데이터 품질 점검]',
    ...qualityLines(quality).map((w) => `- ${w}`),
    '',
    '[최근 7일 충격 감지 추이]',
    ...data.trend.map((d) => {
      const max = Math.max(1, ...data.trend.map((t) => t.impacts));
      return `${d.date} ${'#'.repeat(Math.round((d.impacts / max) * 30)).padEnd(30)} ${int(d.impacts)}건`;
    }),
    ...(cost ? ['', '[클러스터 비용]', ...costFooterLines(cost)] : []),
  ];
  return lines.join('\n') + '\n';
}

/** `cost`: the run's cluster figures for the footer (none in a preview). */
export function renderReportContent(
  data: ReportData,
  quality?: QualityFindings,
  cost?: ReportCost,
): RenderedReport {
  return {
    subject: reportSubject(data.batchDate),
    html: renderHtml(data, quality, cost),
    text: renderText(data, quality, cost),
  };
}
