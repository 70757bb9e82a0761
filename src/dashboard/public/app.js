// The dashboard page: map, repair-priority list, trend and pipeline runs load independently, so a slow or
// unreachable part (Temporal, say) never holds the others back. performance marks time each part for the
// benchmark; body[data-ready] tells tests the map and the list are on screen.
import { api, el, fmt } from './api.js';
import { createMap } from './map.js';
import { createPriorityList } from './list.js';
import { createStatusDialog } from './status-dialog.js';
import { renderMonths, renderTrend } from './trend.js';
import { loadRuns } from './runs.js';

function fail(where, err) {
  where.prepend(el('p', { class: 'error', role: 'alert' }, `불러오지 못했습니다: ${err.message}`));
}

async function main() {
  const settings = await api('/api/settings');
  const mapView = createMap(document.getElementById('map'), settings);
  const dialog = createStatusDialog(settings);
  const list = createPriorityList({
    settings,
    onSelect: (sId) => mapView.focus(sId),
    async onChangeStatus(row, move) {
      const change = await dialog.open(row, move);
      if (!change) return;
      mapView.setStatus(change.s_id, settings.statuses.indexOf(change.to));
      mapView.endCheck(change.s_id);
      await list.load();
    },
  });
  // For tests and the benchmark: the map, its segment layer (mapView.layer) and the list.
  window.dashboard = { settings, map: mapView.map, mapView, list };

  // The small answers first: the list shows while the map's few megabytes arrive.
  const listDone = list.load().then(() => performance.mark('dashboard:list'));
  api('/api/trend')
    .then((trend) => {
      renderTrend(trend);
      performance.mark('dashboard:trend');
    })
    .catch((err) => fail(document.getElementById('trend-panel'), err));
  api('/api/trend/months')
    .then((trend) => {
      renderMonths(trend);
      performance.mark('dashboard:months');
    })
    .catch((err) => fail(document.getElementById('months-chart'), err));
  loadRuns().then(() => performance.mark('dashboard:runs'));
  const mapDone = mapView
    .load()
    .then((data) => {
      performance.mark('dashboard:map');
      document.getElementById('map-date').textContent = data.date
        ? `${data.date} · ${fmt(data.count)}개 구간`
        : '';
      document.getElementById('headline').textContent = data.date
        ? `최근 적재일 ${data.date} · 구간 ${fmt(data.count)}개`
        : '아직 적재된 데이터가 없습니다';
    })
    .catch((err) => fail(document.getElementById('map-panel'), err));

  await Promise.all([mapDone, listDone]);
  // The map's canvas draws on the next frame; the page is ready once that frame is painted.
  requestAnimationFrame(() => {
    performance.mark('dashboard:ready');
    document.body.dataset.ready = 'true';
  });
}

main().catch((err) => fail(document.querySelector('main'), err));
