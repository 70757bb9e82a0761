/**
 * The demo's picture of the dashboard: serves it in-process over the demo's database, opens it in headless
 * Chromium (the map drawn, the list and the runs panel filled) and saves a full-page screenshot.
 */
import type { Pool } from 'pg';
import type { DashboardConfig, TemporalConfig } from '../src/config';
import { buildDashboard } from '../src/dashboard/server';
import { launchChromium, openDashboard } from '../test/support/browser';

export async function screenshotDashboard(options: {
  pool: Pool;
  dashboard: DashboardConfig;
  temporal: TemporalConfig;
  file: string;
  env?: Record<string, string | undefined>;
}): Promise<void> {
  const app = await buildDashboard({ ...options, warm: true });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const browser = await launchChromium(options.env);
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await openDashboard(page, `http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => performance.getEntriesByName('dashboard:runs').length > 0, null, {
        timeout: 15_000,
      });
      await page.waitForTimeout(500); // map tiles, where there are any
      await page.screenshot({ path: options.file, fullPage: true });
    } finally {
      await browser.close();
    }
  } finally {
    await app.close();
  }
}
