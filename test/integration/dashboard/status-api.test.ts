/**
 * Repair status changes through the API against the local PostgreSQL: recorded with time, note and history, shown
 * by the list and the map; refused with a 4xx naming what is wrong, and then nothing changed; a login when set.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../support/database';
import { dashboardFor, OWN_HOST, seedSmallWeek, statusTables } from './support';

let db: ThrowawayDatabase;
let app: FastifyInstance;

before(async () => {
  db = await createThrowawayDatabase('dashboard_status');
  await seedSmallWeek(db.pool);
  app = await dashboardFor(db.pool);
});

after(async () => {
  await app?.close();
  await db?.drop();
});

function change(sId: string, body: unknown, headers: Record<string, string> = {}, on = app) {
  return on.inject({
    method: 'POST',
    url: `/api/segments/${encodeURIComponent(sId)}/status`,
    headers: { host: OWN_HOST, 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('a repair status change', () => {
  it('is recorded with its time and note, and kept as history', async () => {
    const before = Date.now();
    const res = await change('GN_0001', { status: '보수중', note: '작업 지시 #12', expected: '미보수' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(
      [body.s_id, body.from, body.to, body.note, body.changedBy],
      ['GN_0001', '미보수', '보수중', '작업 지시 #12', null],
    );
    const { status, history } = await statusTables(db.pool);
    assert.equal(status.length, 1);
    assert.equal(status[0].repair_status, '보수중');
    assert.equal(status[0].note, '작업 지시 #12');
    assert.ok(status[0].updated_at.getTime() >= before - 1000);
    assert.deepEqual(
      history.map((h) => [h.s_id, h.from_status, h.to_status, h.note]),
      [['GN_0001', '미보수', '보수중', '작업 지시 #12']],
    );
    assert.equal(history[0].changed_at.getTime(), status[0].updated_at.getTime());
  });

  it('shows in the list (and its status filter), the map and the popup', async () => {
    const list = (await app.inject({ url: '/api/priority' })).json();
    assert.equal(list.rows[0].s_id, 'GN_0001');
    assert.equal(list.rows[0].repair_status, '보수중');
    assert.equal(list.rows[0].status_note, '작업 지시 #12');
    const filtered = (
      await app.inject({ url: `/api/priority?status=${encodeURIComponent('보수중')}` })
    ).json();
    assert.deepEqual(
      filtered.rows.map((r: { s_id: string }) => r.s_id),
      ['GN_0001'],
    );
    const notYet = (await app.inject({ url: `/api/priority?status=${encodeURIComponent('미보수')}` })).json();
    assert.deepEqual(
      notYet.rows.map((r: { s_id: string }) => r.s_id),
      ['SC_0001', 'GN_0002', 'SC_0002'],
    );
    const map = (await app.inject({ url: '/api/map' })).json();
    assert.deepEqual(map.statuses, { ids: ['GN_0001'], status: [1] });
    const popup = (await app.inject({ url: '/api/segments/GN_0001' })).json();
    assert.equal(popup.repair_status, '보수중');
    assert.equal(popup.history.length, 1);
  });

  it('goes on to 보수완료, and back to 미보수 with a note saying why', async () => {
    assert.equal((await change('GN_0001', { status: '보수완료', expected: '보수중' })).statusCode, 200);
    const back = await change('GN_0001', {
      status: '미보수',
      note: '재발: 같은 자리에 다시 파임',
      expected: '보수완료',
    });
    assert.equal(back.statusCode, 200, back.body);
    const history = (await app.inject({ url: '/api/segments/GN_0001/history' })).json().history;
    assert.deepEqual(
      history.map((h: { from: string; to: string }) => `${h.from}→${h.to}`),
      ['보수완료→미보수', '보수중→보수완료', '미보수→보수중'],
      'newest first',
    );
  });
});

describe('a refused status change answers 4xx naming what is wrong, and changes nothing', () => {
  const cases: {
    what: string;
    setup?: () => Promise<unknown>;
    send: () => ReturnType<typeof change>;
    code: number;
    error: RegExp;
  }[] = [
    {
      what: 'an unknown segment',
      send: () => change('NOPE_0001', { status: '보수중' }),
      code: 404,
      error: /unknown segment "NOPE_0001"/,
    },
    {
      what: 'a skipped step (미보수 → 보수완료)',
      send: () => change('GN_0002', { status: '보수완료' }),
      code: 409,
      error: /GN_0002 cannot go from 미보수 to 보수완료; from 미보수 it may go to 보수중/,
    },
    {
      what: 'the status it already has',
      send: () => change('GN_0002', { status: '미보수' }),
      code: 409,
      error: /GN_0002 is already 미보수/,
    },
    {
      what: 'a page that showed an older status',
      send: () => change('GN_0001', { status: '보수중', expected: '보수중' }),
      code: 409,
      error: /GN_0001 is 미보수 now, not 보수중: someone changed it meanwhile/,
    },
    {
      what: 'going back without a note',
      setup: () => change('SC_0001', { status: '보수중' }),
      send: () => change('SC_0001', { status: '미보수', note: '  ' }),
      code: 400,
      error: /a note is required to move segment SC_0001 back from 보수중 to 미보수/,
    },
    {
      what: 'a note over 500 characters',
      send: () => change('GN_0002', { status: '보수중', note: '가'.repeat(501) }),
      code: 400,
      error: /note is 501 characters; at most 500/,
    },
    {
      what: 'an unknown status',
      send: () => change('GN_0002', { status: 'fixed' }),
      code: 400,
      error: /status must be one of/,
    },
    {
      what: 'a body that is not JSON',
      send: () => change('GN_0002', '{"status": '),
      code: 400,
      error: /JSON/,
    },
    {
      what: 'a body sent as a form',
      send: () =>
        app.inject({
          method: 'POST',
          url: '/api/segments/GN_0002/status',
          headers: { host: OWN_HOST, 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'status=보수중',
        }),
      code: 415,
      error: /Unsupported Media Type/i,
    },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      await c.setup?.();
      const before = await statusTables(db.pool);
      const res = await c.send();
      assert.equal(res.statusCode, c.code, res.body);
      assert.match(res.json().error, c.error);
      assert.deepEqual(await statusTables(db.pool), before);
    });
  }

  it('leaves no row behind for the segments it refused (the whole change is one transaction)', async () => {
    const { status } = await statusTables(db.pool);
    assert.deepEqual(
      status.map((s) => [s.s_id, s.repair_status]),
      [
        ['GN_0001', '미보수'],
        ['SC_0001', '보수중'],
      ],
    );
  });
});

describe('with DASHBOARD_USER and DASHBOARD_PASSWORD set', () => {
  let guarded: FastifyInstance;
  before(async () => {
    guarded = await dashboardFor(db.pool, { DASHBOARD_USER: 'manager', DASHBOARD_PASSWORD: 'road-s3cret' });
  });
  after(async () => {
    await guarded?.close();
  });

  it('viewing needs no login', async () => {
    for (const url of ['/', '/api/map', '/api/priority', '/api/trend', '/api/segments/GN_0001'])
      assert.equal((await guarded.inject({ url })).statusCode, 200, url);
    assert.equal((await guarded.inject({ url: '/api/settings' })).json().loginRequired, true);
  });

  it('a status change without the login, or with a wrong one, is refused with 401 and changes nothing', async () => {
    const before = await statusTables(db.pool);
    const anonymous = await change('GN_0002', { status: '보수중' }, {}, guarded);
    assert.equal(anonymous.statusCode, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="pothole dashboard/);
    const wrong = await change('GN_0002', { status: '보수중' }, basic('manager', 'guess'), guarded);
    assert.equal(wrong.statusCode, 401);
    assert.doesNotMatch(wrong.body, /road-s3cret/);
    assert.deepEqual(await statusTables(db.pool), before);
  });

  it('with the login it is made, and the history names who made it', async () => {
    const res = await change('GN_0002', { status: '보수중' }, basic('manager', 'road-s3cret'), guarded);
    assert.equal(res.statusCode, 200, res.body);
    const { history } = await statusTables(db.pool);
    assert.equal(history.at(-1).s_id, 'GN_0002');
    assert.equal(history.at(-1).changed_by, 'manager');
  });
});
