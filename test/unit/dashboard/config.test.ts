/**
 * The dashboard's settings: defaults, the tile URL, the login that comes as a pair, its public address, and no
 * binding beyond loopback without a login unless asked for.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(['dashboard'], env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
};

describe('dashboard settings', () => {
  it('default to 127.0.0.1:8501, OpenStreetMap tiles and no login', () => {
    const { dashboard } = loadConfig(['dashboard'], {});
    assert.equal(dashboard.DASHBOARD_HOST, '127.0.0.1');
    assert.equal(dashboard.DASHBOARD_PORT, 8501);
    assert.equal(dashboard.DASHBOARD_TILE_URL, 'https://tile.openstreetmap.org/{z}/{x}/{y}.png');
    assert.equal(dashboard.DASHBOARD_USER, undefined);
    assert.equal(dashboard.DASHBOARD_PASSWORD, undefined);
  });

  it('take "none" or a {z}/{x}/{y} template for tiles, and name a bad one', () => {
    assert.deepEqual(problems({ DASHBOARD_TILE_URL: 'none' }), []);
    assert.deepEqual(problems({ DASHBOARD_TILE_URL: 'http://tiles.local/{z}/{y}/{x}.png' }), []);
    assert.deepEqual(problems({ DASHBOARD_TILE_URL: 'http://tiles.local/tile.png', DASHBOARD_PORT: 'x' }), [
      'DASHBOARD_PORT must be a port number (1-65535), got "x"',
      'DASHBOARD_TILE_URL must be "none" or a tile URL template with {z}, {x} and {y}',
    ]);
  });

  it('need the user and the password together, and never show the password', () => {
    assert.deepEqual(problems({ DASHBOARD_USER: 'manager' }), [
      'DASHBOARD_PASSWORD is required when DASHBOARD_USER is set',
    ]);
    assert.deepEqual(problems({ DASHBOARD_PASSWORD: 'pw' }), [
      'DASHBOARD_USER is required when DASHBOARD_PASSWORD is set',
    ]);
    const { dashboard } = loadConfig(['dashboard'], {
      DASHBOARD_USER: 'manager',
      DASHBOARD_PASSWORD: 's3cret-pw',
    });
    assert.equal(dashboard.DASHBOARD_PASSWORD?.reveal(), 's3cret-pw');
    assert.doesNotMatch(inspect(dashboard) + JSON.stringify(dashboard), /s3cret-pw/);
  });

  it('take DASHBOARD_PUBLIC_URL as an http(s) URL, unset by default', () => {
    assert.equal(loadConfig(['dashboard'], {}).dashboard.DASHBOARD_PUBLIC_URL, undefined);
    assert.deepEqual(problems({ DASHBOARD_PUBLIC_URL: 'https://potholes.example.org' }), []);
    assert.deepEqual(problems({ DASHBOARD_PUBLIC_URL: 'potholes.example.org' }), [
      'DASHBOARD_PUBLIC_URL must be a URL',
    ]);
    assert.deepEqual(problems({ DASHBOARD_PUBLIC_URL: 'ftp://potholes.example.org' }), [
      'DASHBOARD_PUBLIC_URL must be an http:// or https:// URL',
    ]);
  });

  it('refuse a bind beyond loopback without DASHBOARD_USER, naming both settings, unless changes may be anonymous', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'localhost'])
      assert.deepEqual(problems({ DASHBOARD_HOST: host }), [], host);
    for (const host of ['0.0.0.0', '::', '192.168.10.5', 'dashboard.office']) {
      const found = problems({ DASHBOARD_HOST: host });
      assert.equal(found.length, 1, host);
      assert.match(
        found[0]!,
        new RegExp(
          `^DASHBOARD_USER is required when DASHBOARD_HOST \\(${host.replaceAll('.', '\\.')}\\) is beyond loopback`,
        ),
      );
      assert.match(found[0]!, /DASHBOARD_ALLOW_ANONYMOUS_CHANGES=true/);
    }
    assert.deepEqual(
      problems({ DASHBOARD_HOST: '0.0.0.0', DASHBOARD_USER: 'm', DASHBOARD_PASSWORD: 'p' }),
      [],
    );
    for (const yes of ['true', 'TRUE', 'yes', 'on', '1'])
      assert.deepEqual(
        problems({ DASHBOARD_HOST: '0.0.0.0', DASHBOARD_ALLOW_ANONYMOUS_CHANGES: yes }),
        [],
        yes,
      );
    assert.equal(
      problems({ DASHBOARD_HOST: '0.0.0.0', DASHBOARD_ALLOW_ANONYMOUS_CHANGES: 'false' }).length,
      1,
    );
  });

  it('read DASHBOARD_ALLOW_ANONYMOUS_CHANGES as a yes/no word, false by default, and name any other', () => {
    const allow = (v?: string) =>
      loadConfig(['dashboard'], v === undefined ? {} : { DASHBOARD_ALLOW_ANONYMOUS_CHANGES: v }).dashboard
        .DASHBOARD_ALLOW_ANONYMOUS_CHANGES;
    assert.equal(allow(), false);
    for (const v of ['true', 'Yes', 'on', '1']) assert.equal(allow(v), true, v);
    for (const v of ['false', 'NO', 'off', '0', '']) assert.equal(allow(v), false, v);
    assert.deepEqual(problems({ DASHBOARD_ALLOW_ANONYMOUS_CHANGES: 'maybe' }), [
      'DASHBOARD_ALLOW_ANONYMOUS_CHANGES must be true or false (yes/no, on/off, 1/0), got "maybe"',
    ]);
  });
});
