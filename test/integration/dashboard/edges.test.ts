/**
 * The dashboard's edges against the local PostgreSQL: NUL bytes refused naming the parameter, 5xx answers that
 * carry a request id and leave the detail to the log, status changes only from the dashboard's own address,
 * failed logins limited per client address, a CSV no spreadsheet runs, notes counted in characters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { LOGIN_FAILURES_ALLOWED } from '../../../src/dashboard/server';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../support/database';
import { dashboardFor, logLines, OWN_HOST, refreshViews, seedSmallWeek, statusTables } from './support';

let db: ThrowawayDatabase;
let app: FastifyInstance;

before(async () => {
  db = await createThrowawayDatabase('dashboard_edges');
  await seedSmallWeek(db.pool);
  app = await dashboardFor(db.pool);
});

after(async () => {
  await app?.close();
  await db?.drop();
});

function change(sId: string, body: unknown, headers: Record<string, string> = {}, on = app, more = {}) {
  return on.inject({
    method: 'POST',
    url: `/api/segments/${encodeURIComponent(sId)}/status`,
    headers: { host: OWN_HOST, 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
    ...more,
  } as InjectOptions);
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('a NUL byte', () => {
  const refusals: { what: string; send: () => ReturnType<typeof change>; field: string; error: RegExp }[] = [
    {
      what: 'in a query parameter of the list',
      send: () => app.inject({ url: '/api/priority?q=%00GN' }),
      field: 'q',
      error: /^q must not contain a NUL byte/,
    },
    {
      what: 'in a query parameter of the CSV',
      send: () => app.inject({ url: `/api/priority.csv?district=${encodeURIComponent('강남구\0')}` }),
      field: 'district',
      error: /^district must not contain a NUL byte/,
    },
    {
      what: "in a segment id (the popup's)",
      send: () => app.inject({ url: '/api/segments/GN_%000001' }),
      field: 's_id',
      error: /^segment id must not contain a NUL byte/,
    },
    {
      what: 'in a segment id (its history)',
      send: () => app.inject({ url: '/api/segments/GN_0001%00/history' }),
      field: 's_id',
      error: /^segment id must not contain a NUL byte/,
    },
    {
      what: 'in a segment id (a status change)',
      send: () => change('GN_0001\0', { status: '보수중' }),
      field: 's_id',
      error: /^segment id must not contain a NUL byte/,
    },
    {
      what: 'in a note',
      send: () => change('GN_0001', { status: '보수중', note: '작업\0지시' }),
      field: 'note',
      error: /^note must not contain a NUL byte/,
    },
  ];
  for (const r of refusals) {
    const named =
      r.field === 's_id' ? 'the segment id' : r.field === 'note' ? 'the note' : `parameter ${r.field}`;
    it(`${r.what} is refused with 400 naming ${named}, and changes nothing`, async () => {
      const before = await statusTables(db.pool);
      const res = await r.send();
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().field, r.field);
      assert.match(res.json().error, r.error);
      assert.deepEqual(await statusTables(db.pool), before);
    });
  }
});

describe('an answer of 5xx', () => {
  it('carries a request id and no internal message; the log has the detail under that id', async () => {
    const bare = await createThrowawayDatabase('dashboard_edges_bare', { migrate: false });
    const log = logLines();
    const broken = await dashboardFor(bare.pool, {}, { logStream: log });
    try {
      const res = await broken.inject({ url: '/api/priority?q=GN' });
      assert.equal(res.statusCode, 500);
      const body = res.json();
      assert.match(body.requestId, /^[0-9a-f-]{36}$/);
      assert.equal(res.headers['x-request-id'], body.requestId);
      assert.equal(
        body.error,
        `internal error (the dashboard's log has the detail under request id ${body.requestId})`,
      );
      assert.doesNotMatch(res.body, /relation|mvw_|SELECT|does not exist/);
      const logged = log.entries().filter((e) => e.reqId === body.requestId);
      assert.equal(logged.length, 1, JSON.stringify(log.entries()));
      const err = logged[0]!.err as { message: string; stack: string };
      assert.match(err.message, /relation "\w+" does not exist/);
      assert.match(String(logged[0]!.msg), /^GET \/api\/priority failed$/);
    } finally {
      await broken.close();
      await bare.drop();
    }
  });
});

describe("a status change from another address than the dashboard's own", () => {
  const evil = { origin: 'http://evil.test:8501', host: 'evil.test:8501' };

  it('(a DNS-rebinding page: foreign Origin and Host) is refused with 403 naming the Origin check, and changes nothing', async () => {
    const before = await statusTables(db.pool);
    const res = await change('GN_0002', { status: '보수중' }, evil);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().field, 'origin');
    assert.match(
      res.json().error,
      /^Origin http:\/\/evil\.test:8501 is not this dashboard's address \(http:\/\/127\.0\.0\.1:8501, http:\/\/localhost:8501\)/,
    );
    assert.match(res.json().error, /DASHBOARD_PUBLIC_URL/);
    assert.deepEqual(await statusTables(db.pool), before);
  });

  it('from a client that sends no Origin, is refused with 403 naming the Host check', async () => {
    const res = await change('GN_0002', { status: '보수중' }, { host: 'evil.test:8501' });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().field, 'host');
    assert.match(
      res.json().error,
      /^Host evil\.test:8501 is not this dashboard's address \(127\.0\.0\.1:8501, /,
    );
  });

  it('is refused with a login too: the check comes before it', async () => {
    const guarded = await dashboardFor(db.pool, { DASHBOARD_USER: 'manager', DASHBOARD_PASSWORD: 'pw-1' });
    try {
      const res = await change(
        'GN_0002',
        { status: '보수중' },
        { ...evil, ...basic('manager', 'pw-1') },
        guarded,
      );
      assert.equal(res.statusCode, 403, res.body);
    } finally {
      await guarded.close();
    }
  });

  it("is made from the dashboard's own origin (127.0.0.1 or localhost at its port)", async () => {
    const own = await change('GN_0002', { status: '보수중' }, { origin: 'http://localhost:8501' });
    assert.equal(own.statusCode, 200, own.body);
    const back = await change(
      'GN_0002',
      { status: '미보수', note: '테스트 되돌림' },
      { origin: 'http://127.0.0.1:8501' },
    );
    assert.equal(back.statusCode, 200, back.body);
  });

  it('takes DASHBOARD_PUBLIC_URL as the address when set, and nothing else', async () => {
    const published = await dashboardFor(db.pool, { DASHBOARD_PUBLIC_URL: 'https://potholes.example.org' });
    try {
      const other = await change(
        'GN_0002',
        { status: '보수중' },
        { origin: 'http://127.0.0.1:8501' },
        published,
      );
      assert.equal(other.statusCode, 403);
      assert.match(other.json().error, /not this dashboard's address \(https:\/\/potholes\.example\.org\)/);
      const own = await change(
        'GN_0002',
        { status: '보수중' },
        { origin: 'https://potholes.example.org', host: '127.0.0.1:8501' },
        published,
      );
      assert.equal(own.statusCode, 200, own.body);
    } finally {
      await published.close();
    }
  });

  it('leaves viewing open at any address (reading is not a change)', async () => {
    const res = await app.inject({ url: '/api/priority', headers: { host: 'evil.test:8501' } });
    assert.equal(res.statusCode, 200);
  });
});

describe('failed logins', () => {
  const login = { DASHBOARD_USER: 'manager', DASHBOARD_PASSWORD: 'road-s3cret' };

  it(`are limited to ${LOGIN_FAILURES_ALLOWED} per client address: then 429 with Retry-After, even for the right password`, async () => {
    const guarded = await dashboardFor(db.pool, login);
    try {
      const before = await statusTables(db.pool);
      for (let i = 1; i <= LOGIN_FAILURES_ALLOWED; i++) {
        const res = await change('SC_0002', { status: '보수중' }, basic('manager', `guess-${i}`), guarded);
        assert.equal(res.statusCode, 401, `failure ${i}`);
      }
      const locked = await change('SC_0002', { status: '보수중' }, basic('manager', 'road-s3cret'), guarded);
      assert.equal(locked.statusCode, 429, locked.body);
      const retryAfter = Number(locked.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After: ${locked.headers['retry-after']}`);
      assert.equal(
        locked.json().error,
        `too many failed logins from this address: try again in ${retryAfter} s`,
      );
      assert.deepEqual(await statusTables(db.pool), before);

      const elsewhere = await change(
        'SC_0002',
        { status: '보수중' },
        basic('manager', 'road-s3cret'),
        guarded,
        { remoteAddress: '127.0.0.2' },
      );
      assert.equal(elsewhere.statusCode, 200, 'another client address is not locked out');
    } finally {
      await guarded.close();
    }
  });

  it('are the only ones counted: successful logins and requests without a login are not', async () => {
    const guarded = await dashboardFor(db.pool, login, { loginLimit: { max: 2, windowMs: 60_000 } });
    try {
      for (let i = 0; i < 3; i++) {
        const anonymous = await change('SC_0002', { status: '미보수' }, {}, guarded);
        assert.equal(anonymous.statusCode, 401, 'no login sent: the browser asks for one');
        const loggedIn = await change(
          'SC_0002',
          { status: '보수중' },
          basic('manager', 'road-s3cret'),
          guarded,
        );
        assert.equal(loggedIn.statusCode, 409, 'the login passed; the segment is already 보수중');
      }
      const res = await change(
        'SC_0002',
        { status: '미보수', note: '로그인 횟수 확인' },
        basic('manager', 'road-s3cret'),
        guarded,
      );
      assert.equal(res.statusCode, 200, res.body);
    } finally {
      await guarded.close();
    }
  });

  it('let the address try again once Retry-After has passed', async () => {
    const guarded = await dashboardFor(db.pool, login, { loginLimit: { max: 1, windowMs: 1_000 } });
    try {
      assert.equal(
        (await change('SC_0002', { status: '보수중' }, basic('manager', 'x'), guarded)).statusCode,
        401,
      );
      const locked = await change('SC_0002', { status: '보수중' }, basic('manager', 'road-s3cret'), guarded);
      assert.equal(locked.statusCode, 429);
      assert.equal(locked.headers['retry-after'], '1');
      await new Promise((r) => setTimeout(r, 1_100));
      const again = await change('SC_0002', { status: '보수중' }, basic('manager', 'road-s3cret'), guarded);
      assert.equal(again.statusCode, 200, again.body);
    } finally {
      await guarded.close();
    }
  });
});

describe('a note', () => {
  it('of 300 emoji is 300 characters: kept whole, as PostgreSQL counts it', async () => {
    const note = '🚧'.repeat(300);
    assert.equal(note.length, 600, 'UTF-16 counts each emoji twice');
    const res = await change('GN_0001', { status: '보수중', note });
    assert.equal(res.statusCode, 200, res.body);
    const { rows } = await db.pool.query(
      `SELECT char_length(note) AS n, note = $2 AS same FROM segment_repair_status WHERE s_id = $1`,
      ['GN_0001', note],
    );
    assert.deepEqual(rows, [{ n: 300, same: true }]);
  });

  it('is counted after trimming: 500 characters between spaces are kept, 501 emoji are refused naming 501', async () => {
    const padded = await change('GN_0001', {
      status: '보수완료',
      note: `   ${'가'.repeat(500)}\n  `,
      expected: '보수중',
    });
    assert.equal(padded.statusCode, 200, padded.body);
    const before = await statusTables(db.pool);
    const long = await change('GN_0001', { status: '미보수', note: '🚧'.repeat(501) });
    assert.equal(long.statusCode, 400);
    assert.equal(long.json().field, 'note');
    assert.match(long.json().error, /^note is 501 characters; at most 500 are kept/);
    assert.deepEqual(await statusTables(db.pool), before);
  });
});

describe('the CSV download', () => {
  it('defuses cells starting with =, +, -, @, TAB or CR (a leading apostrophe), and leaves the rest as they are', async () => {
    const names: [string, string, string][] = [
      ['GN_0001', '=HYPERLINK("http://x")', '\t강남구'],
      ['SC_0001', '+82 반포대로', '서초구'],
      ['GN_0002', '-1 강남대로', '\r강남구'],
      ['SC_0002', '@SUM(A1)', '서초구'],
    ];
    for (const [sId, road, district] of names)
      await db.pool.query('UPDATE segment_address SET road_name = $2, district = $3 WHERE s_id = $1', [
        sId,
        road,
        district,
      ]);
    await refreshViews(db.pool);
    const res = await app.inject({ url: '/api/priority.csv' });
    assert.equal(res.statusCode, 200);
    const text = res.body.replace(/^\uFEFF/, '');
    for (const cell of [
      `"'=HYPERLINK(""http://x"")"`,
      `'\t강남구`,
      `'+82 반포대로`,
      `'-1 강남대로`,
      `"'\r강남구"`,
      `'@SUM(A1)`,
    ])
      assert.ok(text.includes(`,${cell},`), `${JSON.stringify(cell)} in ${JSON.stringify(text)}`);
    assert.match(text, /\r\n2,SC_0001,'\+82 반포대로,서초구,100,0,50,50,0,0,1,/, 'numbers untouched');
  });
});
