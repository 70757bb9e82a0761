/**
 * Answers computed from the views alone (the map's columns, the trend, the districts) change only when
 * refresh_views runs, once a night: they are kept until then. Each refresh publishes a new generation
 * (dashboard_snapshot, migration 006), which names the views' current content for the price of a one-row read.
 * A value computed while a refresh commits is filed under the older generation and computed again.
 */
import type { Pool } from 'pg';

export async function viewsVersion(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ version: string }>(
    `SELECT generation::text AS version FROM dashboard_snapshot`,
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
