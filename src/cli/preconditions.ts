/** `pothole run --from STEP`: before starting, the stage output that STEP reads must exist in S3. */
import type { AwsConfig, S3Config } from '../config';
import { createS3Client } from '../activities/aws-clients';
import { judgeStageOutput, listAll } from '../activities/s3-checks';
import { UsageError } from './runs';

export async function assertStageOutput(
  config: { aws: AwsConfig; s3: S3Config },
  stage: 'stage1' | 'stage2',
  batchDate: string,
): Promise<void> {
  const prefix = stage === 'stage1' ? config.s3.S3_STAGE1_OUTPUT_PREFIX : config.s3.S3_STAGE2_OUTPUT_PREFIX;
  const folder = `${prefix}/dt=${batchDate}/`;
  const s3 = createS3Client(config.aws);
  try {
    const listed = await listAll(s3, config.s3.S3_BUCKET, folder);
    const verdict = judgeStageOutput(
      listed.filter((o) => o.Key).map((o) => ({ key: o.Key!.slice(folder.length), size: o.Size ?? 0 })),
    );
    if (!verdict.ok) {
      throw new UsageError(
        `cannot start there: ${stage} output s3://${config.s3.S3_BUCKET}/${folder} is not usable (${verdict.detail}); ` +
          `run ${stage === 'stage1' ? 'from run_stage1' : 'from run_stage2'} or the whole pipeline instead`,
      );
    }
  } finally {
    s3.destroy();
  }
}
