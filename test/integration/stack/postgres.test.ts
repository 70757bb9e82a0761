import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { stackConfig, stackValue, uniqueName } from '../../support/stack';

function appClient(): pg.Client {
  const { postgres } = stackConfig(['postgres']);
  return new pg.Client({
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: postgres.password?.reveal(),
    database: postgres.database,
    connectionTimeoutMillis: 5_000,
  });
}

test('pothole_user logs in to road_safety on PostgreSQL 15 and owns what it creates', async () => {
  const client = appClient();
  await client.connect();
  const schema = uniqueName('stack_smoke').replace(/-/g, '_');
  try {
    const who = await client.query<{ user: string; db: string; version: string }>(
      `SELECT current_user AS user, current_database() AS db, current_setting('server_version_num') AS version`,
    );
    assert.deepEqual(
      { user: who.rows[0]!.user, db: who.rows[0]!.db, major: who.rows[0]!.version.slice(0, 2) },
      { user: 'pothole_user', db: 'road_safety', major: '15' },
    );

    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`CREATE TABLE ${schema}.potholes (s_id text PRIMARY KEY, impact_count int NOT NULL)`);
    await client.query(`INSERT INTO ${schema}.potholes VALUES ($1, $2), ($3, $4)`, ['a', 3, 'b', 5]);
    const sum = await client.query<{ total: number }>(
      `SELECT sum(impact_count)::int AS total FROM ${schema}.potholes`,
    );
    assert.equal(sum.rows[0]!.total, 8);
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
});

test('a wrong password is refused (the server checks credentials on TCP)', async () => {
  const { postgres } = stackConfig(['postgres']);
  const client = new pg.Client({
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: 'not-the-password',
    database: postgres.database,
    connectionTimeoutMillis: 5_000,
  });
  await assert.rejects(client.connect(), /password authentication failed/);
});

test('POSTGRES_ADMIN_URL can create and drop a throwaway database owned by pothole_user', async () => {
  const admin = new pg.Client({ connectionString: stackValue('POSTGRES_ADMIN_URL') });
  await admin.connect();
  const name = uniqueName('stack_smoke_db').replace(/-/g, '_');
  try {
    const su = await admin.query<{ rolsuper: boolean }>(
      'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
    );
    assert.equal(su.rows[0]!.rolsuper, true);
    await admin.query(`CREATE DATABASE ${name} OWNER pothole_user`);
    const owner = await admin.query<{ owner: string }>(
      'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
      [name],
    );
    assert.equal(owner.rows[0]!.owner, 'pothole_user');
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  }
});
