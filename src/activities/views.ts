/**
 * refresh_views: rolls the loaded day into its month, brings the repair checks up to date, publishes the
 * dashboards' views for the latest loaded day (src/db/dashboard-views.ts), then retires days older than
 * SERVING_KEEP_DAYS. Dashboards keep reading the previous content while the new one is built, and are never
 * waited for. Retiring is housekeeping: when it fails the views stay published and the next night tries again.
 */
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import type { PostgresConfig } from '../config';
import { publishDashboardViews } from '../db/dashboard-views';
import { CancellableWork } from '../db/pool';
import { rollUpDay } from '../db/monthly-rollup';
import { updateRepairChecks } from '../db/repair-checks';
import { retireOldDays } from '../db/retire';
import type { RefreshViewsResult, StepInput } from '../shared/types';

/** The relations the dashboard reads (migration 006): the heatmap and the priority are built, the week is a window. */
export const DASHBOARD_VIEWS = [
  'mvw_dashboard_heatmap',
  'mvw_dashboard_weekly_stats',
  'mvw_dashboard_repair_priority',
] as const;

export function createViewActivities(deps: { pool: pg.Pool; history: PostgresConfig['history'] }) {
  const { pool, history } = deps;

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
    // A cancellation stops the statements of the connections the refresh holds at that moment (and no others).
    const work = new CancellableWork(pool, signal);
    const ticker = setInterval(() => ctx.heartbeat({ step: 'publish' }), 5_000);
    try {
      const rollup = await rollUpDay(pool, input.batchDate, work);
      const repairChecks = await updateRepairChecks(
        pool,
        {
          days: history.repairCheckDays,
          minTraffic: history.repairCheckMinTraffic,
          minDropPercent: history.repairEffectMinDropPercent,
        },
        work,
      );
      const published = await publishDashboardViews(pool, {
        signal,
        work,
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
        rollup,
        repairChecks,
      });
      const retired = await retire(input.batchDate, signal);
      return { views, rollup, repairChecks, retired };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw err;
    } finally {
      clearInterval(ticker);
      work.dispose();
    }
  }

  /** Never fails the step: the views are published, and the next night retires what is left. */
  async function retire(batchDate: string, signal: AbortSignal): Promise<RefreshViewsResult['retired']> {
    try {
      const result = await retireOldDays(pool, history.keepDays, { signal });
      if (result.candidates.length > 0)
        log.info('old days retired', {
          batchDate,
          keepDays: history.keepDays,
          retireThrough: result.retireThrough,
          retired: result.retired,
          leftForNextTime: result.leftForNextTime,
        });
      return { days: result.retired, leftForNextTime: result.leftForNextTime };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const message = err instanceof Error ? err.message : String(err);
      log.warn('retiring old days failed; the next refresh tries again', { batchDate, error: message });
      return { days: [], leftForNextTime: [], error: message };
    }
  }

  return { refresh_views };
}
