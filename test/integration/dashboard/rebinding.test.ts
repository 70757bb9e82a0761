/**
 * DNS rebinding in real headless Chromium: evil.test resolves to the dashboard's own IP (Chromium's
 * --host-resolver-rules), so a page at http://evil.test:PORT is served by the dashboard itself and its scripts are
 * same-origin with it, as after a rebinding. A status change they send is refused (403, the Origin check) and
 * nothing changes; the same change from the dashboard's own page at http://127.0.0.1:PORT is made.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openDashboard } from '../../support/browser';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../support/database';
import { dashboardFor, seedSmallWeek, statusTables } from './support';

let db: ThrowawayDatabase;
let app: FastifyInstance;
let browser: Browser;
let port: number;

before(async () => {
  db = await createThrowawayDatabase('dashboard_rebinding');
  await seedSmallWeek(db.pool);
  app = await dashboardFor(db.pool);
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
  browser = await launchChromium(process.env, ['--host-resolver-rules=MAP evil.test 127.0.0.1']);
});

after(async () => {
  await browser?.close();
  await app?.close();
  await db?.drop();
});

async function newPage(): Promise<Page> {
  return browser.newPage({ viewport: { width: 1400, height: 1000 } });
}

/** What a script of the page gets back for a status change it POSTs. */
function postFromPage(page: Page, sId: string, body: object) {
  return page.evaluate(
    async ([id, payload]) => {
      const res = await fetch(`/api/segments/${encodeURIComponent(id)}/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      return { status: res.status, body: await res.json() };
    },
    [sId, body] as const,
  );
}

async function changeInList(page: Page, sId: string): Promise<void> {
  await page.click(`#priority tbody tr[data-segment="${sId}"] .status-actions button`);
  await page.fill('#status-note', '긴급 보수 지시');
  await page.click('#status-confirm');
}

describe('a DNS-rebinding page in Chromium', () => {
  it('reaches the dashboard under a foreign name, and its script cannot change a status (403, the Origin check)', async () => {
    const page = await newPage();
    try {
      await openDashboard(page, `http://evil.test:${port}/`);
      assert.equal(await page.evaluate(() => location.origin), `http://evil.test:${port}`);
      const before = await statusTables(db.pool);
      const answer = await postFromPage(page, 'GN_0001', { status: '보수중', note: 'pwned' });
      assert.equal(answer.status, 403, JSON.stringify(answer.body));
      assert.equal(answer.body.field, 'origin');
      assert.match(
        answer.body.error,
        new RegExp(
          `^Origin http://evil\\.test:${port} is not this dashboard's address \\(http://127\\.0\\.0\\.1:${port}, ` +
            `http://localhost:${port}\\)`,
        ),
      );

      // The page's own dialog, on the rebound name, is refused the same way and says so.
      await changeInList(page, 'GN_0002');
      const error = page.locator('#status-error');
      await error.waitFor({ state: 'visible' });
      assert.match(
        (await error.textContent())!,
        /^이 주소에서 연 페이지로는 상태를 바꿀 수 없습니다: Origin http:\/\/evil\.test/,
      );

      assert.deepEqual(await statusTables(db.pool), before, 'no row written');
    } finally {
      await page.close();
    }
  });

  it("the same change from the dashboard's own page is made", async () => {
    const page = await newPage();
    try {
      await openDashboard(page, `http://127.0.0.1:${port}/`);
      const answer = await postFromPage(page, 'GN_0001', { status: '보수중', note: '작업 지시 #7' });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));

      await changeInList(page, 'GN_0002');
      await page.waitForFunction(
        () =>
          document.querySelector('#priority tbody tr[data-segment="GN_0002"] .status')?.textContent ===
          '보수중',
      );
      const { rows } = await db.pool.query(
        `SELECT s_id, repair_status, note FROM segment_repair_status ORDER BY s_id`,
      );
      assert.deepEqual(rows, [
        { s_id: 'GN_0001', repair_status: '보수중', note: '작업 지시 #7' },
        { s_id: 'GN_0002', repair_status: '보수중', note: '긴급 보수 지시' },
      ]);
    } finally {
      await page.close();
    }
  });
});
