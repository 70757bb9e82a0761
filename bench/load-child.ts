/**
 * One load_to_rdb for bench/load.ts, in a process of its own so that its peak RSS is the load's: the
 * activity runs in a real activity context (@temporalio/testing's MockActivityEnvironment, which loads
 * the worker SDK as a worker process would), and nothing of the benchmark's own data is in memory.
 * Prints one JSON line: seconds, rows, maxRssMB, phaseSeconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadConfig, readEnv } from '../src/config';
import { createLoadActivities } from '../src/activities/load';
import { createPool } from '../src/db/pool';

export interface ChildSpec {
  database: string;
  prefix: string;
  date: string;
}

/** Where a load spent its time, as load_to_rdb logs it. */
let phaseSeconds: Record<string, number> | undefined;

/** Warnings and errors only: the figures are the output. */
const quietLogger: Logger = {
  log: (level, message, meta) => {
    if (level === 'WARN' || level === 'ERROR') console.error(level, message, meta ?? '');
  },
  trace: () => undefined,
  debug: () => undefined,
  info: (message, meta) => {
    if (message === 'Stage2 output loaded') phaseSeconds = meta?.phaseSeconds as typeof phaseSeconds;
  },
  warn: (message, meta) => console.error('WARN', message, meta ?? ''),
  error: (message, meta) => console.error('ERROR', message, meta ?? ''),
};

/**
 * The peak RSS of this process image (VmHWM). Not getrusage's maxRSS: that also counts the copy of the
 * benchmark's own memory the child was forked with before exec, GBs at 10M generated rows.
 */
function peakRssMB(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : process.resourceUsage().maxRSS / 1024;
}

// ---- child: one load_to_rdb, reporting its time and its process's peak RSS --------------------------

async function runChild(spec: ChildSpec): Promise<void> {
  const e = readEnv({
    ...process.env,
    POTHOLE_ENV_FILE: process.env.POTHOLE_ENV_FILE ?? path.join(__dirname, '../.stack/env'),
  });
  const { aws } = loadConfig(['aws'], e);
  const client = new S3Client({
    region: aws.AWS_REGION,
    endpoint: aws.AWS_ENDPOINT_URL,
    forcePathStyle: true,
    credentials:
      e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY }
        : undefined,
  });
  const { s3, postgres, kakao } = loadConfig(['s3', 'postgres', 'kakao'], e);
  const pool = createPool({ ...postgres, connectionString: undefined, database: spec.database });
  const { load_to_rdb } = createLoadActivities({
    s3: client,
    pool,
    config: {
      s3: { ...s3, S3_STAGE2_OUTPUT_PREFIX: spec.prefix },
      kakao: { ...kakao, KAKAO_REST_API_KEY: undefined },
      postgres,
    },
  });
  const before = process.memoryUsage();
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as (keyof typeof peak)[])
      peak[k] = Math.max(peak[k], Math.round(m[k] / 1048576));
  }, 50);
  const started = process.hrtime.bigint();
  const result = await new MockActivityEnvironment(undefined, { logger: quietLogger }).run(load_to_rdb, {
    batchDate: spec.date,
    workflowId: 'bench',
    runId: 'bench',
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  if (process.env.BENCH_TRACE_MEMORY) console.error('peak memory (MB)', peak, 'before', before);
  await pool.end();
  client.destroy();
  const maxRssMB = peakRssMB();
  process.stdout.write(
    JSON.stringify({ seconds, rows: (result as { rowsLoaded: number }).rowsLoaded, maxRssMB, phaseSeconds }) +
      '\n',
  );
}

if (require.main === module) {
  runChild(JSON.parse(process.argv[2] ?? '{}') as ChildSpec).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
