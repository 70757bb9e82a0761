/**
 * Long stages on the small demo dataset: the reference Spark code deployed to a code prefix of its own, with
 * test/fixtures/spark/held_main.py beside each stage's main.py, and the settings that make a stage's entry wait
 * the given seconds before it starts (a fault can then be injected while the stage runs).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { uploadSparkCode } from '../../src/demo/upload';
import { REPO_ROOT, stackEnv, stackS3Client, uniqueName } from './stack';

const HELD_MAIN = path.join(REPO_ROOT, 'test/fixtures/spark/held_main.py');

/**
 * How long a stage is held: for every date, or only for the dates listed; `once`: only the date's first driver
 * (one started again for the date, after a reset or a retry, runs at once).
 */
export type Hold = number | { seconds: number; dates: string[]; once?: boolean };

/** Deploys the code; returns the settings (S3_CODE_PREFIX, SPARK_STAGEn_ENTRY/ARGS) for the held stages. */
export async function deployHeldStages(hold: {
  stage1?: Hold;
  stage2?: Hold;
}): Promise<Record<string, string>> {
  const env = stackEnv();
  const bucket = env.S3_BUCKET!;
  const deployment = uniqueName('test-held-stages');
  const codePrefix = `${deployment}/code`;
  const s3 = stackS3Client(env);
  try {
    await uploadSparkCode({ s3, bucket, codePrefix, dir: path.join(REPO_ROOT, 'spark') });
    const settings: Record<string, string> = { S3_CODE_PREFIX: codePrefix };
    for (const stage of ['stage1', 'stage2'] as const) {
      const h = hold[stage];
      if (h === undefined) continue;
      const { seconds, dates, once } =
        typeof h === 'number' ? { seconds: h, dates: undefined, once: false } : h;
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${codePrefix}/${stage}/held_main.py`,
          Body: fs.readFileSync(HELD_MAIN),
        }),
      );
      const n = stage.slice(-1);
      settings[`SPARK_STAGE${n}_ENTRY`] = 'held_main.py';
      settings[`SPARK_STAGE${n}_ARGS`] =
        `--env {stage} --batch-date {batchDate} --hold-seconds ${seconds}` +
        (dates ? ` --hold-dates ${dates.join(',')}` : '') +
        (once ? ` --hold-once ${deployment}` : '');
    }
    return settings;
  } finally {
    s3.destroy();
  }
}
