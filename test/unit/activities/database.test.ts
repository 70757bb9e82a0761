import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { Secret, type PostgresConfig } from '../../../src/config';
import { asDatabaseFailure, databaseLabel, isDatabaseUnavailable } from '../../../src/activities/database';

const config: PostgresConfig = {
  connectionString: undefined,
  host: 'db.internal',
  port: 5433,
  user: 'pothole_user',
  password: new Secret('hunter2'),
  database: 'road_safety',
  loadMaintenanceWorkMem: '256MB',
  history: { keepDays: 400, repairCheckDays: 14, repairCheckMinTraffic: 200, repairEffectMinDropPercent: 70 },
};
const netError = (code: string, port: number) =>
  Object.assign(new Error(`connect ${code} 10.0.0.5:${port}`), { code, port, syscall: 'connect' });

describe('database outages', () => {
  test('the database is named host:port/db, from DATABASE_URL without its password too', () => {
    assert.equal(databaseLabel(config), 'db.internal:5433/road_safety');
    const url = { ...config, connectionString: new Secret('postgres://u:hunter2@pg.example:6543/serving') };
    assert.equal(databaseLabel(url), 'pg.example:6543/serving');
  });

  test('refused connections, shutdowns and dropped sockets are outages; other errors are not', () => {
    assert.ok(isDatabaseUnavailable(netError('ECONNREFUSED', 5433), config));
    assert.ok(
      isDatabaseUnavailable(Object.assign(new Error('terminating connection'), { code: '57P01' }), config),
    );
    assert.ok(isDatabaseUnavailable(Object.assign(new Error('starting up'), { code: '57P03' }), config));
    assert.ok(isDatabaseUnavailable(Object.assign(new Error('x'), { code: '08006' }), config));
    assert.ok(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'), config));
    assert.ok(!isDatabaseUnavailable(netError('ECONNREFUSED', 4566), config), 'S3 is not the database');
    assert.ok(!isDatabaseUnavailable(Object.assign(new Error('dup'), { code: '23505' }), config));
    assert.ok(!isDatabaseUnavailable(new Error('boom'), config));
  });

  test('an outage becomes a retryable failure naming the database and never the password', () => {
    const f = asDatabaseFailure(netError('ECONNREFUSED', 5433), config);
    assert.ok(f instanceof ApplicationFailure);
    assert.equal(f.nonRetryable, false);
    assert.equal(f.type, 'DatabaseUnavailable');
    assert.match(
      f.message,
      /^PostgreSQL db\.internal:5433\/road_safety is unavailable: connect ECONNREFUSED/,
    );
    assert.doesNotMatch(f.message, /hunter2/);
    const business = ApplicationFailure.nonRetryable('bad data', 'Stage2ContractError');
    assert.equal(asDatabaseFailure(business, config), business);
  });

  test('an error no retry can fix fails at once, naming the database; a deadlock is left to the retries', () => {
    const missing = Object.assign(new Error('relation "pothole_segments" does not exist'), { code: '42P01' });
    const f = asDatabaseFailure(missing, config);
    assert.ok(f instanceof ApplicationFailure);
    assert.equal(f.nonRetryable, true);
    assert.equal(f.type, 'DatabaseError');
    assert.match(f.message, /^PostgreSQL db\.internal:5433\/road_safety: relation .* \(SQLSTATE 42P01\)$/);
    const login = asDatabaseFailure(
      Object.assign(new Error('password authentication failed'), { code: '28P01' }),
      config,
    );
    assert.equal((login as ApplicationFailure).nonRetryable, true);
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    assert.equal(asDatabaseFailure(deadlock, config), deadlock);
  });
});
