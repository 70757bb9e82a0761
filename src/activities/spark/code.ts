/**
 * download_code and install_deps: the job code from S3 onto the master (presigned URLs and curl, so the
 * master needs no AWS credentials) and the Python packages on every host.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { ClusterInfo } from '../../shared/types';
import { currentContext, withHeartbeat } from '../activity-support';
import { sshAddress } from '../cluster';
import { joinCommands, lastLines, sh, withHereDoc, type ShellCommand } from '../remote';
import { listAll } from '../s3-checks';
import type { SparkContext } from './context';
import { stageJobFiles } from '../../config/spark-stages';
import {
  CODE_MANIFEST_FUNCTIONS,
  curlConfigUrl,
  manifestName,
  STAGES,
  stageDir,
  type Stage,
} from './scripts';

export interface DownloadCodeResult {
  files: number;
  bytes: number;
  /** Files fetched from S3 this time (new or changed since the last download). */
  copied: number;
  bytesCopied: number;
  /** Files kept from the last download: same ETag and size in S3, same content on the master. */
  unchanged: number;
  /** Files of the last download no longer in S3 (gone from the stage folder). */
  removed: number;
  /** e.g. "3 files unchanged, 1 copied, 0 removed". */
  detail: string;
  /** s3:// prefix the code came from. */
  source: string;
  seconds: number;
}

export interface InstallDepsResult {
  hosts: number;
  hostAddresses: string[];
  packages: string[];
  /** Hosts where every package was already installed at an accepted version: pip did not run there. */
  satisfiedHosts: string[];
  /** e.g. "already installed on 1 host, pip skipped". */
  detail: string;
  seconds: number;
}

const SATISFIED = 'POTHOLE_REQUIREMENTS_SATISFIED';

/**
 * Exits 0 when every requirement given as an argument is installed at a version its specifier accepts
 * (or its marker excludes this interpreter); else prints why not and exits 1. Anything it cannot judge
 * (a URL, extras, an option, no packaging library) counts as not satisfied: pip then decides.
 */
const REQUIREMENTS_CHECK_PY = `import sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
missing = 0
for spec in sys.argv[1:]:
    try:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate():
            continue
        if req.url or req.extras:
            why = "a URL or extras: left to pip"
        else:
            installed = metadata.version(req.name)
            if req.specifier.contains(installed, prereleases=True):
                continue
            why = "%s is installed" % installed
    except metadata.PackageNotFoundError:
        why = "not installed"
    except Exception as err:
        why = "cannot tell: %s" % err
    print("needs pip: %s (%s)" % (spec, why))
    missing += 1
sys.exit(1 if missing else 0)`;

export function createCodeControl(ctx: SparkContext) {
  const { ssh, s3, spark, config, timing, masterSsh, toLog } = ctx;

  async function listCode(signal?: AbortSignal) {
    const bucket = config.s3.S3_BUCKET;
    const base = config.s3.S3_CODE_PREFIX ? `${config.s3.S3_CODE_PREFIX}/` : '';
    const files: { key: string; rel: string; size: number; etag: string }[] = [];
    for (const stage of STAGES) {
      const prefix = `${base}${stage}/`;
      const objects = (await listAll(s3, bucket, prefix, signal)).filter(
        (o) => o.Key && !o.Key.endsWith('/'),
      );
      const source = `s3://${bucket}/${prefix}`;
      if (objects.length === 0) {
        throw ApplicationFailure.nonRetryable(
          `no Spark job code under ${source}: upload the jobs with \`pothole deploy-code DIR\` ` +
            '(DIR holding stage1/ and stage2/), then retry',
          'MissingJobCode',
        );
      }
      for (const o of objects) {
        const rel = `${stage}/${o.Key!.slice(prefix.length)}`;
        if (rel.split('/').some((seg) => seg === '..' || seg === '.' || seg === '') || /[\t\n\r]/.test(rel)) {
          throw ApplicationFailure.nonRetryable(
            `refusing job code object with an unsafe path: ${o.Key}`,
            'BadJobCode',
          );
        }
        files.push({ key: o.Key!, rel, size: o.Size ?? 0, etag: (o.ETag ?? '').replace(/[\t\n\r]/g, '') });
      }
      const present = objects.map((o) => o.Key!.slice(prefix.length));
      for (const needed of stageJobFiles(spark, stage)) {
        if (!present.includes(needed.file)) {
          const shown = present.slice(0, 20).join(', ') + (present.length > 20 ? ', …' : '');
          throw ApplicationFailure.nonRetryable(
            `${source} has no ${needed.file}, which ${needed.setting} names: deploy it into that stage ` +
              `folder or set ${needed.setting} to the stage's own file (the folder holds ${shown})`,
            'MissingJobCode',
          );
        }
      }
    }
    return { files, source: `s3://${bucket}/${base}` };
  }

  /**
   * Builds both stages' folders anew in a temporary folder on the master, then swaps each in by rename.
   * A file whose S3 ETag and size match what the last download recorded, and whose content on the master
   * is still what was downloaded (sha256), is linked over instead of fetched; every other file is fetched.
   * Files no longer in S3 are not carried over. One script, one SSH round trip.
   */
  async function downloadCode(info: ClusterInfo): Promise<DownloadCodeResult> {
    const started = Date.now();
    const signal = currentContext()?.cancellationSignal;
    const { files, source } = await listCode(signal);
    const jobDir = spark.SPARK_JOB_DIR;
    const tmp = path.posix.join(jobDir, `.download-${crypto.randomUUID()}`);
    const lines: ShellCommand[] = [
      sh`set -eu`,
      sh`job=${jobDir}; tmp=${tmp}`,
      sh`trap ${sh`rm -rf ${tmp}`.text} EXIT`,
      sh`mkdir -p ${[...new Set(files.map((f) => path.posix.dirname(path.posix.join(tmp, f.rel))))]}`,
      CODE_MANIFEST_FUNCTIONS,
    ];
    for (const f of files) {
      const [stage, ...rest] = f.rel.split('/');
      const rel = rest.join('/');
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: config.s3.S3_BUCKET, Key: f.key }), {
        expiresIn: timing.presignExpirySeconds,
      });
      // curl reads the URL from a config on its stdin: a presigned URL never shows in the master's process list.
      lines.push(
        sh`if kept ${stage!} ${rel} ${f.etag} ${f.size}; then`,
        sh`  ln -f "$job"/${f.rel} "$tmp"/${f.rel} 2>/dev/null || cp -p "$job"/${f.rel} "$tmp"/${f.rel}; echo UNCHANGED ${f.rel}`,
        sh`else`,
        withHereDoc(
          sh`curl -fsS --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 900 -o "$tmp"/${f.rel} -K -`,
          curlConfigUrl(url),
        ),
        sh`  echo COPIED ${f.rel}`,
        sh`fi`,
        sh`record ${stage!} ${rel} ${f.etag} ${f.size}`,
      );
    }
    for (const stage of STAGES) {
      lines.push(
        sh`gone ${stage}`,
        sh`if [ -e "$job"/${stage} ]; then mv "$job"/${stage} "$tmp"/${`${stage}.replaced`}; fi && mv "$tmp"/${stage} "$job"/${stage}`,
        sh`mv -f "$tmp"/${manifestName(stage)} "$job"/${manifestName(stage)}`,
      );
    }
    lines.push(sh`echo DOWNLOADED`);
    // The script goes over stdin: presigned URLs stay out of the remote command line and our logs.
    const script = joinCommands(lines).text + '\n';
    const r = await withHeartbeat(
      () => ({ phase: 'downloading job code', files: files.length }),
      async () => {
        const r = await ssh.exec(masterSsh(info), sh`sh -s`, {
          signal,
          stdin: script,
          timeoutMs: 30 * 60_000,
        });
        if (r.exitCode !== 0 || !/^DOWNLOADED$/m.test(r.stdout)) {
          // Never echo the script: it holds the presigned URLs.
          throw new Error(
            `downloading job code on ${masterSsh(info)} failed (exit ${r.exitCode ?? r.signal}): ` +
              lastLines(r.stderr.replace(/https?:\/\/\S+/g, '<url>'), 5).join(' | '),
          );
        }
        return r;
      },
      timing.heartbeatIntervalMs,
    );
    const said = (word: string) =>
      new Set(
        r.stdout
          .split('\n')
          .filter((l) => l.startsWith(`${word} `))
          .map((l) => l.slice(word.length + 1)),
      );
    const copied = said('COPIED');
    const removed = said('REMOVED');
    const unchanged = files.length - copied.size;
    const detail = `${unchanged} file${unchanged === 1 ? '' : 's'} unchanged, ${copied.size} copied, ${removed.size} removed`;
    const result: DownloadCodeResult = {
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      copied: copied.size,
      bytesCopied: files.filter((f) => copied.has(f.rel)).reduce((n, f) => n + f.size, 0),
      unchanged,
      removed: removed.size,
      detail,
      source,
      seconds: (Date.now() - started) / 1000,
    };
    log.info(`job code from ${source} in ${jobDir}: ${detail}`);
    return result;
  }

  /** The stage's configured files (entry and --py-files) that are not on the master. */
  async function missingOnMaster(info: ClusterInfo, stage: Stage, batchDate: string) {
    const dir = stageDir(spark, stage);
    const needed = stageJobFiles(spark, stage, batchDate);
    // Prints each missing file's path relative to the stage folder.
    const r = await ssh.exec(
      masterSsh(info),
      sh`d=${dir}; for f in ${needed.map((n) => n.file)}; do [ -f "$d/$f" ] || printf '%s\\n' "$f"; done`,
      { timeoutMs: 60_000 },
    );
    if (r.exitCode !== 0) {
      throw new Error(`checking the job code in ${dir} on ${masterSsh(info)} failed (exit ${r.exitCode})`);
    }
    const missing = new Set(r.stdout.split('\n').filter(Boolean));
    return needed.filter((n) => missing.has(n.file));
  }

  /** Before a stage runs: its entry and --py-files are on the master, downloaded again when not. */
  async function ensureCode(info: ClusterInfo, stage: Stage, batchDate: string): Promise<void> {
    if ((await missingOnMaster(info, stage, batchDate)).length === 0) return;
    log.warn(`job code for ${stage} is not on the master (reset past download_code?): downloading it`);
    const { source } = await downloadCode(info);
    const still = await missingOnMaster(info, stage, batchDate);
    if (still.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `${stageDir(spark, stage)}/ lacks ${still.map((n) => `${n.file} (named by ${n.setting})`).join(', ')} ` +
          `after downloading ${source}${stage}/: deploy it into that stage folder or change the setting`,
        'MissingJobCode',
      );
    }
  }

  /**
   * On each host (in parallel, one command each): when every package is already installed at a version
   * its specifier accepts, nothing more; otherwise pip install.
   */
  async function installDeps(info: ClusterInfo): Promise<InstallDepsResult> {
    const started = Date.now();
    const signal = currentContext()?.cancellationSignal;
    const packages = spark.SPARK_PYTHON_PACKAGES;
    const addresses = [
      ...new Set([info.masterPrivateIp, ...info.workerPrivateIps].map((ip) => sshAddress(config.ssh, ip))),
    ];
    if (packages.length === 0) {
      return {
        hosts: addresses.length,
        hostAddresses: addresses,
        packages,
        satisfiedHosts: addresses,
        detail: 'no packages to install',
        seconds: 0,
      };
    }
    const done = new Set<string>();
    const satisfied = new Set<string>();
    const command = joinCommands([
      withHereDoc(sh`${spark.SPARK_PYTHON} - ${packages}`, REQUIREMENTS_CHECK_PY),
      sh`if [ $? = 0 ]; then echo ${SATISFIED}; exit 0; fi`,
      sh`exec ${spark.SPARK_PYTHON} -m pip install --disable-pip-version-check --no-input ${packages}`,
    ]);
    await withHeartbeat(
      () => ({ phase: 'pip install', packages, done: [...done], hosts: addresses }),
      () =>
        Promise.all(
          addresses.map(async (address) => {
            const r = await ssh.exec(address, command, {
              signal,
              timeoutMs: 30 * 60_000,
              ...toLog(`[pip ${address}]`),
            });
            if (r.exitCode !== 0) {
              const out = `${r.stdout}\n${r.stderr}`;
              const tail = lastLines(out, 8).join('\n');
              if (/externally-managed-environment/.test(out)) {
                throw ApplicationFailure.nonRetryable(
                  `pip refuses to install into the system Python on ${address} (externally managed): point ` +
                    `SPARK_PYTHON at a virtualenv's python that Spark also uses (PYSPARK_PYTHON).\n${tail}`,
                  'BadConfiguration',
                );
              }
              if (/No matching distribution|Could not find a version|Invalid requirement/.test(out)) {
                throw ApplicationFailure.nonRetryable(
                  `SPARK_PYTHON_PACKAGES cannot be installed on ${address}: ${packages.join(' ')}\n${tail}`,
                  'BadConfiguration',
                );
              }
              throw new Error(`pip install on ${address} exited with ${r.exitCode}:\n${tail}`);
            }
            if (r.stdout.split('\n').includes(SATISFIED)) satisfied.add(address);
            done.add(address);
          }),
        ),
      timing.heartbeatIntervalMs,
    );
    const installedOn = addresses.filter((a) => !satisfied.has(a));
    const hosts = (n: number) => `${n} host${n === 1 ? '' : 's'}`;
    const detail = [
      satisfied.size ? `already installed on ${hosts(satisfied.size)}, pip skipped` : '',
      installedOn.length ? `pip installed on ${installedOn.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    const result: InstallDepsResult = {
      hosts: addresses.length,
      hostAddresses: addresses,
      packages,
      satisfiedHosts: addresses.filter((a) => satisfied.has(a)),
      detail,
      seconds: (Date.now() - started) / 1000,
    };
    log.info(`${packages.join(' ')}: ${detail} (${result.seconds.toFixed(1)} s)`);
    return result;
  }

  return { listCode, downloadCode, ensureCode, installDeps };
}
