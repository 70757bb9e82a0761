/** The Stage2 output in S3, as load_to_rdb reads it: the date folder's part files, and byte ranges of them. */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { isDataFile, type Stage2Object } from './contract';

/** Every object under the prefix (counted) and its part files (`_`/`.` folders excluded), in key order. */
export async function listStage2Objects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  signal: AbortSignal,
): Promise<{ all: number; data: Stage2Object[] }> {
  const data: Stage2Object[] = [];
  let all = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      { abortSignal: signal },
    );
    for (const o of page.Contents ?? []) {
      all++;
      // Judged below the date's folder only: the configured prefix may itself contain `_` or `.`.
      if (o.Key?.startsWith(prefix) && isDataFile(o.Key.slice(prefix.length))) {
        data.push({ key: o.Key, size: o.Size ?? 0 });
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  data.sort((a, b) => a.key.localeCompare(b.key));
  return { all, data };
}

/** One ranged GET, returned in an ArrayBuffer of its own so it can be transferred to the decoder. */
export async function readRange(
  s3: S3Client,
  bucket: string,
  key: string,
  start: number,
  end: number,
  signal: AbortSignal,
): Promise<ArrayBuffer> {
  const res = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
    { abortSignal: signal },
  );
  if (!res.Body) throw new Error(`empty body reading s3://${bucket}/${key}`);
  // Straight into one buffer of the exact size: no collected copy to linger in this thread's memory.
  const target = new Uint8Array(end - start);
  let at = 0;
  for await (const chunk of res.Body as AsyncIterable<Uint8Array>) {
    if (at + chunk.length > target.length) throw new Error(`s3://${bucket}/${key} sent more than was asked`);
    target.set(chunk, at);
    at += chunk.length;
  }
  if (at !== target.length) {
    throw new Error(`short read of s3://${bucket}/${key}: ${at} of ${target.length} bytes from ${start}`);
  }
  return target.buffer;
}
