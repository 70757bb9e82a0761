/**
 * Deploys Spark job code to where download_code fetches it: s3://<bucket>/<code prefix>/stage1/ and stage2/.
 * Everything in a stage folder is uploaded; the configured entry and --py-files must be among it.
 *
 * The repository keeps ONE common.py at the top of the jobs folder; it is copied into both stage folders
 * here, because each stage is downloaded and submitted on its own (`--py-files <dir>/stageN/common.py`).
 * The same holds for any --py-file kept at the top of DIR. A stage folder may carry its own copy instead;
 * if both exist they must be identical, so a stale copy can never be deployed silently.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  DEFAULT_STAGE_SETTINGS,
  isReferenceLayout,
  stageJobFiles,
  type SparkStageSettings,
} from '../config/spark-stages';
import { joinKey, replacePrefix, type UploadObject } from './s3-sync';

export const STAGES = ['stage1', 'stage2'] as const;
export type Stage = (typeof STAGES)[number];

export interface SparkCodeFile {
  stage: Stage;
  /** Path inside the stage folder, with forward slashes, e.g. main.py. */
  name: string;
  /** Where it was read from. */
  source: string;
  body: Buffer;
}

const CONTENT_TYPES: Record<string, string> = {
  '.py': 'text/x-python',
  '.json': 'application/json',
  '.csv': 'text/csv',
  '.txt': 'text/plain',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
};

/** Bytecode caches and hidden files are never job code. */
const skip = (name: string): boolean =>
  name.startsWith('.') || name === '__pycache__' || name.endsWith('.pyc');

function walk(dir: string, base = ''): { name: string; source: string }[] {
  const out: { name: string; source: string }[] = [];
  for (const entry of fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))) {
    if (skip(entry.name)) continue;
    const source = path.join(dir, entry.name);
    const name = base ? `${base}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...walk(source, name));
    else if (entry.isFile()) out.push({ name, source });
  }
  return out;
}

const digest = (body: Buffer): string => createHash('sha256').update(body).digest('hex');

/**
 * The files each stage folder gets, checked against the configured layout (SPARK_STAGEn_ENTRY and
 * SPARK_STAGEn_PY_FILES; the reference jobs' main.py + common.py by default): the entry and every
 * --py-file must be there. A --py-file missing from a stage folder but present at the top of DIR is
 * copied in (a stage's own copy must then be identical). With the reference layout config_<stage>.json
 * is required too. Throws one error naming every problem.
 */
export function collectSparkCode(
  dir: string,
  layout: SparkStageSettings = DEFAULT_STAGE_SETTINGS,
): SparkCodeFile[] {
  const root = path.resolve(dir);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new Error(`Spark code folder ${root} does not exist (expected stage1/ and stage2/ inside it)`);
  }
  const problems: string[] = [];
  const files: SparkCodeFile[] = [];
  for (const stage of STAGES) {
    const stageDir = path.join(root, stage);
    if (!fs.existsSync(stageDir) || !fs.statSync(stageDir).isDirectory()) {
      problems.push(`${stageDir}/ is missing`);
      continue;
    }
    const stageFiles = walk(stageDir).map((f) => ({ stage, ...f, body: fs.readFileSync(f.source) }));
    for (const needed of stageJobFiles(layout, stage)) {
      const own = stageFiles.find((f) => f.name === needed.file);
      const isPyFile = needed.setting.endsWith('_PY_FILES');
      const sharedPath = path.join(root, needed.file);
      const shared = isPyFile && fs.existsSync(sharedPath) ? fs.readFileSync(sharedPath) : undefined;
      if (own && shared && digest(own.body) !== digest(shared)) {
        problems.push(
          `${own.source} differs from ${sharedPath}: keep one of them (the shared one is copied in)`,
        );
      }
      if (!own && shared) stageFiles.push({ stage, name: needed.file, source: sharedPath, body: shared });
      if (!own && !shared) {
        problems.push(
          isPyFile
            ? `no ${needed.file} for ${stage} (${needed.setting}): put it in ${stageDir}/ or ${root}/`
            : `${stageDir}/${needed.file} is missing (${needed.setting} names it as the entry file)`,
        );
      }
    }
    if (isReferenceLayout(layout, stage)) {
      const config = stageFiles.find((f) => f.name === `config_${stage}.json`);
      if (!config) problems.push(`${stageDir}/config_${stage}.json is missing`);
      else {
        try {
          JSON.parse(config.body.toString('utf8'));
        } catch (err) {
          problems.push(`${config.source} is not valid JSON: ${(err as Error).message}`);
        }
      }
    }
    files.push(...stageFiles);
  }
  if (problems.length > 0)
    throw new Error(`Spark code in ${root} cannot be deployed:\n  - ${problems.join('\n  - ')}`);
  return files;
}

export interface UploadSparkCodeResult {
  /** s3:// folder of each stage. */
  locations: Record<Stage, string>;
  uploaded: { key: string; bytes: number; source: string }[];
  /** Objects of an earlier deploy that no longer exist locally, removed. */
  deleted: string[];
}

/**
 * Uploads stage1/ and stage2/ (with the shared --py-files copied in) so the prefix holds exactly this
 * code afterwards. `layout`: the stages' settings (the reference layout when not given).
 */
export async function uploadSparkCode(args: {
  s3: S3Client;
  bucket: string;
  codePrefix: string;
  dir: string;
  layout?: SparkStageSettings;
}): Promise<UploadSparkCodeResult> {
  const files = collectSparkCode(args.dir, args.layout);
  const result: UploadSparkCodeResult = {
    locations: {} as Record<Stage, string>,
    uploaded: [],
    deleted: [],
  };
  for (const stage of STAGES) {
    const prefix = `${joinKey(args.codePrefix, stage)}/`;
    const objects: (UploadObject & { source: string })[] = files
      .filter((f) => f.stage === stage)
      .map((f) => ({
        key: prefix + f.name,
        body: f.body,
        contentType: CONTENT_TYPES[path.extname(f.name)] ?? 'application/octet-stream',
        source: f.source,
      }));
    const { deleted } = await replacePrefix(args.s3, args.bucket, prefix, objects);
    result.locations[stage] = `s3://${args.bucket}/${prefix}`;
    result.uploaded.push(...objects.map((o) => ({ key: o.key, bytes: o.body.length, source: o.source })));
    result.deleted.push(...deleted);
  }
  return result;
}
