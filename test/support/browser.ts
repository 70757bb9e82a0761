// The page-side callbacks of page.evaluate run in Chromium: the tests that write them need the DOM's types.
/// <reference lib="dom" />
/**
 * Headless Chromium for the dashboard's browser tests, the demo's screenshot and the benchmark: Debian's own
 * chromium (stack:up installs it; CHROMIUM_PATH names another), driven by playwright-core, nothing downloaded.
 */
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** What the dashboard page exposes for tests (window.dashboard; see src/dashboard/public/app.js). */
export interface DashboardWindow {
  dashboard: {
    map: { getContainer(): HTMLElement };
    mapView: { layer: SegmentLayerView };
  };
}

/** The map's segment layer (src/dashboard/public/segment-layer.js), as far as tests read it. */
export interface SegmentLayerView {
  ids: string[];
  count: number;
  drawn: number;
  status: Uint8Array;
  index: Map<string, number>;
  containerPointOf(id: string): { x: number; y: number };
}

function chromiumPath(env: Record<string, string | undefined> = process.env): string {
  return env.CHROMIUM_PATH || '/usr/bin/chromium';
}

/** `args`: extra Chromium switches, e.g. --host-resolver-rules to give a test host name an address. */
export async function launchChromium(
  env: Record<string, string | undefined> = process.env,
  args: string[] = [],
): Promise<Browser> {
  const executablePath = chromiumPath(env);
  if (!fs.existsSync(executablePath)) {
    throw new Error(
      `Chromium is not at ${executablePath}: npm run stack:up installs Debian's chromium, or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({ executablePath, args });
}

/** Opens the dashboard and waits until its map and list are on screen (body[data-ready]). */
export async function openDashboard(page: Page, url: string, timeoutMs = 30_000): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready]', { timeout: timeoutMs });
}
