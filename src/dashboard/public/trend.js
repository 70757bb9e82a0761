// The 7-day and the 12-month trends (traffic as bars, impacts as a line, each on its own scale), the top
// segments' change from the day before, and a segment's 12 months small enough for the map's popup.
import { el, fmt } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
const WEEKDAYS = ['일', '월', '화', '수', '목', '금', '토'];

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The x axis's two lines under a day: its date and weekday. */
const dayLabel = (d) => [d.date.slice(5), WEEKDAYS[new Date(`${d.date}T00:00:00Z`).getUTCDay()]];
/** …and under a month: 6월, with the year under the first month and under each January. */
const monthLabel = (m, i) => [
  `${Number(m.month.slice(5, 7))}월`,
  i === 0 || m.month.slice(5, 7) === '01' ? m.month.slice(0, 4) : '',
];
const rateText = (r) => `${r.toFixed(1)}%`;

/**
 * Bars of traffic and a line of impacts, one per point ({traffic, impacts}); `label(point, i)` gives the two lines
 * under it, `tip(point)` its tooltip.
 */
function chart(days, { title, label, tip } = { title: '일별 통행량(막대)과 충격 수(선)', label: dayLabel }) {
  const W = 640,
    H = 220,
    left = 56,
    right = 56,
    top = 16,
    bottom = 36;
  const w = W - left - right,
    h = H - top - bottom;
  const maxTraffic = Math.max(1, ...days.map((d) => d.traffic));
  const maxImpacts = Math.max(1, ...days.map((d) => d.impacts));
  const step = w / days.length;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
  root.append(svg('title', {}, title));
  root.append(svg('line', { x1: left, y1: top + h, x2: left + w, y2: top + h, stroke: '#90a4ae' }));
  root.append(
    svg('text', { x: left - 6, y: top + 4, 'text-anchor': 'end', fill: '#546e7a' }, fmt(maxTraffic)),
  );
  root.append(svg('text', { x: left + w + 6, y: top + 4, fill: '#c62828' }, fmt(maxImpacts)));
  root.append(svg('text', { x: 4, y: top + h / 2, fill: '#546e7a' }, '통행'));
  root.append(svg('text', { x: W - 30, y: top + h / 2, fill: '#c62828' }, '충격'));
  const points = [];
  days.forEach((d, i) => {
    const x = left + i * step;
    const barH = (d.traffic / maxTraffic) * h;
    const bar = svg('rect', {
      x: x + step * 0.2,
      y: top + h - barH,
      width: step * 0.6,
      height: barH,
      fill: '#b0bec5',
    });
    bar.append(svg('title', {}, tip ? tip(d) : `${d.date} 통행 ${fmt(d.traffic)} · 충격 ${fmt(d.impacts)}`));
    root.append(bar);
    points.push([x + step / 2, top + h - (d.impacts / maxImpacts) * h]);
    const [first, second] = label(d, i);
    root.append(svg('text', { x: x + step / 2, y: H - 18, 'text-anchor': 'middle' }, first));
    root.append(svg('text', { x: x + step / 2, y: H - 5, 'text-anchor': 'middle', fill: '#78909c' }, second));
  });
  root.append(
    svg('polyline', {
      points: points.map((p) => p.join(',')).join(' '),
      fill: 'none',
      stroke: '#c62828',
      'stroke-width': 2,
    }),
  );
  for (const [x, y] of points) root.append(svg('circle', { cx: x, cy: y, r: 3, fill: '#c62828' }));
  return root;
}

function change(now, before) {
  if (before === null) return el('span', {}, '신규');
  const diff = now - before;
  if (diff === 0) return el('span', {}, '0');
  return el('span', { class: diff > 0 ? 'up' : 'down' }, `${diff > 0 ? '▲' : '▼'} ${fmt(Math.abs(diff))}`);
}

export function renderTrend(trend) {
  document
    .getElementById('trend-chart')
    .replaceChildren(trend.days.length ? chart(trend.days) : el('p', {}, '데이터가 없습니다.'));
  document
    .querySelector('#changes tbody')
    .replaceChildren(
      ...trend.top.map((r) =>
        el(
          'tr',
          { 'data-segment': r.s_id },
          el('td', { class: 'num' }, fmt(r.priority_rank)),
          el('td', {}, r.road_name ?? '(도로명 없음)', ' ', el('small', {}, r.s_id)),
          el('td', { class: 'num' }, `${fmt(r.previous_impacts)} → ${fmt(r.impacts)}`),
          el('td', { class: 'num' }, change(r.impacts, r.previous_impacts)),
          el('td', { class: 'num' }, `${fmt(r.previous_traffic)} → ${fmt(r.traffic)}`),
        ),
      ),
    );
}

/** The whole network's last 12 months (GET /api/trend/months). */
export function renderMonths(trend) {
  document.getElementById('months-chart').replaceChildren(
    trend.months.length
      ? chart(trend.months, {
          title: '월별 통행량(막대)과 충격 수(선)',
          label: monthLabel,
          tip: (m) =>
            `${m.month.slice(0, 7)} 통행 ${fmt(m.traffic)} · 충격 ${fmt(m.impacts)} · ` +
            `위험도 ${rateText(m.rate)} · ${fmt(m.days)}일`,
        })
      : el('p', {}, '데이터가 없습니다.'),
  );
}

/** A segment's 12 months for its popup: a bar per month of its risk rate (impacts per 100 passes). */
export function monthsSparkline(months) {
  const W = 240,
    H = 64,
    top = 12,
    bottom = 14;
  const h = H - top - bottom;
  const step = W / months.length;
  const max = Math.max(1, ...months.map((m) => m.rate));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'months' });
  root.append(svg('title', {}, '최근 12개월 위험도(충격/통행 %)'));
  root.append(svg('text', { x: W, y: 9, 'text-anchor': 'end', fill: '#78909c' }, `최고 ${rateText(max)}`));
  months.forEach((m, i) => {
    const barH = m.traffic > 0 ? Math.max(1, (m.rate / max) * h) : 0;
    const bar = svg('rect', {
      x: i * step + step * 0.15,
      y: top + h - barH,
      width: step * 0.7,
      height: barH,
      fill: '#c62828',
    });
    bar.append(
      svg(
        'title',
        {},
        m.traffic > 0
          ? `${m.month.slice(0, 7)} 위험도 ${rateText(m.rate)} (충격 ${fmt(m.impacts)} / 통행 ${fmt(m.traffic)})`
          : `${m.month.slice(0, 7)} 데이터 없음`,
      ),
    );
    root.append(bar);
  });
  root.append(svg('line', { x1: 0, y1: top + h, x2: W, y2: top + h, stroke: '#90a4ae' }));
  const first = months[0]?.month ?? '';
  const last = months.at(-1)?.month ?? '';
  root.append(svg('text', { x: 0, y: H - 2, fill: '#78909c' }, first.slice(0, 7)));
  root.append(svg('text', { x: W, y: H - 2, 'text-anchor': 'end', fill: '#78909c' }, last.slice(0, 7)));
  return root;
}
