/**
 * Shared setup of the serving-layer integration tests: the local stack's settings, a throwaway
 * PostgreSQL database per test file (migrated), and a unique S3 prefix per test file.
 */
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { loadConfig, type Config } from '../../../src/config';
import { createS3Client } from '../../../src/activities/aws-clients';
import { stackEnv } from '../../support/stack';
import { uniqueSuffix, type ThrowawayDatabase } from '../../support/database';

export { stackEnv };
export { createThrowawayDatabase, type ThrowawayDatabase } from '../../support/database';

export function s3ClientFor(env = stackEnv()): S3Client {
  return createS3Client(loadConfig(['aws'], env).aws);
}

/** The s3 section with a Stage2 prefix of its own, so files never meet another test's objects. */
export function s3ConfigWithUniquePrefix(env = stackEnv()): Config['s3'] {
  const { s3 } = loadConfig(['s3'], env);
  return { ...s3, S3_STAGE2_OUTPUT_PREFIX: `test-stage2-${uniqueSuffix()}` };
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: Uint8Array | string) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length > 0)
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Runs an activity function in a real activity context, as a worker would. */
export function runActivity<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, ...args);
}

export function stepInput(batchDate: string) {
  return { batchDate, workflowId: `pothole-pipeline-${batchDate}`, runId: `run-${uniqueSuffix()}` };
}

/** Creates the day partition so tests can seed pothole_segments with plain INSERTs. */
export async function ensureDayPartition(pool: pg.Pool, date: string): Promise<void> {
  const name = `pothole_segments_${date.replaceAll('-', '')}`;
  const next = new Date(`${date}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF pothole_segments
       FOR VALUES FROM ('${date}') TO ('${next.toISOString().slice(0, 10)}')`,
  );
}

export async function insertSegments(
  pool: pg.Pool,
  rows: {
    s_id: string;
    date: string;
    impact_count: number;
    total_count: number;
    lon?: number;
    lat?: number;
  }[],
): Promise<void> {
  for (const date of new Set(rows.map((r) => r.date))) await ensureDayPartition(pool, date);
  for (const r of rows) {
    await pool.query(
      `INSERT INTO pothole_segments (s_id, date, impact_count, total_count, centroid_lon, centroid_lat)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [r.s_id, r.date, r.impact_count, r.total_count, r.lon ?? 127.0, r.lat ?? 37.5],
    );
  }
}

/** The day tables of pothole_segments (attached or not), by name. */
export async function dayTables(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relkind = 'r' AND relname ~ '^pothole_segments_[0-9]{8}$'
      ORDER BY relname`,
  );
  return rows.map((r) => r.name);
}

/** A connection of its own to the database (outside the pool), e.g. to hold a transaction open as a reader would. */
export async function connectClient(config: ThrowawayDatabase['config']): Promise<pg.Client> {
  const client = new pg.Client({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password?.reveal(),
    database: config.database,
  });
  await client.connect();
  return client;
}
