// The repair-priority list: rank, road, district, score and its three parts, traffic, status with the moves the
// status may make, and the repair check's verdict (재발 rows marked); filters by district, status and verdict,
// search by segment id or road name, and the CSV of the filtered list. Clicking a row shows the segment on the
// map.
import { api, el, fmt } from './api.js';

const PAGE_SIZE = 50;

export function createPriorityList({ settings, onSelect, onChangeStatus }) {
  const form = document.getElementById('filters');
  const body = document.querySelector('#priority tbody');
  const info = document.getElementById('page-info');
  const csv = document.getElementById('csv');
  const error = document.getElementById('list-error');
  const districtSelect = form.elements.district;
  const statusSelect = form.elements.status;
  for (const s of settings.statuses) statusSelect.append(el('option', { value: s }, s));
  for (const v of settings.verdicts) form.elements.check.append(el('option', { value: v }, v));
  const state = { offset: 0, matching: 0 };

  const filters = () => {
    const params = new URLSearchParams();
    for (const name of ['district', 'status', 'check', 'q']) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    return params;
  };

  function statusCell(row) {
    const index = settings.statuses.indexOf(row.repair_status);
    const moves = settings.transitions[row.repair_status] ?? [];
    return el(
      'td',
      { class: 'status-cell' },
      el('span', { class: `status status-${index}`, title: row.status_note ?? '' }, row.repair_status),
      row.check_verdict
        ? el(
            'span',
            {
              class: `verdict verdict-${row.check_verdict.replace(' ', '-')}`,
              title: '보수 효과 (보수 전후 위험도)',
            },
            row.check_verdict,
          )
        : null,
      el(
        'span',
        { class: 'status-actions' },
        ...moves.map((m) =>
          el('button', {
            type: 'button',
            textContent: `→ ${m.to}`,
            title: m.noteRequired ? `${m.to}(으)로 되돌리기: 메모 필요` : `${m.to}(으)로 변경`,
            onclick: (e) => {
              e.stopPropagation();
              onChangeStatus(row, m);
            },
          }),
        ),
      ),
    );
  }

  function render(page) {
    body.replaceChildren(
      ...page.rows.map((r) =>
        el(
          'tr',
          {
            'data-segment': r.s_id,
            class: r.check_verdict === '재발' ? 'recurred' : undefined,
            onclick: () => onSelect(r.s_id),
          },
          el('td', { class: 'num' }, fmt(r.priority_rank)),
          el('td', {}, r.road_name ?? '(도로명 없음)', el('br'), el('small', {}, r.s_id)),
          el('td', {}, r.district ?? '–'),
          el('td', { class: 'num' }, el('b', {}, fmt(r.priority_score))),
          el('td', { class: 'num', title: `충격 ${fmt(r.total_impacts)} × 1` }, fmt(r.impact_term)),
          el('td', { class: 'num', title: `민원 ${fmt(r.complaint_count)} × 50` }, fmt(r.complaint_term)),
          el('td', { class: 'num' }, fmt(r.road_grade_term)),
          el('td', { class: 'num' }, fmt(r.total_traffic)),
          statusCell(r),
        ),
      ),
    );
    if (page.rows.length === 0) {
      body.append(el('tr', {}, el('td', { colSpan: 9 }, '조건에 맞는 구간이 없습니다.')));
    }
    const first = page.matching ? page.offset + 1 : 0;
    info.textContent = `${fmt(first)}–${fmt(page.offset + page.rows.length)} / ${fmt(page.matching)}건`;
    document.querySelector('[data-page=prev]').disabled = page.offset === 0;
    document.querySelector('[data-page=next]').disabled = page.offset + page.rows.length >= page.matching;
    csv.href = `/api/priority.csv?${filters()}`;
    csv.textContent = `CSV 내려받기 (${fmt(page.matching)}건)`;
  }

  function fillDistricts(names) {
    const chosen = districtSelect.value;
    districtSelect.replaceChildren(
      el('option', { value: '' }, '전체'),
      ...names.map((d) => el('option', { value: d }, d)),
    );
    districtSelect.value = names.includes(chosen) ? chosen : '';
  }

  let latest = 0;
  async function load() {
    const ticket = ++latest;
    const params = filters();
    params.set('limit', String(PAGE_SIZE));
    params.set('offset', String(state.offset));
    try {
      const page = await api(`/api/priority?${params}`);
      if (ticket !== latest) return null; // a newer filter won
      error.hidden = true;
      state.matching = page.matching;
      fillDistricts(page.districts);
      render(page);
      return page;
    } catch (err) {
      error.textContent = `목록을 불러오지 못했습니다: ${err.message}`;
      error.hidden = false;
      return null;
    }
  }

  let typing;
  form.addEventListener('input', (e) => {
    state.offset = 0;
    clearTimeout(typing);
    typing = setTimeout(() => void load(), e.target.name === 'q' ? 250 : 0);
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  document.getElementById('pager').addEventListener('click', (e) => {
    const step = e.target.dataset?.page;
    if (!step) return;
    state.offset = Math.max(0, state.offset + (step === 'next' ? PAGE_SIZE : -PAGE_SIZE));
    void load();
  });

  return { load };
}
