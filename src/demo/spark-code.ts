/**
 * Deploys Spark job code to where download_code fetches it: s3://<bucket>/<code prefix>/stage1/ and stage2/.
 *
 * The repository keeps ONE common.py at the top of the jobs folder; it is copied into both stage folders
 * here, because each stage is downloaded and submitted on its own (`--py-files <dir>/stageN/common.py`).
 * A stage folder may carry its own common.py instead; if both exist they must be identical, so a stale
 * copy can never be deployed silently.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
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
 * The files each stage folder gets, checked against the job contract: main.py, common.py and
 * config_<stage>.json in every stage. Throws one error naming every problem.
 */
export function collectSparkCode(dir: string): SparkCodeFile[] {
  const root = path.resolve(dir);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new Error(`Spark code folder ${root} does not exist (expected stage1/ and stage2/ inside it)`);
  }
  const sharedPath = path.join(root, 'common.py');
  const shared = fs.existsSync(sharedPath) ? fs.readFileSync(sharedPath) : undefined;
  const problems: string[] = [];
  const files: SparkCodeFile[] = [];
  for (const stage of STAGES) {
    const stageDir = path.join(root, stage);
    if (!fs.existsSync(stageDir) || !fs.statSync(stageDir).isDirectory()) {
      problems.push(`${stageDir}/ is missing`);
      continue;
    }
    const stageFiles = walk(stageDir).map((f) => ({ stage, ...f, body: fs.readFileSync(f.source) }));
    const own = stageFiles.find((f) => f.name === 'common.py');
    if (own && shared && digest(own.body) !== digest(shared)) {
      problems.push(
        `${own.source} differs from ${sharedPath}: keep one of them (the shared one is copied in)`,
      );
    }
    if (!own && shared) stageFiles.push({ stage, name: 'common.py', source: sharedPath, body: shared });
    for (const required of ['main.py', 'common.py', `config_${stage}.json`]) {
      if (!stageFiles.some((f) => f.name === required)) {
        problems.push(
          required === 'common.py'
            ? `no common.py for ${stage}: put it in ${stageDir}/ or ${root}/`
            : `${stageDir}/${required} is missing`,
        );
      }
    }
    const config = stageFiles.find((f) => f.name === `config_${stage}.json`);
    if (config) {
      try {
        JSON.parse(config.body.toString('utf8'));
      } catch (err) {
        problems.push(`${config.source} is not valid JSON: ${(err as Error).message}`);
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

/** Uploads stage1/ and stage2/ (with common.py) so the prefix holds exactly this code afterwards. */
export async function uploadSparkCode(args: {
  s3: S3Client;
  bucket: string;
  codePrefix: string;
  dir: string;
}): Promise<UploadSparkCodeResult> {
  const files = collectSparkCode(args.dir);
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
