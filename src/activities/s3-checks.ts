/**
 * check_s3_input, check_s3_stage1_out, check_s3_stage2_out: is the day's data where the next step expects it?
 *
 * Rules, under `<prefix>/dt=<date>/` (any depth):
 * - input: at least one non-empty object.
 * - stage outputs: at least one non-empty `.parquet` data file (paths with a segment starting with `_` or `.`
 *   are not data, as Spark itself treats them).
 *   Spark writes `_SUCCESS` when the job committed; it is reported when present. A `_temporary/` directory
 *   WITHOUT `_SUCCESS` means a write that never committed (still running, or a driver that died half way):
 *   the output is incomplete and the check fails, even if some part files are already there, because with
 *   the FileOutputCommitter on S3 a crashed job can leave some of its final files behind.
 *   `_temporary/` WITH `_SUCCESS` is a committed job whose clean-up failed: accepted, with a warning.
 *   No `_SUCCESS` and no `_temporary/` is accepted (producers configured without the marker).
 *
 * Missing or incomplete data is a business error: non-retryable, naming the s3:// path and what to do.
 * Suggested activity options: startToCloseTimeout 2 min, retry 3 attempts (1 s → 10 s backoff) for S3
 * hiccups; these checks are fast and need no heartbeat.
 */
import { ListObjectsV2Command, type S3Client, type _Object } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { S3Config } from '../config';
import type { S3CheckResult, StepInput } from '../shared/types';
import { validateBatchDate } from '../shared/steps';
import { isDataFile } from './load/contract';

export interface S3CheckDeps {
  s3: S3Client;
  config: { s3: S3Config };
}

/** Every object under a prefix (ListObjectsV2, all pages). */
export async function listAll(s3: S3Client, bucket: string, prefix: string, signal?: AbortSignal) {
  const objects: _Object[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      { abortSignal: signal },
    );
    objects.push(...(page.Contents ?? []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

export type OutputVerdict =
  | { ok: true; dataFiles: _Object[]; successMarker: boolean; warnings: string[] }
  | { ok: false; problem: 'empty' | 'no-parquet' | 'incomplete'; detail: string };

/** Pure decision on a listing of `<prefix>/dt=<date>/` (keys relative to that folder). */
export function judgeStageOutput(objects: { key: string; size: number }[]): OutputVerdict {
  const successMarker = objects.some((o) => o.key === '_SUCCESS');
  const temporary = objects.some((o) => o.key.startsWith('_temporary/'));
  const parquet = objects.filter((o) => isDataFile(o.key) && o.size > 0);
  if (objects.length === 0) return { ok: false, problem: 'empty', detail: 'there are no objects' };
  if (temporary && !successMarker) {
    return {
      ok: false,
      problem: 'incomplete',
      detail:
        `it has a _temporary/ folder and no _SUCCESS marker (${parquet.length} parquet file(s)): ` +
        'the Spark write never committed (still running, or its driver died)',
    };
  }
  if (parquet.length === 0) {
    const others = objects.length;
    return {
      ok: false,
      problem: 'no-parquet',
      detail: `it has ${others} object(s) but no non-empty .parquet data file`,
    };
  }
  const warnings: string[] = [];
  if (temporary)
    warnings.push('a _temporary/ folder was left behind next to _SUCCESS (committed; clean-up failed)');
  return {
    ok: true,
    dataFiles: parquet.map((p) => ({ Key: p.key, Size: p.size })),
    successMarker,
    warnings,
  };
}

type Kind = 'input' | 'stage1' | 'stage2';

export function createS3CheckActivities(deps: S3CheckDeps) {
  const { s3, config } = deps;
  const bucket = config.s3.S3_BUCKET;
  const prefixes: Record<Kind, string> = {
    input: config.s3.S3_RAW_DATA_PREFIX,
    stage1: config.s3.S3_STAGE1_OUTPUT_PREFIX,
    stage2: config.s3.S3_STAGE2_OUTPUT_PREFIX,
  };

  async function check(kind: Kind, input: StepInput): Promise<S3CheckResult> {
    const date = validateBatchDate(input.batchDate);
    if (typeof date !== 'string') throw ApplicationFailure.nonRetryable(date.error, 'InvalidBatchDate');
    const folder = `${prefixes[kind] ? `${prefixes[kind]}/` : ''}dt=${date}/`;
    const path = `s3://${bucket}/${folder}`;
    let listed: _Object[];
    try {
      listed = await listAll(s3, bucket, folder);
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchBucket') {
        throw ApplicationFailure.nonRetryable(
          `S3 bucket ${bucket} does not exist (checking ${path}): fix S3_BUCKET`,
          'BadConfiguration',
        );
      }
      throw err;
    }
    const objects = listed
      .filter((o) => o.Key && !o.Key.endsWith('/'))
      .map((o) => ({ key: o.Key!.slice(folder.length), size: o.Size ?? 0 }));

    if (kind === 'input') {
      const data = objects.filter((o) => o.size > 0);
      if (data.length === 0) {
        throw ApplicationFailure.nonRetryable(
          `No input data for ${date}: ${path} ` +
            (objects.length ? `holds only ${objects.length} empty object(s)` : 'is empty or does not exist') +
            `. Upload the day's sensor files there, then start the run for ${date} again.`,
          'MissingInput',
        );
      }
      const result: S3CheckResult = {
        path,
        objects: data.length,
        bytes: data.reduce((n, o) => n + o.size, 0),
        successMarker: objects.some((o) => o.key === '_SUCCESS'),
      };
      log.info(`input present: ${result.objects} object(s), ${result.bytes} bytes at ${path}`);
      return result;
    }

    const verdict = judgeStageOutput(objects);
    const step = kind === 'stage1' ? 'run_stage1' : 'run_stage2';
    if (!verdict.ok) {
      throw ApplicationFailure.nonRetryable(
        `${kind} output for ${date} is ${verdict.problem === 'incomplete' ? 'incomplete' : 'missing'}: ` +
          `${path} ${verdict.problem === 'empty' ? 'is empty or does not exist' : verdict.detail}. ` +
          `Check the ${step} driver output in this run's history, then rerun ${date} from ${step}.`,
        verdict.problem === 'incomplete' ? 'IncompleteStageOutput' : 'MissingStageOutput',
      );
    }
    for (const w of verdict.warnings) log.warn(`${path}: ${w}`);
    const result: S3CheckResult = {
      path,
      objects: verdict.dataFiles.length,
      bytes: verdict.dataFiles.reduce((n, o) => n + (o.Size ?? 0), 0),
      successMarker: verdict.successMarker,
    };
    log.info(
      `${kind} output present: ${result.objects} parquet file(s), ${result.bytes} bytes at ${path}` +
        (result.successMarker ? ' (_SUCCESS)' : ' (no _SUCCESS marker)'),
    );
    return result;
  }

  return {
    check_s3_input: (input: StepInput) => check('input', input),
    check_s3_stage1_out: (input: StepInput) => check('stage1', input),
    check_s3_stage2_out: (input: StepInput) => check('stage2', input),
  };
}
