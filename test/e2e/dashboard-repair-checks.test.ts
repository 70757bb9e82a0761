/**
 * Did the repair hold, in real headless Chromium: the road manager filters the list to the repairs that did not
 * hold (재발), sees them marked and ringed on the map, and opens one's popup for the figures before and after the
 * repair and its 12 months. A screenshot of that popup is saved to .stack/test-output/repair-check-popup.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openDashboard, type DashboardWindow } from '../support/browser';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../support/database';
import { dashboardFor } from '../integration/dashboard/support';
import { seedRepairChecks } from '../integration/dashboard/repair-check-data';

const SCREENSHOT = path.resolve(__dirname, '../../.stack/test-output/repair-check-popup.png');

let db: ThrowawayDatabase;
let app: FastifyInstance;
let browser: Browser;
let page: Page;

before(async () => {
  db = await createThrowawayDatabase('dashboard_checks_e2e');
  await seedRepairChecks(db.pool, db.config.history);
  app = await dashboardFor(db.pool);
  await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await openDashboard(page, `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`);
});

after(async () => {
  await browser?.close();
  await app?.close();
  await db?.drop();
});

const listed = () =>
  page
    .locator('#priority tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) => [
        tr.getAttribute('data-segment'),
        tr.classList.contains('recurred'),
        tr.querySelector('.verdict')?.textContent ?? null,
      ]),
    );

describe('repair checks on the dashboard in Chromium', () => {
  it('marks each row with its verdict, 재발 rows set apart, and filters the list to 재발', async () => {
    const all = Object.fromEntries(
      (await listed()).map(([id, recurred, verdict]) => [id, [recurred, verdict]]),
    );
    assert.deepEqual(all, {
      HELD: [false, '효과 확인'],
      BACK: [true, '재발'],
      QUIET: [false, '확인중'],
      UNDONE: [false, null],
      PLAIN: [false, null],
    });
    await page.selectOption('#filters select[name=check]', '재발');
    await page.waitForFunction(() => document.querySelectorAll('#priority tbody tr').length === 1);
    assert.deepEqual(await listed(), [['BACK', true, '재발']]);
    assert.match((await page.getAttribute('#csv', 'href'))!, /check=%EC%9E%AC%EB%B0%9C/);
  });

  it('rings the 재발 segment on the map, with a legend entry', async () => {
    const ringed = await page.evaluate(() => {
      const layer = (window as unknown as DashboardWindow).dashboard.mapView.layer as unknown as {
        ids: string[];
        recurred: Uint8Array;
      };
      return layer.ids.filter((_, i) => layer.recurred[i] === 1);
    });
    assert.deepEqual(ringed, ['BACK']);
    assert.match((await page.textContent('.legend'))!, /보라 바깥 고리: 재발/);
  });

  it("opens the 재발 segment's popup with its rates before and after the repair, and its 12 months", async () => {
    await page.click('#priority tbody tr[data-segment="BACK"]');
    const popup = page.locator('.leaflet-popup-content .popup[data-segment="BACK"]');
    await popup.waitFor();
    assert.equal(
      (await popup.locator('.check-line').textContent())!.trim(),
      '보수 전 14일 20.0% → 보수 후 14일 18.0% · 재발',
    );
    assert.match((await popup.locator('.check small').textContent())!, /보수일 2026-05-01/);
    assert.equal(await popup.locator('.popup-months svg rect').count(), 12);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.locator('.leaflet-popup').screenshot({ path: SCREENSHOT });
    assert.ok(fs.statSync(SCREENSHOT).size > 0);
  });

  it("shows the network's 12 months in the trend panel", async () => {
    await page.locator('#months-chart svg').waitFor();
    assert.equal(await page.locator('#months-chart svg rect').count(), 12);
    assert.match((await page.textContent('#months-chart'))!, /4월.*5월/);
  });
});
