import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ComplaintsApiError,
  complaintDate,
  complaintWindows,
  createComplaintsApi,
  parseComplaint,
  readPage,
} from '../../../src/activities/complaints-api';
import { Secret } from '../../../src/config';

describe('complaint windows', () => {
  it('a range of at most 15 days is one window', () => {
    assert.deepEqual(complaintWindows('2026-02-12', '2026-02-12'), [
      { from: '2026-02-12', to: '2026-02-12' },
    ]);
    assert.deepEqual(complaintWindows('2026-02-01', '2026-02-15'), [
      { from: '2026-02-01', to: '2026-02-15' },
    ]);
  });

  it('a longer range is cut into consecutive windows of 15 days, the last one shorter', () => {
    assert.deepEqual(complaintWindows('2026-02-01', '2026-02-16'), [
      { from: '2026-02-01', to: '2026-02-15' },
      { from: '2026-02-16', to: '2026-02-16' },
    ]);
    assert.deepEqual(complaintWindows('2024-02-20', '2024-03-31'), [
      { from: '2024-02-20', to: '2024-03-05' },
      { from: '2024-03-06', to: '2024-03-20' },
      { from: '2024-03-21', to: '2024-03-31' },
    ]);
  });

  it('an empty range has no window', () => {
    assert.deepEqual(complaintWindows('2026-02-02', '2026-02-01'), []);
  });
});

describe('complaint items', () => {
  it('create_dt is read in the forms the portal writes, with or without a time', () => {
    for (const v of ['2026-02-12', '20260212', 20260212, '2026.02.12', '2026/02/12', '2026-02-12 13:45:00']) {
      assert.equal(complaintDate(v), '2026-02-12', String(v));
    }
    assert.equal(complaintDate('2026-02-12T04:45:00Z'), '2026-02-12');
    for (const v of ['2026-02-30', '2026-13-01', '12/02/2026', '202602121', '', null, undefined, {}]) {
      assert.equal(complaintDate(v), undefined, JSON.stringify(v));
    }
  });

  it('takes coordinates given as strings or numbers', () => {
    assert.deepEqual(parseComplaint({ create_dt: '20260212', event_lat: '37.5665', event_lon: '126.978' }), {
      createDate: '2026-02-12',
      lat: 37.5665,
      lon: 126.978,
    });
    assert.deepEqual(
      parseComplaint({ create_dt: '2026-02-12', event_lat: 37.5, event_lon: 127, extra: 'x' }),
      {
        createDate: '2026-02-12',
        lat: 37.5,
        lon: 127,
      },
    );
  });

  it('says what is wrong with a malformed item', () => {
    const cases: [unknown, RegExp][] = [
      [{ event_lat: '37.5', event_lon: '127' }, /create_dt undefined is not a date/],
      [
        { create_dt: '2026-02-31', event_lat: '37.5', event_lon: '127' },
        /create_dt "2026-02-31" is not a date/,
      ],
      [{ create_dt: '2026-02-12', event_lat: '', event_lon: '127' }, /event_lat "" is not a latitude/],
      [{ create_dt: '2026-02-12', event_lat: 'abc', event_lon: '127' }, /event_lat "abc" is not a latitude/],
      [
        { create_dt: '2026-02-12', event_lat: '127.0', event_lon: '37.5' },
        /event_lat "127.0" is not a latitude/,
      ],
      [{ create_dt: '2026-02-12', event_lat: '37.5' }, /event_lon undefined is not a longitude/],
      [
        { create_dt: '2026-02-12', event_lat: '37.5', event_lon: '181' },
        /event_lon "181" is not a longitude/,
      ],
      [{ create_dt: '2026-02-12', event_lat: 0, event_lon: '0' }, /both 0/],
      ['a string', /not an object/],
      [null, /not an object/],
    ];
    for (const [item, message] of cases) {
      const parsed = parseComplaint(item);
      assert.ok('error' in parsed, JSON.stringify(item));
      assert.match(parsed.error, message);
    }
  });
});

describe('API pages', () => {
  const a = { create_dt: '20260212', event_lat: '37.5', event_lon: '127.0' };
  const b = { create_dt: '20260213', event_lat: '37.6', event_lon: '127.1' };
  const header = { resultCode: '00', resultMsg: 'NORMAL SERVICE.' };

  it('reads the items under response.body, as an { item: [...] } list', () => {
    assert.deepEqual(readPage({ response: { header, body: { items: { item: [a, b] }, totalCount: 12 } } }), {
      items: [a, b],
      totalCount: 12,
    });
  });

  it('reads a single { item: {...} } under body, with a header beside it and totalCount as a string', () => {
    assert.deepEqual(readPage({ header, body: { items: { item: a }, totalCount: '1' } }), {
      items: [a],
      totalCount: 1,
    });
  });

  it('reads a plain array of items, and an array of { item } wrappers', () => {
    assert.deepEqual(readPage({ body: { items: [a, b] } }), { items: [a, b], totalCount: undefined });
    assert.deepEqual(readPage({ response: { body: { items: [{ item: a }, { item: b }], totalCount: 2 } } }), {
      items: [a, b],
      totalCount: 2,
    });
  });

  it('an empty page: no items, an empty string, or the portal saying there is no data', () => {
    assert.deepEqual(readPage({ response: { header, body: { items: '', totalCount: 0 } } }).items, []);
    assert.deepEqual(readPage({ body: { totalCount: 0 } }).items, []);
    assert.deepEqual(readPage({ response: { header: { resultCode: '03', resultMsg: 'NODATA_ERROR' } } }), {
      items: [],
      totalCount: 0,
    });
  });

  it('a result code other than 00 is an error; a refused key cannot be retried, a server error can', () => {
    const refused = catchError(() =>
      readPage({
        response: { header: { resultCode: '30', resultMsg: 'SERVICE_KEY_IS_NOT_REGISTERED_ERROR' } },
      }),
    );
    assert.equal(refused.retryable, false);
    assert.match(
      refused.message,
      /result code 30 \(SERVICE_KEY_IS_NOT_REGISTERED_ERROR\).*COMPLAINTS_API_KEY/,
    );
    const busy = catchError(() =>
      readPage({ response: { header: { resultCode: '05', resultMsg: 'TIMEOUT' } } }),
    );
    assert.equal(busy.retryable, true);
  });

  it('an answer without a body is an error', () => {
    assert.match(catchError(() => readPage({ header })).message, /no body/);
  });
});

async function failure(p: Promise<unknown>): Promise<ComplaintsApiError> {
  const err = await p.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ComplaintsApiError, String(err));
  return err;
}

function catchError(fn: () => unknown): ComplaintsApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ComplaintsApiError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

describe('API client', () => {
  const KEY = 'abc+def/ghi==';
  const window = { from: '2026-02-01', to: '2026-02-15' };
  const ok = { response: { header: { resultCode: '00' }, body: { items: { item: [] }, totalCount: 0 } } };
  function api(answers: (() => Response | Promise<Response>)[], key = KEY) {
    const urls: URL[] = [];
    const client = createComplaintsApi({
      url: 'https://apis.example.test/1140100/minAnalsInfoView7/minPotholeLatLonInfo',
      key: new Secret(key),
      attempts: 3,
      backoffMs: 1,
      fetch: async (input) => {
        urls.push(new URL(String(input)));
        const next = answers.shift();
        if (!next) throw new Error('no more answers');
        return next();
      },
    });
    return { client, urls };
  }
  const json =
    (body: unknown, status = 200) =>
    () =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('asks with the documented parameters, dates written yyyyMMdd', async () => {
    const { client, urls } = api([json(ok)]);
    await client.page(window, 2, 50);
    const q = Object.fromEntries(urls[0]!.searchParams);
    assert.deepEqual(q, {
      serviceKey: KEY,
      dateFrom: '20260201',
      dateTo: '20260215',
      pageNo: '2',
      numOfRows: '50',
      type: 'json',
    });
  });

  it('sends a percent-encoded key (the portal\'s "Encoding" key) decoded once, never encoded twice', async () => {
    const { client, urls } = api([json(ok)], encodeURIComponent(KEY));
    await client.page(window, 1, 10);
    assert.equal(urls[0]!.searchParams.get('serviceKey'), KEY);
  });

  it('retries a 500 and a network error, then returns the page', async () => {
    const { client, urls } = api([
      () => new Response('boom', { status: 500 }),
      () => Promise.reject(new TypeError('fetch failed')),
      json(ok),
    ]);
    assert.deepEqual(await client.page(window, 1, 10), { items: [], totalCount: 0 });
    assert.equal(urls.length, 3);
  });

  it('gives up after its attempts, naming the endpoint, window and page but never the key', async () => {
    const { client, urls } = api([1, 2, 3].map(() => () => new Response('unavailable', { status: 503 })));
    const err = await failure(client.page(window, 4, 10));
    assert.equal(urls.length, 3);
    assert.equal(err.retryable, true);
    assert.match(
      err.message,
      /^minPotholeLatLonInfo https:\/\/apis\.example\.test\/1140100\/minAnalsInfoView7\/minPotholeLatLonInfo 2026-02-01\.\.2026-02-15 page 4 after 3 attempts: HTTP 503: unavailable$/,
    );
  });

  it("fails at once on a refused key (HTTP 401, or the gateway's XML answer), with a clear message", async () => {
    const xml =
      '<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>' +
      '<returnAuthMsg>SERVICE_KEY_IS_NOT_REGISTERED_ERROR</returnAuthMsg><returnReasonCode>30</returnReasonCode>' +
      '</cmmMsgHeader></OpenAPI_ServiceResponse>';
    for (const answer of [
      () => new Response('Unauthorized', { status: 401 }),
      () => new Response(xml, { status: 200, headers: { 'content-type': 'text/xml' } }),
    ]) {
      const { client, urls } = api([answer]);
      const err = await failure(client.page(window, 1, 10));
      assert.equal(urls.length, 1);
      assert.equal(err.retryable, false);
      assert.match(err.message, /COMPLAINTS_API_KEY/);
    }
  });

  it('a 404 is a wrong URL, not retried', async () => {
    const { client, urls } = api([() => new Response('not found', { status: 404 })]);
    const err = await failure(client.page(window, 1, 10));
    assert.equal(urls.length, 1);
    assert.match(err.message, /HTTP 404: not found \(check COMPLAINTS_API_URL\)/);
  });

  it('scrubs the key from whatever an error quotes, the request URL included', async () => {
    const { client } = api([
      () => {
        throw new TypeError(
          `fetch failed for https://apis.example.test/x?serviceKey=${encodeURIComponent(KEY)}`,
        );
      },
      () => new Response(`bad key ${KEY}`, { status: 403 }),
    ]);
    const err = await failure(client.page(window, 1, 10));
    assert.ok(!err.message.includes(KEY) && !err.message.includes(encodeURIComponent(KEY)), err.message);
    assert.match(err.message, /bad key \*\*\*/);

    const quoting = () => Promise.reject(new TypeError(`fetch failed: GET ?serviceKey=${KEY}`));
    const network = await failure(api([quoting, quoting, quoting]).client.page(window, 1, 10));
    assert.match(network.message, /after 3 attempts: request failed: fetch failed: GET \?serviceKey=\*\*\*/);
  });
});
