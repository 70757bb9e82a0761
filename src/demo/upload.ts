/**
 * Puts the demo's inputs where the pipeline reads them (`pothole demo-data DATE`) and the Spark job
 * code where download_code fetches it (`pothole deploy-code DIR`).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { generateDemoData, ROAD_NETWORK_KEY, type DemoDataOptions, type DemoDataStats } from './data';
import { joinKey, replacePrefix } from './s3-sync';
import { uploadSparkCode as uploadSparkCodeTree, type UploadSparkCodeResult } from './spark-code';

export interface UploadDemoDataResult {
  date: string;
  /** Readings uploaded (all of them, including those Stage1's context filter will drop). */
  readings: number;
  /** s3://bucket/<raw prefix>/dt=<date>/ */
  rawPath: string;
  rawKeys: string[];
  /** Part files of an earlier upload for the date that are gone now. */
  deletedKeys: string[];
  roadNetworkPath: string;
  segments: number;
  potholeSegmentIds: string[];
  stats: DemoDataStats;
}

/**
 * Generates the date's data and uploads it: the readings under <raw prefix>/dt=<date>/ (replacing
 * whatever was there) and the road network at ROAD_NETWORK_KEY, where config_stage2.json expects it.
 */
export async function uploadDemoData(args: {
  s3: S3Client;
  bucket: string;
  rawPrefix: string;
  date: string;
  options?: DemoDataOptions;
}): Promise<UploadDemoDataResult> {
  const data = generateDemoData(args.date, args.options);
  const datePrefix = `${joinKey(args.rawPrefix, `dt=${data.date}`)}/`;
  // The road network first: a raw partition is what marks a date as ready for the pipeline.
  await args.s3.send(
    new PutObjectCommand({
      Bucket: args.bucket,
      Key: ROAD_NETWORK_KEY,
      Body: data.roadNetworkCsv,
      ContentType: 'text/csv; charset=utf-8',
    }),
  );
  const { uploaded, deleted } = await replacePrefix(
    args.s3,
    args.bucket,
    datePrefix,
    data.readingParts.map((part) => ({
      key: datePrefix + part.name,
      body: part.body,
      contentType: 'application/vnd.apache.parquet',
    })),
  );
  return {
    date: data.date,
    readings: data.stats.readings,
    rawPath: `s3://${args.bucket}/${datePrefix}`,
    rawKeys: uploaded,
    deletedKeys: deleted,
    roadNetworkPath: `s3://${args.bucket}/${ROAD_NETWORK_KEY}`,
    segments: data.roadNetwork.length,
    potholeSegmentIds: data.potholeSegmentIds,
    stats: data.stats,
  };
}

export type UploadedCodeFile = UploadSparkCodeResult['uploaded'][number];

/**
 * Uploads DIR/stage1 and DIR/stage2 (each with its --py-files) to <code prefix>/stage1/ and stage2/,
 * removing files of an earlier deploy that are gone locally. Returns the uploaded files.
 */
export async function uploadSparkCode(
  args: Parameters<typeof uploadSparkCodeTree>[0],
): Promise<UploadedCodeFile[]> {
  return (await uploadSparkCodeTree(args)).uploaded;
}
