/** Stage2 output in S3 the way Spark lays it out: snappy Parquet part files and a _SUCCESS marker. */
import type { S3Client } from '@aws-sdk/client-s3';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { stage2ColumnsFromRows, writeStage2Parquet, type Stage2Row } from '../../bench/stage2-parquet';

/** `count` distinct, valid segments of one date, SEG_<from>… */
export function stage2Segments(date: string, count: number, from = 0): Stage2Row[] {
  return Array.from({ length: count }, (_, i) => ({
    s_id: `SEG_${String(from + i).padStart(5, '0')}`,
    date,
    impact_count: (from + i) % 7,
    total_count: 10 + ((from + i) % 13),
    centroid_lon: 126.9 + (from + i) / 100_000,
    centroid_lat: 37.5 + (from + i) / 100_000,
  }));
}

/** Writes the rows under `dayPrefix` (`<prefix>/dt=<date>/`) as `parts` part files, then _SUCCESS. */
export async function putStage2Output(
  s3: S3Client,
  bucket: string,
  dayPrefix: string,
  rows: Stage2Row[],
  parts = 3,
): Promise<string[]> {
  const keys: string[] = [];
  const size = Math.ceil(rows.length / parts);
  for (let p = 0; p < parts; p++) {
    const slice = rows.slice(p * size, (p + 1) * size);
    const key = `${dayPrefix}part-${String(p).padStart(5, '0')}-0a1b2c3d.c000.snappy.parquet`;
    const body = writeStage2Parquet(stage2ColumnsFromRows(slice), { rowGroupSize: 40 });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    keys.push(key);
  }
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${dayPrefix}_SUCCESS`, Body: '' }));
  return keys;
}
