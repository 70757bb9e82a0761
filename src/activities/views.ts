/**
 * refresh_views: the dashboards' materialized views, refreshed CONCURRENTLY so dashboards keep reading
 * the previous content while the new one is computed.
 */
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import type { RefreshViewsResult, StepInput } from '../types';

/** In refresh order; each has the unique index CONCURRENTLY needs (migrations 002 and 004). */
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
    const views: RefreshViewsResult['views'] = [];
    const client = await pool.connect();
    const onAbort = () => {
      pool
        .query('SELECT pg_cancel_backend($1)', [(client as unknown as { processID: number }).processID])
        .catch(() => undefined);
    };
    signal.addEventListener('abort', onAbort);
    const ticker = setInterval(() => ctx.heartbeat({ views: views.length }), 5_000);
    try {
      for (const name of DASHBOARD_VIEWS) {
        if (signal.aborted) throw signal.reason;
        const { rows } = await client.query<{ populated: boolean }>(
          `SELECT relispopulated AS populated FROM pg_class
            WHERE relname = $1 AND relkind = 'm' AND relnamespace = current_schema()::regnamespace`,
          [name],
        );
        if (!rows[0]) {
          throw ApplicationFailure.nonRetryable(
            `materialized view ${name} does not exist; run \`pothole db migrate\``,
            'BadConfiguration',
          );
        }
        // CONCURRENTLY needs a populated view; the very first refresh has nothing for readers to keep.
        const concurrently = rows[0].populated;
        const started = process.hrtime.bigint();
        await client.query(`REFRESH MATERIALIZED VIEW ${concurrently ? 'CONCURRENTLY ' : ''}${name}`);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        views.push({ name, seconds });
        log.info('materialized view refreshed', {
          batchDate: input.batchDate,
          view: name,
          seconds,
          concurrently,
        });
        ctx.heartbeat({ views: views.length });
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw err;
    } finally {
      clearInterval(ticker);
      signal.removeEventListener('abort', onAbort);
      client.release();
    }
    return { views };
  }

  return { refresh_views };
}
