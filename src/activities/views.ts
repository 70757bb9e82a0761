/**
 * refresh_views: publishes the dashboards' views for the latest loaded day (src/db/dashboard-views.ts).
 * Dashboards keep reading the previous content while the new one is built, and are never waited for.
 */
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { publishDashboardViews } from '../db/dashboard-views';
import type { RefreshViewsResult, StepInput } from '../types';

/** The relations the dashboard reads (migration 006): the heatmap and the priority are built, the week is a window. */
export const DASHBOARD_VIEWS = [
  'mvw_dashboard_heatmap',
  'mvw_dashboard_weekly_stats',
  'mvw_dashboard_repair_priority',
] as const;

export function createViewActivities(deps: { pool: pg.Pool }) {
  const { pool } = deps;

  async function refresh_views(input: StepInput): Promise<RefreshViewsResult> {
    const ctx = Context.current();
    const signal = ctx.cancellationSignal;
    const { rows } = await pool.query<{ ready: boolean }>(
      "SELECT to_regclass('dashboard_snapshot') IS NOT NULL AS ready",
    );
    if (!rows[0]?.ready) {
      throw ApplicationFailure.nonRetryable(
        'the dashboard views predate migration 006; run `pothole db migrate`',
        'BadConfiguration',
      );
    }
    const backends: number[] = [];
    const onAbort = () => {
      for (const pid of backends) pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
    };
    signal.addEventListener('abort', onAbort);
    const ticker = setInterval(() => ctx.heartbeat({ step: 'publish' }), 5_000);
    try {
      const published = await publishDashboardViews(pool, {
        signal,
        onBackend: (pid) => {
          if (pid !== undefined) backends.push(pid);
        },
      });
      // The weekly view is published by the switch alone.
      const views = DASHBOARD_VIEWS.map((name) => ({
        name,
        seconds: published.seconds[name] ?? published.switchSeconds,
      }));
      log.info('dashboard views published', {
        batchDate: input.batchDate,
        date: published.date,
        generation: published.generation,
        views,
        switchSeconds: published.switchSeconds,
        dropped: published.dropped,
      });
      return { views };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw err;
    } finally {
      clearInterval(ticker);
      signal.removeEventListener('abort', onAbort);
    }
  }

  return { refresh_views };
}
