/** The real outside-system clients, built from validated configuration. Tests build the same from the local stack. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import type { AwsConfig } from '../config';

function awsOptions(aws: AwsConfig) {
  const credentials =
    aws.AWS_ACCESS_KEY_ID && aws.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: aws.AWS_ACCESS_KEY_ID,
          secretAccessKey: aws.AWS_SECRET_ACCESS_KEY.reveal(),
          sessionToken: aws.AWS_SESSION_TOKEN?.reveal(),
        }
      : undefined; // the SDK's default chain: instance profile, ~/.aws, SSO
  return { region: aws.AWS_REGION, ...(credentials ? { credentials } : {}) };
}

export function createS3Client(aws: AwsConfig): S3Client {
  return new S3Client({
    ...awsOptions(aws),
    // S3-compatible endpoints (moto, MinIO) need path-style addressing.
    ...(aws.AWS_ENDPOINT_URL ? { endpoint: aws.AWS_ENDPOINT_URL, forcePathStyle: true } : {}),
  });
}

export function createEc2Client(aws: AwsConfig): EC2Client {
  return new EC2Client({
    ...awsOptions(aws),
    ...(aws.AWS_ENDPOINT_URL ? { endpoint: aws.AWS_ENDPOINT_URL } : {}),
  });
}
