// The latest day's map: every segment a circle at its centroid, coloured by risk rate, sized by impacts and
// outlined by repair status, ringed when a repair did not hold (재발), all on one canvas layer (segment-layer.js)
// so a city's 100,000 segments stay fluid. Tiles are optional: without them the circles draw on a plain
// background with a scale. A segment's popup shows its repair check (before and after) and its 12 months.
import { api, el, fmt, dateTime } from './api.js';
import { SegmentLayer } from './segment-layer.js';
import { monthsSparkline } from './trend.js';

/** Risk rate (impacts per 100 vehicles) bands, lowest first. */
const RISK_BANDS = [
  { below: 1, color: '#2e7d32', label: '1% 미만' },
  { below: 3, color: '#f9a825', label: '1–3%' },
  { below: 10, color: '#ef6c00', label: '3–10%' },
  { below: Infinity, color: '#c62828', label: '10% 이상' },
];

/** How each repair status (indexes of settings.statuses: 미보수, 보수중, 보수완료) outlines a circle. */
const STATUS_STYLES = [
  { weight: 1, fillOpacity: 0.75, legend: '얇은 테두리' },
  { weight: 3, fillOpacity: 0.75, color: '#1565c0', legend: '파란 굵은 테두리' },
  { weight: 1.5, fillOpacity: 0.2, color: '#455a64', dash: [3, 3], legend: '회색 점선, 흐린 색' },
];

/** The ring around a segment whose repair did not hold (verdict 재발). */
const RECURRED_RING = { color: '#6a1b9a', width: 2.5, gap: 3, legend: '보라 바깥 고리' };
const RECURRED = '재발';

const style = {
  bands: RISK_BANDS,
  statuses: STATUS_STYLES,
  ring: RECURRED_RING,
  bandOf: (risk) => RISK_BANDS.findIndex((b) => risk < b.below),
  radius: (impacts) => Math.min(14, 3 + Math.sqrt(impacts) * 1.5),
};

function legend(statuses) {
  const control = L.control({ position: 'bottomright' });
  control.onAdd = () =>
    el(
      'div',
      { class: 'legend' },
      el('b', {}, '위험도 (충격/통행)'),
      ...RISK_BANDS.map((b) => el('div', {}, el('i', { style: `background:${b.color}` }), b.label)),
      el('b', {}, '보수 상태'),
      ...STATUS_STYLES.map((s, i) => el('div', {}, `${s.legend}: ${statuses[i]}`)),
      el('b', {}, '보수 효과'),
      el(
        'div',
        { class: 'legend-recurred' },
        el('i', { class: 'ring', style: `border-color:${RECURRED_RING.color}` }),
        `${RECURRED_RING.legend}: ${RECURRED} (보수 후 충격 재발)`,
      ),
    );
  return control;
}

const rateText = (rate) => (rate === null ? '통행 없음' : `${rate.toFixed(1)}%`);

/** "보수 전 14일 20.0% → 보수 후 14일 0.0% · 효과 확인", and the counts behind it. */
function checkFigures(c) {
  const side = (s) => `충격 ${fmt(s.impacts)} / 통행 ${fmt(s.traffic)}`;
  return el(
    'div',
    { class: `check check-figures verdict-${c.verdict.replace(' ', '-')}` },
    el(
      'div',
      { class: 'check-line' },
      `보수 전 ${fmt(c.before.days)}일 ${rateText(c.before.rate)} → 보수 후 ${fmt(c.after.days)}일 ` +
        `${rateText(c.after.rate)} · `,
      el('b', {}, c.verdict),
    ),
    el(
      'small',
      {},
      `보수일 ${c.repaired_on} · 전 ${side(c.before)} → 후 ${side(c.after)}` +
        (c.decided_on ? ` · 판정 ${c.decided_on}` : ' · 통행이 더 쌓이면 판정'),
    ),
  );
}

function popupContent(d) {
  const rows = [
    ['구', d.district ?? '미상'],
    ['충격', fmt(d.impact_count)],
    ['통행', fmt(d.total_count)],
    ['위험도', `${d.risk_rate}%`],
    ['민원', fmt(d.complaint_count)],
    ['우선순위', d.priority_rank === null ? '–' : `${fmt(d.priority_rank)}위 (${fmt(d.priority_score)}점)`],
    ['보수 상태', d.repair_status],
  ];
  if (d.status_updated_at) rows.push(['상태 변경', dateTime(d.status_updated_at)]);
  if (d.status_note) rows.push(['메모', d.status_note]);
  return el(
    'div',
    { class: 'popup', 'data-segment': d.s_id },
    el('b', {}, d.road_name ?? '(도로명 없음)'),
    el('div', {}, el('small', {}, d.s_id)),
    el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    d.repair_check ? checkFigures(d.repair_check) : null,
    d.months?.length
      ? el('div', { class: 'popup-months' }, el('small', {}, '최근 12개월 위험도'), monthsSparkline(d.months))
      : null,
  );
}

export function createMap(container, settings) {
  const map = L.map(container, { zoomControl: true, minZoom: 5 });
  if (settings.tileUrl) {
    L.tileLayer(settings.tileUrl, { attribution: settings.tileAttribution, maxZoom: 19 }).addTo(map);
  } else {
    container.classList.add('no-tiles');
  }
  L.control.scale({ imperial: false }).addTo(map);
  legend(settings.statuses).addTo(map);
  map.setView([37.5, 127.03], 12);
  let layer = null;

  async function openPopup(id, latlng) {
    const popup = L.popup({ maxWidth: 360 }).setLatLng(latlng).setContent('불러오는 중…').openOn(map);
    try {
      popup.setContent(popupContent(await api(`/api/segments/${encodeURIComponent(id)}`)));
    } catch (err) {
      popup.setContent(el('span', { class: 'error' }, err.message));
    }
  }

  return {
    map,
    get layer() {
      return layer;
    },
    /** Draws the latest day: its segments (/api/map/segments), their statuses and verdicts (/api/map). */
    async load() {
      const [segments, { statuses, checks }] = await Promise.all([api('/api/map/segments'), api('/api/map')]);
      const status = new Uint8Array(segments.count);
      const recurred = new Uint8Array(segments.count);
      const index = new Map(segments.ids.map((id, i) => [id, i]));
      statuses.ids.forEach((id, k) => {
        const i = index.get(id);
        if (i !== undefined) status[i] = statuses.status[k];
      });
      const recurredIndex = settings.verdicts.indexOf(RECURRED);
      checks.ids.forEach((id, k) => {
        const i = index.get(id);
        if (i !== undefined && checks.verdict[k] === recurredIndex) recurred[i] = 1;
      });
      if (layer) layer.remove();
      layer = new SegmentLayer({ ...segments, status, recurred }, style);
      layer.on('segmentclick', (e) => void openPopup(e.id, e.latlng));
      if (segments.count > 0) {
        let south = 90,
          west = 180,
          north = -90,
          east = -180;
        for (let i = 0; i < segments.count; i++) {
          const lat = segments.lat[i],
            lon = segments.lon[i];
          if (lat < south) south = lat;
          if (lat > north) north = lat;
          if (lon < west) west = lon;
          if (lon > east) east = lon;
        }
        map.fitBounds(
          [
            [south, west],
            [north, east],
          ],
          { padding: [20, 20], animate: false },
        );
      }
      layer.addTo(map);
      return segments;
    },
    setStatus(id, statusIndex) {
      layer?.setStatus(id, statusIndex);
    },
    /** A status change ends the segment's repair check: its 재발 ring goes with it. */
    endCheck(id) {
      layer?.setRecurred(id, false);
    },
    /** Centres the map on a segment and opens its popup. */
    focus(id) {
      const latlng = layer?.latLngOf(id);
      if (!latlng) return;
      map.setView(latlng, Math.max(map.getZoom(), 16), { animate: false });
      void openPopup(id, latlng);
    },
  };
}
