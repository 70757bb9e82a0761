/**
 * Cancelling a step's database work against the local PostgreSQL: the statements of the connections it holds stop,
 * and nobody else's — not another user of the pool, not whoever borrows a cancelled connection next.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { CancellableWork, createPool } from '../../../src/db/pool';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../support/database';

let db: ThrowawayDatabase;
let pool: pg.Pool;

before(async () => {
  db = await createThrowawayDatabase('pool', { migrate: false });
  pool = createPool(db.config, { max: 3, applicationName: 'test-cancellable-work' });
});

after(async () => {
  await pool?.end();
  await db?.drop();
});

const pidOf = async (client: pg.PoolClient) =>
  (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

/** A 30 s statement on `client`: resolves with its error once it is stopped (undefined if it ran to its end). */
const longStatement = (client: pg.PoolClient) =>
  client.query('SELECT pg_sleep(30)').then(
    () => undefined,
    (err: { code?: string }) => err,
  );

/** Resolves once `pid` is running a statement (so a cancel has something to stop). */
async function running(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await pool.query<{ state: string }>(
      'SELECT state FROM pg_stat_activity WHERE pid = $1',
      [pid],
    );
    if (rows[0]?.state === 'active') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`backend ${pid} never started its statement`);
}

describe('cancellable work', () => {
  test("a cancellation stops the held connection's statement, and that connection is closed, not pooled", async () => {
    const abort = new AbortController();
    const work = new CancellableWork(pool, abort.signal);
    const client = await work.connect();
    const pid = await pidOf(client);
    const sleeping = longStatement(client);
    await running(pid);
    const started = Date.now();
    abort.abort(new Error('cancelled'));
    const err = await sleeping;
    assert.equal(err?.code, '57014', 'canceling statement due to user request');
    assert.ok(Date.now() - started < 5_000, `stopped in ${Date.now() - started} ms, not after 30 s`);
    await work.release(client);
    work.dispose();

    // Whoever borrows next gets a live connection of another backend, and its statements run to the end.
    const borrowers = await Promise.all(
      [0, 1, 2].map(async () => {
        const c = await pool.connect();
        try {
          const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.3)');
          return rows[0]!.pid;
        } finally {
          c.release();
        }
      }),
    );
    assert.ok(
      !borrowers.includes(pid),
      `the cancelled backend ${pid} is not lent again (${borrowers.join(', ')})`,
    );
  });

  test('only the connections held when the work is cancelled are cancelled: one it gave back serves on', async () => {
    const abort = new AbortController();
    const work = new CancellableWork(pool, abort.signal);
    const first = await work.connect();
    const givenBack = await pidOf(first);
    await work.release(first);

    // The pool lends the connection the work gave back to someone else, who starts a statement on it.
    const other = await pool.connect();
    try {
      assert.equal(await pidOf(other), givenBack, 'the idle connection is lent again');
      const othersQuery = other.query('SELECT pg_sleep(1.5) AS slept');
      const held = await work.connect();
      const heldPid = await pidOf(held);
      const heldQuery = longStatement(held);
      await running(heldPid);
      await running(givenBack);
      abort.abort(new Error('cancelled'));
      assert.equal((await heldQuery)?.code, '57014');
      await work.release(held);
      const { rows } = await othersQuery;
      assert.equal(rows.length, 1, "the other user's statement ran to its end");
    } finally {
      other.release();
      work.dispose();
    }
  });

  test('work cancelled before it takes a connection takes none, and gives the pool its connection back', async () => {
    const abort = new AbortController();
    abort.abort(new Error('cancelled before it began'));
    const work = new CancellableWork(pool, abort.signal);
    await assert.rejects(work.connect(), /cancelled before it began/);
    work.dispose();
    assert.equal(pool.totalCount - pool.idleCount, 0, 'no connection is left checked out');
  });
});
