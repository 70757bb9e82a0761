/** The dashboard's settings: defaults, the tile URL, and the login that comes as a pair. */
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
});
