/** The dashboard's own address, which state changes must come from: the public URL, or the bind address. */
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { isLoopbackHost } from '../../../src/config/loopback';
import { ownAddress } from '../../../src/dashboard/address';

describe("the dashboard's own address", () => {
  it('is DASHBOARD_PUBLIC_URL alone when set (its origin, its host)', () => {
    const own = ownAddress('https://potholes.example.org/map/', '0.0.0.0', 8501);
    assert.deepEqual([...own.origins], ['https://potholes.example.org']);
    assert.deepEqual([...own.hosts], ['potholes.example.org']);
    const withPort = ownAddress('http://dash.office:8080', '127.0.0.1', 8501);
    assert.deepEqual([...withPort.origins], ['http://dash.office:8080']);
  });

  it('is the loopback bind address and localhost at the port listened on', () => {
    assert.deepEqual(
      [...ownAddress(undefined, '127.0.0.1', 8501).origins],
      ['http://127.0.0.1:8501', 'http://localhost:8501'],
    );
    assert.deepEqual([...ownAddress(undefined, '::1', 9000).hosts], ['[::1]:9000', 'localhost:9000']);
  });

  it("is every address of this machine's interfaces for a wildcard bind", () => {
    const own = ownAddress(undefined, '0.0.0.0', 8501);
    assert.ok(own.hosts.has('localhost:8501'));
    assert.ok(own.hosts.has('127.0.0.1:8501'));
    for (const i of Object.values(os.networkInterfaces()).flat())
      if (i && i.family === 'IPv4') assert.ok(own.origins.has(`http://${i.address}:8501`), i.address);
    assert.ok(!own.hosts.has('evil.test:8501'));
  });

  it('is the bind address itself otherwise', () => {
    assert.deepEqual([...ownAddress(undefined, 'Dash.Office', 8501).hosts], ['dash.office:8501']);
  });

  it('tells loopback (127.0.0.0/8, ::1, localhost) from every other host', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])
      assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '10.1.2.3', '128.0.0.1', 'localhost.evil.test', '127.0.0.1.evil.test'])
      assert.ok(!isLoopbackHost(h), h);
  });
});
