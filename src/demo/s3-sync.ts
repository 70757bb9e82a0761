import {
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

export interface UploadObject {
  key: string;
  body: Uint8Array | string;
  contentType: string;
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const result = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new Error(
        `could not delete ${failed.length} object(s) under s3://${bucket}/, e.g. ${first.Key}: ${first.Code} ${first.Message}`,
      );
    }
  }
}

/**
 * Makes `prefix` hold exactly `objects`: uploads them, then removes whatever else was there
 * (part files of an earlier, larger upload), so a rerun never leaves a mix of old and new.
 */
export async function replacePrefix(
  s3: S3Client,
  bucket: string,
  prefix: string,
  objects: readonly UploadObject[],
): Promise<{ uploaded: string[]; deleted: string[] }> {
  const outside = objects.find((o) => !o.key.startsWith(prefix));
  if (outside) throw new Error(`internal error: ${outside.key} is not under ${prefix}`);
  for (const object of objects) {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: object.key,
        Body: object.body,
        ContentType: object.contentType,
      }),
    );
  }
  const wanted = new Set(objects.map((o) => o.key));
  const stale = (await listKeys(s3, bucket, prefix)).filter((key) => !wanted.has(key));
  await deleteKeys(s3, bucket, stale);
  return { uploaded: objects.map((o) => o.key), deleted: stale };
}

export const joinKey = (...parts: string[]): string =>
  parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/');
