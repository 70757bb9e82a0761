/**
 * Answers computed from the views alone (the map's columns, the trend, the districts) change only when
 * refresh_views runs, once a night: they are kept until then. Every REFRESH MATERIALIZED VIEW, concurrent or not,
 * rewrites the view's pg_class row, so the rows' (oid, xmin) name the views' current content for the price of a
 * catalog lookup. A value computed while a refresh commits is filed under the older version and computed again.
 */
import type { Pool } from 'pg';
import { DASHBOARD_VIEWS } from '../activities/views';

export async function viewsVersion(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ version: string | null }>(
    `SELECT string_agg(c.oid::text || ':' || c.xmin::text, ',' ORDER BY c.oid) AS version
       FROM unnest($1::text[]) AS v(name) JOIN pg_class c ON c.oid = to_regclass(v.name)`,
    [DASHBOARD_VIEWS],
  );
  return rows[0]?.version ?? '';
}

export class ViewCache {
  #version: string | undefined;
  readonly #values = new Map<string, Promise<unknown>>();
  #watcher: NodeJS.Timeout | undefined;

  constructor(private readonly pool: Pool) {}

  /**
   * Looks for a refresh every `everyMs` and then calls `refill`, so the first visitor after the nightly
   * refresh_views finds the caches full. A failed look (the database away) is tried again at the next tick.
   */
  watch(everyMs: number, refill: () => Promise<unknown>): void {
    this.#watcher ??= setInterval(() => {
      viewsVersion(this.pool)
        .then((version) => (version !== this.#version ? refill() : undefined))
        .catch(() => undefined);
    }, everyMs);
    this.#watcher.unref();
  }

  stop(): void {
    clearInterval(this.#watcher);
    this.#watcher = undefined;
  }

  async get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const version = await viewsVersion(this.pool);
    if (version !== this.#version) {
      this.#values.clear();
      this.#version = version;
    }
    let value = this.#values.get(key) as Promise<T> | undefined;
    if (!value) {
      value = compute();
      this.#values.set(key, value);
      value.catch(() => this.#values.delete(key));
    }
    return value;
  }
}
