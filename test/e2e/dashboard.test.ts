/**
 * The dashboard in real headless Chromium over the local PostgreSQL, on the demo's road network as the pipeline
 * would have loaded it (a week of rows, the demo's pothole segments hot): the map draws every segment, the list
 * starts with the top of mvw_dashboard_repair_priority, a status change survives a reload, a refused change shows
 * why and changes nothing. Temporal is unreachable here on purpose: the runs panel says so, the rest works.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openDashboard, type DashboardWindow } from '../support/browser';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../support/database';
import { demoSegments, seedDashboardData } from '../support/dashboard-data';
import { dashboardFor, statusTables } from '../integration/dashboard/support';

const LATEST = '2026-03-03';
/** The demo's pothole segments (generateDemoData's default seed). */
const POTHOLES = [
  'GANGNAMDAERO_0023',
  'GANGNAMDAERO_0036',
  'GANGNAMDAERO_0048',
  'TEHERAN_0025',
  'TEHERAN_0050',
];

let db: ThrowawayDatabase;
let app: FastifyInstance;
let browser: Browser;
let page: Page;
let url: string;

before(async () => {
  db = await createThrowawayDatabase('dashboard_e2e');
  await seedDashboardData(db.pool, demoSegments(), { latest: LATEST, hot: POTHOLES });
  app = await dashboardFor(db.pool);
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await openDashboard(page, url);
});

after(async () => {
  await browser?.close();
  await app?.close();
  await db?.drop();
});

const priorityTop = async (n: number) =>
  (
    await db.pool.query<{ s_id: string }>(
      'SELECT s_id FROM mvw_dashboard_repair_priority ORDER BY priority_rank, s_id LIMIT $1',
      [n],
    )
  ).rows.map((r) => r.s_id);

const rowStatus = (sId: string) =>
  page.locator(`#priority tbody tr[data-segment="${sId}"] .status`).first().textContent();

describe('the dashboard in Chromium', () => {
  it('draws one circle per segment of the latest day, on a plain background with a scale', async () => {
    const { rows } = await db.pool.query<{ s_id: string }>(
      'SELECT s_id FROM mvw_dashboard_heatmap ORDER BY s_id',
    );
    assert.equal(rows.length, demoSegments().length);
    const drawn = await page.evaluate(() => {
      const { map, mapView } = (window as unknown as DashboardWindow).dashboard;
      const layer = mapView.layer;
      const canvas = document.querySelector<HTMLCanvasElement>('canvas.segment-layer')!;
      const box = canvas.getBoundingClientRect();
      const mapBox = map.getContainer().getBoundingClientRect();
      const ctx = canvas.getContext('2d')!;
      // Each segment's centre pixel on the canvas is painted.
      const unpainted = layer.ids.filter((id) => {
        const p = layer.containerPointOf(id);
        const x = ((mapBox.left + p.x - box.left) * canvas.width) / box.width;
        const y = ((mapBox.top + p.y - box.top) * canvas.height) / box.height;
        return ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data[3] === 0;
      });
      return {
        ids: [...layer.ids].sort(),
        count: layer.count,
        drawn: layer.drawn,
        unpainted,
        tiles: document.querySelectorAll('.leaflet-tile').length,
        scale: document.querySelector('.leaflet-control-scale-line')?.textContent,
      };
    });
    assert.deepEqual(
      drawn.ids,
      rows.map((r) => r.s_id),
    );
    assert.equal(drawn.drawn, drawn.count, 'every circle is in view');
    assert.deepEqual(drawn.unpainted, []);
    assert.equal(drawn.tiles, 0, 'DASHBOARD_TILE_URL=none');
    assert.match(String(drawn.scale), /^\d+ k?m$/);
  });

  it('opens a popup with road, district, impacts, traffic, complaints and repair status for a clicked circle', async () => {
    const [top] = await priorityTop(1);
    const point = await page.evaluate(
      (id) => (window as unknown as DashboardWindow).dashboard.mapView.layer.containerPointOf(id),
      top!,
    );
    const box = (await page.locator('#map').boundingBox())!;
    await page.mouse.click(box.x + point.x, box.y + point.y);
    const popup = page.locator(`.leaflet-popup-content .popup[data-segment="${top}"]`);
    await popup.waitFor();
    const text = (await popup.textContent())!;
    for (const label of ['강남구', '충격', '통행', '민원', '보수 상태', '미보수'])
      assert.ok(text.includes(label), text);
    await page.keyboard.press('Escape');
  });

  it("starts the list with the top of mvw_dashboard_repair_priority, the demo's potholes first", async () => {
    const top = await priorityTop(5);
    const shown = await page
      .locator('#priority tbody tr')
      .evaluateAll((trs) =>
        trs.slice(0, 5).map((tr) => [tr.getAttribute('data-segment'), tr.querySelector('td')!.textContent]),
      );
    assert.deepEqual(shown[0], [top[0], '1']);
    assert.deepEqual(
      shown.map(([id]) => id),
      top,
    );
    assert.deepEqual([...top].sort(), POTHOLES);
  });

  it('filters by search, and downloads every row of the filter (all its pages) as CSV', async () => {
    await page.fill('#filters input[name=q]', 'teheran_00');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#priority tbody tr')].every((tr) =>
        tr.getAttribute('data-segment')?.startsWith('TEHERAN_00'),
      ),
    );
    const { rows } = await db.pool.query<{ s_id: string }>(
      `SELECT s_id FROM mvw_dashboard_repair_priority WHERE s_id LIKE 'TEHERAN\\_00%' ORDER BY priority_rank, s_id`,
    );
    assert.ok(rows.length > 50, 'more than one page');
    assert.equal(await page.textContent('#page-info'), `1–50 / ${rows.length}건`);
    try {
      const download = page.waitForEvent('download');
      await page.click('#csv');
      const csv = fs.readFileSync((await (await download).path())!, 'utf8');
      const ids = csv
        .replace(/^\uFEFF/, '')
        .trim()
        .split('\r\n')
        .slice(1)
        .map((line) => line.split(',')[1]);
      assert.deepEqual(
        ids,
        rows.map((r) => r.s_id),
      );
    } finally {
      await page.fill('#filters input[name=q]', '');
      await page.waitForFunction(() => document.querySelectorAll('#priority tbody tr').length === 50);
    }
  });

  it('records a status change that survives a reload, on the list and the map', async () => {
    const [top] = await priorityTop(1);
    await page.click(`#priority tbody tr[data-segment="${top}"] .status-actions button`);
    await page.fill('#status-note', '긴급 보수 지시');
    await page.click('#status-confirm');
    await page.waitForFunction((id) => {
      const s = document.querySelector(`#priority tbody tr[data-segment="${id}"] .status`);
      return s?.textContent === '보수중';
    }, top!);
    const { rows } = await db.pool.query(
      'SELECT repair_status, note FROM segment_repair_status WHERE s_id = $1',
      [top],
    );
    assert.deepEqual(rows, [{ repair_status: '보수중', note: '긴급 보수 지시' }]);

    await openDashboard(page, url);
    assert.equal(await rowStatus(top!), '보수중');
    const onMap = await page.evaluate((id) => {
      const layer = (window as unknown as DashboardWindow).dashboard.mapView.layer;
      return layer.status[layer.index.get(id)!];
    }, top!);
    assert.equal(onMap, 1, 'the map outlines it as 보수중');
  });

  it('shows why a change is refused and changes nothing: a status someone else changed, a note too long', async () => {
    const [, second, third] = await priorityTop(3);
    // Another manager moves the second segment on while this page still shows it as 미보수.
    const other = await fetch(`${url}api/segments/${second}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: '보수중', expected: '미보수' }),
    });
    assert.equal(other.status, 200);
    const before = await statusTables(db.pool);

    await page.click(`#priority tbody tr[data-segment="${second}"] .status-actions button`);
    await page.click('#status-confirm');
    const error = page.locator('#status-error');
    await error.waitFor({ state: 'visible' });
    assert.match(
      (await error.textContent())!,
      new RegExp(`${second} is 보수중 now, not 미보수: someone changed it`),
    );
    await page.click('#status-dialog button[value=cancel]');

    await page.click(`#priority tbody tr[data-segment="${third}"] .status-actions button`);
    await page.fill('#status-note', '가'.repeat(501));
    assert.equal(await page.locator('#note-count.over').count(), 1, 'the counter warns first');
    await page.click('#status-confirm');
    await page.waitForFunction(() =>
      /note is 501 characters/.test(document.getElementById('status-error')!.textContent!),
    );
    await page.click('#status-dialog button[value=cancel]');

    assert.deepEqual(await statusTables(db.pool), before);
    assert.equal(await rowStatus(third!), '미보수');
  });

  it('says the runs panel cannot reach Temporal, while the rest of the page works', async () => {
    const panel = page.locator('#runs .error');
    await panel.waitFor({ timeout: 15_000 });
    // The address and the reason are in the dashboard's log, not on the page.
    assert.match((await panel.textContent())!, /the Temporal server cannot be reached \(.*request id /);
    assert.ok((await page.locator('#priority tbody tr').count()) > 0);
    assert.equal(await page.locator('#trend-chart svg rect').count(), 7);
  });
});
