/** Running the reference Spark jobs from tests: the stack's SPARK_HOME, spark-submit, parquet read-back. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { loadConfig } from '../../../src/config';
import { listKeys } from '../../../src/demo/s3-sync';
import { createS3Client } from '../../../src/activities/aws-clients';
import { QUICK_SPARK_CONFS } from '../../support/quick-spark';

const REPO = path.join(__dirname, '../../..');
export const SPARK_DIR = path.join(REPO, 'spark');

export { stackEnv } from '../../support/stack';

export function s3ClientFor(env: Record<string, string | undefined>): S3Client {
  return createS3Client(loadConfig(['aws'], env).aws);
}

/** A date no other test uses: far in the future, random. */
export function uniqueDate(): string {
  const year = 2100 + Math.floor(Math.random() * 800);
  const month = 1 + Math.floor(Math.random() * 12);
  const day = 1 + Math.floor(Math.random() * 28);
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

export interface ProcessResult {
  code: number | null;
  output: string;
  seconds: number;
}

export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
) {
  return new Promise<ProcessResult>((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** The job's own log lines (Spark's are noise here). */
export const jobLines = (output: string): string =>
  output
    .split('\n')
    .filter((line) => line.startsWith('[pothole]') || /^usage:|error:/.test(line))
    .join('\n');

export interface SubmitArgs {
  sparkHome: string;
  master: string;
  stage: 'stage1' | 'stage2';
  /** Folder holding stageN/main.py; common.py is taken from stageN/ when there, else from the folder itself. */
  codeDir: string;
  date: string;
  confs: Record<string, string>;
  extra?: string[];
}

/** spark-submit with the command line of the job contract (client mode, --py-files common.py). */
export function sparkSubmit(a: SubmitArgs): Promise<ProcessResult> {
  const stageDir = path.join(a.codeDir, a.stage);
  const common = fs.existsSync(path.join(stageDir, 'common.py'))
    ? path.join(stageDir, 'common.py')
    : path.join(a.codeDir, 'common.py');
  const args = [
    '--master',
    a.master,
    '--deploy-mode',
    'client',
    '--name',
    `pothole-${a.stage}-${a.date}`,
    '--driver-memory',
    '1g',
    '--conf',
    'spark.sql.adaptive.enabled=true',
    ...Object.entries({ ...QUICK_SPARK_CONFS, ...a.confs }).flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
    ...(a.extra ?? []),
    '--py-files',
    common,
    path.join(stageDir, 'main.py'),
    '--env',
    a.stage,
    '--batch-date',
    a.date,
  ];
  return run(path.join(a.sparkHome, 'bin/spark-submit'), args);
}

const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

export interface ParquetColumn {
  type: string | undefined;
  convertedType: string | undefined;
  logicalType: string | undefined;
}

export interface ParquetFiles {
  files: string[];
  rows: Record<string, unknown>[];
  /** Schema of each file, column name → physical/converted/logical type. */
  schemas: Record<string, ParquetColumn>[];
  codecs: Set<string>;
}

function decodeParquet(name: string, bytes: Uint8Array, into: ParquetFiles): Promise<void> {
  const buffer = toArrayBuffer(bytes);
  const meta = parquetMetadata(buffer);
  into.files.push(name);
  into.schemas.push(
    Object.fromEntries(
      meta.schema
        .slice(1)
        .map((el) => [
          el.name,
          { type: el.type, convertedType: el.converted_type, logicalType: el.logical_type?.type },
        ]),
    ),
  );
  for (const group of meta.row_groups) {
    for (const column of group.columns) if (column.meta_data) into.codecs.add(column.meta_data.codec);
  }
  return parquetReadObjects({ file: buffer }).then((rows) => {
    into.rows.push(...rows);
  });
}

/** Every parquet file in a local folder. */
export async function readLocalParquet(dir: string): Promise<ParquetFiles> {
  const out: ParquetFiles = { files: [], rows: [], schemas: [], codecs: new Set() };
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.endsWith('.parquet')) await decodeParquet(name, fs.readFileSync(path.join(dir, name)), out);
  }
  return out;
}

/** Every parquet object under an S3 prefix, read through the SDK. */
export async function readS3Parquet(s3: S3Client, bucket: string, prefix: string): Promise<ParquetFiles> {
  const out: ParquetFiles = { files: [], rows: [], schemas: [], codecs: new Set() };
  for (const key of (await listKeys(s3, bucket, prefix)).sort()) {
    if (!key.endsWith('.parquet')) continue;
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await decodeParquet(key, await object.Body!.transformToByteArray(), out);
  }
  return out;
}

const EARTH_RADIUS_M = 6_371_008.8;

/** The same great-circle distance Stage2 computes. */
export function haversineM(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(Math.min(1, a)));
}

/** Stage2's contract: column name → [physical type, converted type]. */
export const STAGE2_CONTRACT: Record<string, [string, string | undefined]> = {
  s_id: ['BYTE_ARRAY', 'UTF8'],
  date: ['INT32', 'DATE'],
  impact_count: ['INT32', undefined],
  total_count: ['INT32', undefined],
  centroid_lon: ['DOUBLE', undefined],
  centroid_lat: ['DOUBLE', undefined],
};

export const STAGE1_CONTRACT: Record<string, [string, string | undefined]> = {
  timestamp: ['INT64', undefined],
  lon: ['DOUBLE', undefined],
  lat: ['DOUBLE', undefined],
  impact_score: ['DOUBLE', undefined],
  is_pothole: ['INT32', undefined],
};

export const physicalSchema = (
  schema: Record<string, ParquetColumn>,
): Record<string, [string, string | undefined]> =>
  Object.fromEntries(Object.entries(schema).map(([name, c]) => [name, [c.type ?? '?', c.convertedType]]));
