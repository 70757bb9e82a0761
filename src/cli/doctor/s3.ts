/**
 * Checks 5 and 6: the Spark job code of both stages is where download_code fetches it (entry files included),
 * and the raw input prefix can be listed, with yesterday's (Asia/Seoul) object count under its dt= folder.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import type { S3Config, SparkConfig } from '../../config';
import { listAll } from '../../activities/s3-checks';
import { createCodeControl } from '../../activities/spark/code';
import type { SparkContext } from '../../activities/spark/context';
import { yesterdayInSeoul } from '../../shared/steps';
import { ok, problem, type Check, type CheckResult } from './check';
import { CREDENTIALS_FIX, credentialProblem, shortAwsMessage } from './aws-errors';

const CODE = 'spark job code';
const INPUT = 'input data';
const S3_FIX = 'check AWS_REGION and AWS_ENDPOINT_URL, and that S3 can be reached from here';

/**
 * download_code's own listing and validation of the job code (both stages, entry files present). It only
 * reads the S3 client and the s3 and spark settings of the Spark context, so the rest is left out.
 */
function listJobCode(s3: S3Client, config: { s3: S3Config; spark: SparkConfig }, signal: AbortSignal) {
  const ctx = { s3, spark: config.spark, config } as unknown as SparkContext;
  return createCodeControl(ctx).listCode(signal);
}

/** An S3 error that the configuration or the credentials explain; undefined for anything else. */
function s3Problem(name: string, bucket: string, err: unknown): CheckResult | undefined {
  const code = (err as { name?: string }).name;
  if (code === 'NoSuchBucket') {
    return problem(name, `the bucket ${bucket} does not exist`, 'fix S3_BUCKET (and AWS_REGION)');
  }
  if (credentialProblem(err)) {
    return problem(name, `listing s3://${bucket} refused: ${shortAwsMessage(err)}`, CREDENTIALS_FIX);
  }
  return undefined;
}

export const sparkCodeCheck: Check = {
  name: CODE,
  needs: ['aws', 's3', 'spark'],
  unreachableFix: S3_FIX,
  async run(ctx, signal) {
    const s3Config = ctx.section('s3');
    try {
      const { files, source } = await listJobCode(
        ctx.s3(),
        { s3: s3Config, spark: ctx.section('spark') },
        signal,
      );
      const perStage = ['stage1', 'stage2'].map(
        (stage) => `${stage} ${files.filter((f) => f.rel.startsWith(`${stage}/`)).length} file(s)`,
      );
      return [ok(CODE, `${source}: ${perStage.join(', ')}, entry files present`)];
    } catch (err) {
      if (err instanceof ApplicationFailure) {
        return [
          problem(
            CODE,
            err.message,
            'upload the jobs: pothole deploy-code spark (a folder holding stage1/ and stage2/)',
          ),
        ];
      }
      const known = s3Problem(CODE, s3Config.S3_BUCKET, err);
      if (known) return [known];
      throw err;
    }
  },
};

export const inputCheck: Check = {
  name: INPUT,
  needs: ['aws', 's3'],
  unreachableFix: S3_FIX,
  async run(ctx, signal) {
    const { S3_BUCKET: bucket, S3_RAW_DATA_PREFIX: prefix } = ctx.section('s3');
    const folder = prefix ? `${prefix}/` : '';
    const where = `s3://${bucket}/${folder}`;
    const s3 = ctx.s3();
    try {
      const first = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, MaxKeys: 1 }), {
        abortSignal: signal,
      });
      if (!first.KeyCount) {
        return [
          problem(
            INPUT,
            `${where} can be listed but holds no objects`,
            'fix S3_RAW_DATA_PREFIX (the sensor files live under <prefix>/dt=YYYY-MM-DD/)',
          ),
        ];
      }
      const date = yesterdayInSeoul(new Date());
      const day = (await listAll(s3, bucket, `${folder}dt=${date}/`, signal)).filter(
        (o) => o.Key && !o.Key.endsWith('/') && (o.Size ?? 0) > 0,
      );
      const bytes = day.reduce((n, o) => n + (o.Size ?? 0), 0);
      return [
        ok(
          INPUT,
          `${where} readable; ${day.length ? `${day.length} object(s), ${bytes} bytes` : 'nothing yet'} ` +
            `for ${date} (yesterday in Asia/Seoul)`,
        ),
      ];
    } catch (err) {
      const known = s3Problem(INPUT, bucket, err);
      if (known) return [known];
      throw err;
    }
  },
};
