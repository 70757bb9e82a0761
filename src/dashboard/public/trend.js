// The 7-day trend (traffic as bars, impacts as a line, each on its own scale) and the top segments' change
// from the day before.
import { el, fmt } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
const WEEKDAYS = ['일', '월', '화', '수', '목', '금', '토'];

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(days) {
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
  root.append(svg('title', {}, '일별 통행량(막대)과 충격 수(선)'));
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
    bar.append(svg('title', {}, `${d.date} 통행 ${fmt(d.traffic)} · 충격 ${fmt(d.impacts)}`));
    root.append(bar);
    points.push([x + step / 2, top + h - (d.impacts / maxImpacts) * h]);
    const weekday = WEEKDAYS[new Date(`${d.date}T00:00:00Z`).getUTCDay()];
    root.append(svg('text', { x: x + step / 2, y: H - 18, 'text-anchor': 'middle' }, d.date.slice(5)));
    root.append(
      svg('text', { x: x + step / 2, y: H - 5, 'text-anchor': 'middle', fill: '#78909c' }, weekday),
    );
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
