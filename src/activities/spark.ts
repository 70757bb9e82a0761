/**
 * start_spark, download_code, install_deps, run_stage1, run_stage2, stop_spark: the Spark standalone
 * cluster on the EC2 instances, driven over SSH.
 *
 * run_stageN launches spark-submit DETACHED on the master (its own session, output in a log file) and
 * follows it. State lives on the master under `<SPARK_JOB_DIR>/run/<date>-<stage>/`:
 *   owner    "<workflowId> <runId>" of the run that launched the driver
 *   pid      session id of the driver (its wrapper shell; spark-submit's JVM and Python run inside it)
 *   app      the application name, used to verify that a pid still belongs to our driver
 *   started  launch time (epoch seconds, master clock)
 *   log      driver stdout+stderr
 *   exit     "<status> <epoch>", written when the driver ends
 * A retried attempt of the same run re-attaches to a live driver, reports a finished one, and replaces
 * one that died without an exit status; a live driver of another run (an orphan) is killed and replaced.
 * The decision is taken under flock, so there are never two drivers for one date and stage.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { AwsConfig, ClusterConfig, S3Config, SparkConfig, SshConfig } from '../config';
import type { ClusterInfo, StageResult, StartSparkResult, StepInput } from '../types';
import { validateBatchDate } from '../steps';
import { currentContext, errorMessage, heartbeat, sleep, withHeartbeat } from './activity-support';
import {
  DEFAULT_CLUSTER_TIMING,
  describeCluster,
  ensureClusterRunning,
  sshAddress,
  type ClusterTiming,
} from './cluster';
import {
  LineSplitter,
  SshConnectionError,
  joinCommands,
  lastLines,
  raw,
  sh,
  type RemoteShell,
  type ShellCommand,
} from './remote';
import { listAll } from './s3-checks';
import { checkWorkers, parseMasterStatus, type ExpectedWorker, type SparkMasterStatus } from './spark-status';

export type Stage = 'stage1' | 'stage2';
export const STAGES: readonly Stage[] = ['stage1', 'stage2'];

export interface SparkTiming extends ClusterTiming {
  /** How long start_spark waits for every worker to register. */
  workersTimeoutMs: number;
  /** Master status polling interval. */
  statusPollMs: number;
  /** Seconds a driver gets between SIGTERM and SIGKILL. */
  killGraceSeconds: number;
  /** Lifetime of the presigned URLs download_code hands to curl. */
  presignExpirySeconds: number;
  /** How long run_stageN keeps reconnecting when SSH to the master drops while following a driver. */
  followReconnectMs: number;
}

export const DEFAULT_SPARK_TIMING: SparkTiming = {
  ...DEFAULT_CLUSTER_TIMING,
  workersTimeoutMs: 180_000,
  statusPollMs: 2_000,
  killGraceSeconds: 15,
  presignExpirySeconds: 3_600,
  followReconnectMs: 120_000,
};

export interface SparkDeps {
  ec2: EC2Client;
  ssh: RemoteShell;
  /** For presigned URLs of the job code. */
  s3: S3Client;
  config: { cluster: ClusterConfig; ssh: SshConfig; spark: SparkConfig; s3: S3Config; aws: AwsConfig };
  timing?: Partial<SparkTiming>;
  /** Fetches the master's status JSON (injectable for tests; the real global fetch by default). */
  fetch?: typeof fetch;
}

export interface DownloadCodeResult {
  files: number;
  bytes: number;
  /** s3:// prefix the code came from. */
  source: string;
  seconds: number;
}

export interface InstallDepsResult {
  hosts: number;
  hostAddresses: string[];
  packages: string[];
  seconds: number;
}

export interface StopSparkResult {
  /** False when the master instance was not running (nothing to stop). */
  masterRunning: boolean;
  /** Run folders (date-stage) whose driver was still running and was killed. */
  driversKilled: string[];
  seconds: number;
}

// ---- command composition ----------------------------------------------------------------------------

export interface SubmitParams {
  stage: Stage;
  batchDate: string;
  masterUrl: string;
}

export const appName = (stage: Stage, batchDate: string) => `pothole-${stage}-${batchDate}`;

/** The spark-submit argv of the Spark job contract; every part comes from configuration. */
export function sparkSubmitArgs(config: { spark: SparkConfig; s3: S3Config }, p: SubmitParams): string[] {
  const { spark, s3 } = config;
  const dir = path.posix.join(spark.SPARK_JOB_DIR, p.stage);
  return [
    path.posix.join(spark.SPARK_HOME, 'bin', 'spark-submit'),
    ...['--master', p.masterUrl, '--deploy-mode', 'client', '--name', appName(p.stage, p.batchDate)],
    ...['--driver-memory', spark.SPARK_DRIVER_MEMORY, '--executor-memory', spark.SPARK_EXECUTOR_MEMORY],
    ...['--executor-cores', String(spark.SPARK_EXECUTOR_CORES)],
    ...['--total-executor-cores', String(spark.SPARK_TOTAL_EXECUTOR_CORES)],
    ...['--conf', 'spark.sql.adaptive.enabled=true'],
    ...['--conf', `spark.pothole.bucket=${s3.S3_BUCKET}`],
    ...['--conf', `spark.pothole.prefix.raw=${s3.S3_RAW_DATA_PREFIX}`],
    ...['--conf', `spark.pothole.prefix.stage1=${s3.S3_STAGE1_OUTPUT_PREFIX}`],
    ...['--conf', `spark.pothole.prefix.stage2=${s3.S3_STAGE2_OUTPUT_PREFIX}`],
    ...(spark.SPARK_PACKAGES.length ? ['--packages', spark.SPARK_PACKAGES.join(',')] : []),
    ...spark.SPARK_EXTRA_CONF.flatMap((c) => ['--conf', c]),
    ...['--py-files', path.posix.join(dir, 'common.py'), path.posix.join(dir, 'main.py')],
    ...['--env', p.stage, '--batch-date', p.batchDate],
  ];
}

/** Where a date+stage's driver state lives on the master. */
export const runDir = (spark: SparkConfig, stage: Stage, batchDate: string) =>
  path.posix.join(spark.SPARK_JOB_DIR, 'run', `${batchDate}-${stage}`);

/**
 * Shell functions shared by the driver scripts (constant text; all data is passed in quoted variables).
 * driver_alive PID APP: a process of session PID still runs and the session carries our app name.
 * Zombies do not count: some init processes reap them late.
 * kill_driver PID GRACE: SIGTERM the whole session, SIGKILL after GRACE seconds, wait until it is gone.
 */
const DRIVER_FUNCTIONS = raw(`
valid_pid() { case "$1" in ''|*[!0-9]*) return 1 ;; *) [ "$1" -gt 1 ] ;; esac; }
session_live() { ps -o stat= -s "$1" 2>/dev/null | grep -q '^[^Z]'; }
driver_alive() {
  valid_pid "$1" || return 1
  ps -o stat= -o args= -s "$1" 2>/dev/null | grep -v '^Z' | grep -qF -- "$2"
}
kill_driver() {
  valid_pid "$1" || return 0
  pkill -TERM -s "$1" 2>/dev/null || true
  i=0
  while session_live "$1" && [ "$i" -lt $(($2 * 5)) ]; do sleep 0.2; i=$((i + 1)); done
  pkill -KILL -s "$1" 2>/dev/null || true
  i=0
  while session_live "$1" && [ "$i" -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
  ! session_live "$1"
}
`);

/**
 * The detached driver: a shell in its own session that records its pid, runs spark-submit with output
 * to the log, then records the exit status atomically. Positional args: run dir, then the argv.
 */
const DRIVER_WRAPPER =
  'd=$1; shift; echo $$ > "$d/pid.tmp" && mv "$d/pid.tmp" "$d/pid"; ' +
  '"$@" >> "$d/log" 2>&1 < /dev/null; code=$?; ' +
  'echo "$code $(date +%s)" > "$d/exit.tmp" && mv "$d/exit.tmp" "$d/exit"';

/**
 * Attach-or-launch, under an exclusive lock per date+stage. Prints one line:
 *   ATTACH <pid> <started> <now>    our run's driver is running
 *   DONE <status> <ended> <started> our run's driver already finished
 *   LAUNCHED <pid> <started> <now>  a new driver was started (after REPLACED/RESTART notes on stderr)
 */
export function launchScript(p: {
  dir: string;
  owner: string;
  app: string;
  argv: string[];
  killGraceSeconds: number;
}): ShellCommand {
  return sh`set -u
d=${p.dir}; owner=${p.owner}; app=${p.app}; grace=${p.killGraceSeconds}
${DRIVER_FUNCTIONS}
mkdir -p "$d"
exec 9>"$d.lock"
flock -w 60 9 || { echo "BUSY"; exit 0; }
pid=$(cat "$d/pid" 2>/dev/null || true)
prev=$(cat "$d/owner" 2>/dev/null || true)
if driver_alive "$pid" "$app"; then
  if [ "$prev" = "$owner" ]; then
    echo "ATTACH $pid $(cat "$d/started" 2>/dev/null || echo 0) $(date +%s)"; exit 0
  fi
  echo "REPLACED driver $pid of another run ($prev)" >&2
  kill_driver "$pid" "$grace" || { echo "cannot kill driver $pid" >&2; exit 3; }
elif [ -f "$d/exit" ] && [ "$prev" = "$owner" ]; then
  echo "DONE $(cat "$d/exit") $(cat "$d/started" 2>/dev/null || echo 0)"; exit 0
elif [ -n "$pid" ] && [ ! -f "$d/exit" ]; then
  echo "RESTART: driver $pid of ($prev) died without an exit status" >&2
fi
rm -f "$d/pid" "$d/exit" "$d/pid.tmp" "$d/exit.tmp"
[ -f "$d/log" ] && mv -f "$d/log" "$d/log.previous"
printf '%s\\n' "$owner" > "$d/owner"
printf '%s\\n' "$app" > "$d/app"
date +%s > "$d/started"
: > "$d/log"
setsid sh -c ${DRIVER_WRAPPER} pothole-driver "$d" ${p.argv} > /dev/null 2>&1 < /dev/null 9>&- &
i=0
while [ ! -s "$d/pid" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/pid" ] || { echo "the driver did not start (no pid file in $d)" >&2; exit 4; }
echo "LAUNCHED $(cat "$d/pid") $(cat "$d/started") $(date +%s)"
`;
}

/**
 * Streams the log from a byte offset while the driver session lives. A status line goes to stderr
 * every 2 s: it carries the master's clock, and when our side has gone the write fails (SIGPIPE), so
 * no follower outlives its connection for long.
 */
export function followScript(p: { dir: string; pid: string; app: string; offset: number }): ShellCommand {
  return sh`d=${p.dir}; pid=${p.pid}; app=${p.app}; off=${p.offset}
${DRIVER_FUNCTIONS}
tail -c +$((off + 1)) -f "$d/log" &
t=$!
trap 'kill $t 2>/dev/null' EXIT
while driver_alive "$pid" "$app"; do echo "@@alive $(date +%s)" >&2 || exit 0; sleep 2; done
sleep 1
`;
}

export function killScript(p: { dir: string; pid: string; app: string; graceSeconds: number }): ShellCommand {
  return sh`d=${p.dir}; pid=${p.pid}; app=${p.app}
${DRIVER_FUNCTIONS}
if driver_alive "$pid" "$app"; then
  kill_driver "$pid" ${p.graceSeconds} && echo "KILLED $pid" || { echo "could not kill $pid" >&2; exit 1; }
else
  echo "NOT_RUNNING $pid"
fi
`;
}

/** stop_spark: kills every driver still running under <SPARK_JOB_DIR>/run/, printing KILLED <folder>. */
export function killAllDriversScript(p: { jobDir: string; graceSeconds: number }): ShellCommand {
  return sh`run=${path.posix.join(p.jobDir, 'run')}; grace=${p.graceSeconds}
${DRIVER_FUNCTIONS}
for f in "$run"/*/pid; do
  [ -f "$f" ] || continue
  d=$(dirname "$f"); pid=$(cat "$f" 2>/dev/null || true); app=$(cat "$d/app" 2>/dev/null || true)
  [ -n "$app" ] || continue
  if driver_alive "$pid" "$app"; then kill_driver "$pid" "$grace" || true; echo "KILLED $(basename "$d")"; fi
done
exit 0
`;
}

/**
 * Runs a start script in a session of its own, so the daemons it leaves behind do not belong to our SSH
 * command (which is killed with its channel when we give up waiting or are cancelled).
 */
export const startDaemons = (script: string): ShellCommand => sh`setsid -w ${script}`;

/**
 * stop-all.sh and stop-history-server.sh, then waits until the daemons of this host have really exited
 * (spark-daemon.sh only sends SIGTERM), killing any that are still there after `waitSeconds`.
 * The pid files follow spark-daemon.sh's naming in SPARK_PID_DIR (from conf/spark-env.sh, read by Spark's
 * own bash loader).
 */
export function stopDaemonsScript(p: { sparkHome: string; waitSeconds: number }): ShellCommand {
  return sh`SPARK_HOME=${p.sparkHome}; export SPARK_HOME; wait_s=${p.waitSeconds}
piddir=$(bash -c '. "$SPARK_HOME/bin/load-spark-env.sh" >/dev/null 2>&1; echo "\${SPARK_PID_DIR:-/tmp}"')
pids=$(cat "$piddir"/spark-*-org.apache.spark.deploy.*.pid 2>/dev/null || true)
"$SPARK_HOME/sbin/stop-all.sh"; a=$?
"$SPARK_HOME/sbin/stop-history-server.sh"; b=$?
running() { st=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$st" ] && [ "\${st#Z}" = "$st" ]; }
for pid in $pids; do
  i=0
  while running "$pid" && [ "$i" -lt $((wait_s * 5)) ]; do sleep 0.2; i=$((i + 1)); done
  if running "$pid" && [ "$(ps -o comm= -p "$pid")" = java ]; then echo "daemon $pid did not stop, killing it"; kill -9 "$pid"; fi
done
[ "$a" = 0 ] && [ "$b" = 0 ]
`;
}

// ---- activities ---------------------------------------------------------------------------------------

function validDate(input: StepInput): string {
  const date = validateBatchDate(input.batchDate);
  if (typeof date !== 'string') throw ApplicationFailure.nonRetryable(date.error, 'InvalidBatchDate');
  return date;
}

/** Whether a cancellation should take the remote driver down with it. */
function cancellationKillsDriver(reason: unknown): boolean {
  const details = currentContext()?.cancellationDetails;
  if (details) {
    if (details.workerShutdown || details.timedOut || details.paused) return false;
    if (details.cancelRequested || details.notFound || details.reset) return true;
  }
  const r = reason instanceof Error ? reason.message : String(reason);
  return !/WORKER_SHUTDOWN|TIMED_OUT|PAUSED/.test(r);
}

export function createSparkActivities(deps: SparkDeps) {
  const { ssh, s3, config } = deps;
  const { spark } = config;
  const timing: SparkTiming = { ...DEFAULT_SPARK_TIMING, ...deps.timing };
  const fetchFn = deps.fetch ?? fetch;
  const sparkPath = (...parts: string[]) => path.posix.join(spark.SPARK_HOME, ...parts);

  const masterSsh = (info: ClusterInfo) => sshAddress(config.ssh, info.masterPrivateIp);
  const masterHost = (info: ClusterInfo) => spark.SPARK_MASTER_HOST ?? info.masterPrivateIp;
  const masterUrl = (info: ClusterInfo) => `spark://${masterHost(info)}:${spark.SPARK_MASTER_PORT}`;
  const statusUrl = (info: ClusterInfo) =>
    `${(spark.SPARK_MASTER_WEBUI_URL ?? `http://${masterHost(info)}:${spark.SPARK_MASTER_WEBUI_PORT}`).replace(/\/+$/, '')}/json/`;
  const expectedWorkers = (info: ClusterInfo): ExpectedWorker[] =>
    info.workerInstanceIds.map((id, n) => ({
      instanceId: id,
      privateIp: info.workerPrivateIps[n]!,
      address: sshAddress(config.ssh, info.workerPrivateIps[n]!),
    }));
  const clusterDeps = { ...deps, timing };
  const cluster = () => ensureClusterRunning(clusterDeps);

  async function masterStatus(
    info: ClusterInfo,
    signal?: AbortSignal,
  ): Promise<SparkMasterStatus | undefined> {
    try {
      const timeout = AbortSignal.timeout(5_000);
      const res = await fetchFn(statusUrl(info), {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      if (!res.ok) return undefined;
      return parseMasterStatus(await res.json());
    } catch {
      if (signal?.aborted) throw signal.reason;
      return undefined;
    }
  }

  /** Logs a remote command's output lines into the activity log. */
  const toLog = (prefix: string) => ({
    onStdoutLine: (l: string) => log.info(`${prefix} ${l}`),
    onStderrLine: (l: string) => log.info(`${prefix} ${l}`),
  });

  async function writeWorkersFile(info: ClusterInfo, signal?: AbortSignal): Promise<void> {
    const conf = sparkPath('conf');
    const lines = expectedWorkers(info).map((w) => w.address);
    const tmp = path.posix.join(conf, `.workers.${process.pid}.${Date.now()}`);
    await ssh.run(
      masterSsh(info),
      sh`mkdir -p ${conf} && printf '%s\\n' ${lines} > ${tmp} && mv -f ${tmp} ${path.posix.join(conf, 'workers')}`,
      { signal, timeoutMs: 60_000 },
    );
  }

  async function historyServer(info: ClusterInfo, signal?: AbortSignal): Promise<void> {
    if (!spark.SPARK_HISTORY_SERVER) return;
    const status = await ssh.exec(
      masterSsh(info),
      sh`${sparkPath('sbin', 'spark-daemon.sh')} status org.apache.spark.deploy.history.HistoryServer 1`,
      { signal, timeoutMs: 60_000 },
    );
    if (status.exitCode === 0) return;
    const started = await ssh.exec(
      masterSsh(info),
      startDaemons(sparkPath('sbin', 'start-history-server.sh')),
      {
        signal,
        timeoutMs: 120_000,
        ...toLog('[history-server]'),
      },
    );
    if (started.exitCode !== 0) {
      // Job history is a convenience; the pipeline runs without it.
      log.warn(
        `the Spark history server did not start (exit ${started.exitCode}): ` +
          lastLines(started.stderr || started.stdout, 5).join(' | '),
      );
    }
  }

  /** Starts master + workers unless all expected workers are already ALIVE; waits until they are. */
  async function ensureSparkRunning(info: ClusterInfo): Promise<StartSparkResult> {
    const signal = currentContext()?.cancellationSignal;
    const expected = expectedWorkers(info);
    const url = masterUrl(info);
    const current = await masterStatus(info, signal);
    if (current?.status === 'ALIVE' && checkWorkers(current, expected).complete) {
      log.info(`Spark master ${url} already has ${current.aliveWorkers.length} ALIVE worker(s)`);
      await historyServer(info, signal);
      return { aliveWorkers: current.aliveWorkers.length, expectedWorkers: expected.length, masterUrl: url };
    }

    let phase = 'writing conf/workers';
    let last: SparkMasterStatus | undefined;
    const details = () => ({ phase, alive: last?.aliveWorkers.length ?? 0, expected: expected.length });
    return withHeartbeat(
      details,
      async () => {
        await writeWorkersFile(info, signal);
        phase = 'running start-all.sh';
        const deadline = Date.now() + timing.workersTimeoutMs;
        const startAll = await ssh
          .exec(masterSsh(info), startDaemons(sparkPath('sbin', 'start-all.sh')), {
            signal,
            timeoutMs: timing.workersTimeoutMs,
            ...toLog('[start-all]'),
          })
          .catch((err: unknown) => {
            if (signal?.aborted) throw err;
            if (err instanceof SshConnectionError) throw err;
            return { exitCode: null, signal: null, stdout: '', stderr: errorMessage(err), truncated: false };
          });
        const startAllNote =
          startAll.exitCode === 0
            ? ''
            : ` start-all.sh said: ${lastLines(startAll.stderr || startAll.stdout, 4).join(' | ')}`;
        if (startAll.exitCode !== 0)
          log.warn(`start-all.sh exited with ${startAll.exitCode}.${startAllNote}`);
        phase = 'starting the history server';
        await historyServer(info, signal);
        phase = `waiting for ${expected.length} workers to register`;
        for (;;) {
          last = await masterStatus(info, signal);
          const check = last?.status === 'ALIVE' ? checkWorkers(last, expected) : undefined;
          if (check?.complete) {
            log.info(`Spark master ${url}: ${check.alive} of ${check.expected} workers ALIVE`);
            return { aliveWorkers: check.alive, expectedWorkers: expected.length, masterUrl: url };
          }
          if (Date.now() >= deadline) {
            const what = !last
              ? `its status page ${statusUrl(info)} did not answer`
              : last.status !== 'ALIVE'
                ? `the master is ${last.status}`
                : `only ${check!.alive} of ${check!.expected} workers came up: ${check!.missing}`;
            throw ApplicationFailure.create({
              message:
                `Spark cluster at ${url} is not complete after ${Math.round(timing.workersTimeoutMs / 1000)} s: ` +
                `${what}.${startAllNote} Check the worker logs under ${sparkPath('logs')} (or SPARK_LOG_DIR) on ` +
                'the missing hosts.',
              type: 'SparkWorkersMissing',
              details: [{ missingInstanceIds: check?.missingInstanceIds ?? [] }],
            });
          }
          await sleep(timing.statusPollMs, signal);
        }
      },
      timing.heartbeatIntervalMs,
    );
  }

  async function listCode(signal?: AbortSignal) {
    const bucket = config.s3.S3_BUCKET;
    const base = config.s3.S3_CODE_PREFIX ? `${config.s3.S3_CODE_PREFIX}/` : '';
    const files: { key: string; rel: string; size: number }[] = [];
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
        if (rel.split('/').some((seg) => seg === '..' || seg === '.' || seg === '')) {
          throw ApplicationFailure.nonRetryable(
            `refusing job code object with an unsafe path: ${o.Key}`,
            'BadJobCode',
          );
        }
        files.push({ key: o.Key!, rel, size: o.Size ?? 0 });
      }
      for (const needed of ['main.py', 'common.py']) {
        if (!files.some((f) => f.rel === `${stage}/${needed}`)) {
          throw ApplicationFailure.nonRetryable(
            `${source} has no ${needed}: the job contract needs main.py and common.py in each stage folder`,
            'MissingJobCode',
          );
        }
      }
    }
    return { files, source: `s3://${bucket}/${base}` };
  }

  /** Downloads both stages' code into a temporary folder on the master, then swaps it in by rename. */
  async function downloadCode(info: ClusterInfo): Promise<DownloadCodeResult> {
    const started = Date.now();
    const signal = currentContext()?.cancellationSignal;
    const { files, source } = await listCode(signal);
    const jobDir = spark.SPARK_JOB_DIR;
    const tmp = path.posix.join(jobDir, `.download-${crypto.randomUUID()}`);
    const lines: ShellCommand[] = [
      sh`set -eu`,
      sh`trap ${sh`rm -rf ${tmp}`.text} EXIT`,
      sh`mkdir -p ${[...new Set(files.map((f) => path.posix.dirname(path.posix.join(tmp, f.rel))))]}`,
    ];
    for (const f of files) {
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: config.s3.S3_BUCKET, Key: f.key }), {
        expiresIn: timing.presignExpirySeconds,
      });
      lines.push(
        sh`curl -fsS --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 900 -o ${path.posix.join(tmp, f.rel)} ${url}`,
      );
    }
    for (const stage of STAGES) {
      const target = path.posix.join(jobDir, stage);
      const old = path.posix.join(tmp, `${stage}.replaced`);
      lines.push(
        sh`if [ -e ${target} ]; then mv ${target} ${old}; fi && mv ${path.posix.join(tmp, stage)} ${target}`,
      );
    }
    lines.push(sh`echo DOWNLOADED`);
    // The script goes over stdin: presigned URLs stay out of the remote command line and our logs.
    const script = joinCommands(lines).text + '\n';
    await withHeartbeat(
      () => ({ phase: 'downloading job code', files: files.length }),
      async () => {
        const r = await ssh.exec(masterSsh(info), sh`sh -s`, {
          signal,
          stdin: script,
          timeoutMs: 30 * 60_000,
        });
        if (r.exitCode !== 0) {
          // Never echo the script: it holds the presigned URLs.
          throw new Error(
            `downloading job code on ${masterSsh(info)} failed (exit ${r.exitCode ?? r.signal}): ` +
              lastLines(r.stderr.replace(/https?:\/\/\S+/g, '<url>'), 5).join(' | '),
          );
        }
      },
      timing.heartbeatIntervalMs,
    );
    const result: DownloadCodeResult = {
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      source,
      seconds: (Date.now() - started) / 1000,
    };
    log.info(`downloaded ${result.files} file(s) (${result.bytes} bytes) from ${source} into ${jobDir}`);
    return result;
  }

  async function ensureCode(info: ClusterInfo, stage: Stage): Promise<void> {
    const dir = path.posix.join(spark.SPARK_JOB_DIR, stage);
    const present = await ssh.exec(
      masterSsh(info),
      sh`test -f ${path.posix.join(dir, 'main.py')} && test -f ${path.posix.join(dir, 'common.py')}`,
      { timeoutMs: 60_000 },
    );
    if (present.exitCode !== 0) {
      log.warn(`job code for ${stage} is not on the master (reset past download_code?): downloading it`);
      await downloadCode(info);
    }
  }

  async function runStage(stage: Stage, input: StepInput): Promise<StageResult> {
    const ctx = currentContext();
    const signal = ctx?.cancellationSignal;
    const batchDate = validDate(input);
    const info = await cluster();
    await ensureSparkRunning(info);
    await ensureCode(info, stage);

    const host = masterSsh(info);
    const dir = runDir(spark, stage, batchDate);
    const app = appName(stage, batchDate);
    const owner = `${input.workflowId} ${input.runId}`;
    const argv = sparkSubmitArgs(config, { stage, batchDate, masterUrl: masterUrl(info) });

    // Not aborted by cancellation: once it runs, we must learn the driver's pid to be able to kill it.
    // It may wait for the lock or for an orphan to die: keep heartbeating.
    const launch = await withHeartbeat(
      () => ({ stage, batchDate, phase: 'launching or re-attaching the driver' }),
      () =>
        ssh.run(host, launchScript({ dir, owner, app, argv, killGraceSeconds: timing.killGraceSeconds }), {
          timeoutMs: 120_000,
        }),
      timing.heartbeatIntervalMs,
    );
    for (const note of lastLines(launch.stderr, 5)) log.warn(`${stage}: ${note}`);
    const [verb, ...fields] = (lastLines(launch.stdout, 1)[0] ?? '').split(' ');
    let pid: string;
    let reattached: boolean;
    let startedEpoch: number;
    let deadline: number;
    if (verb === 'DONE') {
      // This run's driver finished while no attempt was watching (e.g. the worker crashed).
      const [status, ended, started] = fields.map(Number);
      return finish({ status: status!, seconds: ended! - started!, reattached: true });
    } else if (verb === 'ATTACH' || verb === 'LAUNCHED') {
      pid = fields[0]!;
      startedEpoch = Number(fields[1]);
      const remoteNow = Number(fields[2]);
      reattached = verb === 'ATTACH';
      deadline = Date.now() + (startedEpoch + spark.SPARK_STAGE_TIMEOUT_MINUTES * 60 - remoteNow) * 1000;
      log.info(
        reattached
          ? `${stage} ${batchDate}: re-attached to the running driver (session ${pid}) of this run`
          : `${stage} ${batchDate}: launched driver (session ${pid}) on ${host}; log ${dir}/log`,
      );
    } else if (verb === 'BUSY') {
      throw new Error(`another attempt holds the driver lock ${dir}.lock on ${host}; retrying`);
    } else {
      throw new Error(`unexpected answer from the driver launcher on ${host}: ${launch.stdout.trim()}`);
    }

    // Follow the log. A retry of the same attempt chain resumes from the last heartbeat's offset.
    const previous = ctx?.info.heartbeatDetails as { pid?: string; offset?: number } | undefined;
    let offset = previous?.pid === pid && typeof previous.offset === 'number' ? previous.offset : 0;
    let lastLine = '';
    const splitter = new LineSplitter((line) => {
      lastLine = line;
      log.info(`[${stage} driver] ${line}`);
    });
    const progress = () => ({ stage, batchDate, pid, offset, lastLine: lastLine.slice(0, 300), reattached });

    const killDriver = async (why: string) => {
      log.warn(`${stage} ${batchDate}: killing driver session ${pid} on ${host}: ${why}`);
      const r = await ssh.run(host, killScript({ dir, pid, app, graceSeconds: timing.killGraceSeconds }), {
        timeoutMs: (timing.killGraceSeconds + 30) * 1000,
      });
      log.info(`${stage} ${batchDate}: ${r.stdout.trim()}`);
    };

    let timedOut = false;
    try {
      await withHeartbeat(
        progress,
        async () => {
          if (signal?.aborted) throw signal.reason;
          let lastContact = Date.now();
          for (;;) {
            // Timers cannot exceed ~24 days; a longer stage timeout just follows again when this one fires.
            const timer = AbortSignal.timeout(Math.min(2_000_000_000, Math.max(1, deadline - Date.now())));
            const followSignal = signal ? AbortSignal.any([signal, timer]) : timer;
            try {
              await ssh.exec(host, followScript({ dir, pid, app, offset }), {
                signal: followSignal,
                onStdoutData: (chunk) => {
                  offset += chunk.length;
                  splitter.push(chunk);
                },
                onStderrLine: () => {
                  lastContact = Date.now();
                },
              });
              return;
            } catch (err) {
              if (signal?.aborted) throw signal.reason;
              if (timer.aborted) {
                if (Date.now() < deadline) continue;
                timedOut = true;
                throw err;
              }
              if (
                !(err instanceof SshConnectionError) ||
                Date.now() - lastContact > timing.followReconnectMs
              ) {
                throw err;
              }
              log.warn(
                `${stage}: lost the connection while following the driver, reconnecting: ${err.message}`,
              );
              await sleep(5_000, signal);
            }
          }
        },
        timing.heartbeatIntervalMs,
      );
    } catch (err) {
      splitter.end();
      if (signal?.aborted) {
        if (cancellationKillsDriver(signal.reason)) {
          await killDriver('the activity was cancelled').catch((e: unknown) =>
            log.error(`${stage}: could not kill driver ${pid}: ${errorMessage(e)}`),
          );
        } else {
          log.info(
            `${stage}: leaving driver ${pid} running for the next attempt (${errorMessage(signal.reason)})`,
          );
        }
        throw signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure('cancelled');
      }
      if (timedOut) {
        await killDriver(`it exceeded SPARK_STAGE_TIMEOUT_MINUTES=${spark.SPARK_STAGE_TIMEOUT_MINUTES}`);
        const tail = await tailLog(host, dir);
        throw ApplicationFailure.nonRetryable(
          `${stage} for ${batchDate} ran longer than ${spark.SPARK_STAGE_TIMEOUT_MINUTES} min and was killed. ` +
            `Last driver output:\n${tail.join('\n')}`,
          'SparkStageTimeout',
          { stage, batchDate, lastLines: tail },
        );
      }
      throw err;
    }

    // The driver session has ended: stream what is left of the log and read the exit status.
    const rest = await ssh.exec(
      host,
      sh`tail -c +${offset + 1} ${path.posix.join(dir, 'log')}; cat ${path.posix.join(dir, 'exit')} >&2 || echo none >&2`,
      {
        timeoutMs: 120_000,
        onStdoutData: (chunk) => {
          offset += chunk.length;
          splitter.push(chunk);
        },
      },
    );
    splitter.end();
    heartbeat(progress());
    const exitLine = lastLines(rest.stderr, 1)[0] ?? 'none';
    const [status, ended] = exitLine.split(' ').map(Number);
    if (status === undefined || Number.isNaN(status)) {
      // Killed from outside (OOM killer, reboot) before it could record a status: a retry relaunches it.
      const tail = await tailLog(host, dir);
      throw ApplicationFailure.retryable(
        `${stage} driver ${pid} for ${batchDate} died without an exit status (killed?). ` +
          `Last driver output:\n${tail.join('\n')}`,
        'SparkDriverLost',
      );
    }
    return finish({ status, seconds: ended! - startedEpoch, reattached });

    async function finish(r: { status: number; seconds: number; reattached: boolean }): Promise<StageResult> {
      const tail = await tailLog(host, dir);
      if (r.status !== 0) {
        throw ApplicationFailure.nonRetryable(
          `${stage} for ${batchDate} failed: spark-submit exited with status ${r.status}. Last driver output:\n` +
            tail.join('\n'),
          'SparkJobFailed',
          { stage, batchDate, exitStatus: r.status, lastLines: tail },
        );
      }
      log.info(
        `${stage} for ${batchDate} succeeded in ${r.seconds} s${r.reattached ? ' (re-attached)' : ''}`,
      );
      return { stage, seconds: r.seconds, reattached: r.reattached, lastLines: tail };
    }
  }

  async function tailLog(host: string, dir: string, lines = 30): Promise<string[]> {
    try {
      const r = await ssh.exec(host, sh`tail -n ${lines} ${path.posix.join(dir, 'log')}`, {
        timeoutMs: 60_000,
      });
      return lastLines(r.stdout, lines);
    } catch (err) {
      return [`(could not read the driver log: ${errorMessage(err)})`];
    }
  }

  async function installDeps(info: ClusterInfo): Promise<InstallDepsResult> {
    const started = Date.now();
    const signal = currentContext()?.cancellationSignal;
    const packages = spark.SPARK_PYTHON_PACKAGES;
    const addresses = [
      ...new Set([info.masterPrivateIp, ...info.workerPrivateIps].map((ip) => sshAddress(config.ssh, ip))),
    ];
    if (packages.length === 0) {
      return { hosts: addresses.length, hostAddresses: addresses, packages, seconds: 0 };
    }
    const done = new Set<string>();
    await withHeartbeat(
      () => ({ phase: 'pip install', packages, done: [...done], hosts: addresses }),
      () =>
        Promise.all(
          addresses.map(async (address) => {
            const r = await ssh.exec(
              address,
              sh`${spark.SPARK_PYTHON} -m pip install --disable-pip-version-check --no-input ${packages}`,
              { signal, timeoutMs: 30 * 60_000, ...toLog(`[pip ${address}]`) },
            );
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
            done.add(address);
          }),
        ),
      timing.heartbeatIntervalMs,
    );
    const result = {
      hosts: addresses.length,
      hostAddresses: addresses,
      packages,
      seconds: (Date.now() - started) / 1000,
    };
    log.info(`installed ${packages.join(' ')} on ${addresses.join(', ')} in ${result.seconds.toFixed(1)} s`);
    return result;
  }

  return {
    /**
     * Writes conf/workers, runs start-all.sh and the history server, and waits until every worker is
     * ALIVE. Idempotent (a complete cluster returns at once). Suggested: startToCloseTimeout 10 min,
     * heartbeatTimeout 30 s, 3 attempts: missing workers are retryable, a worker may just be slow.
     */
    async start_spark(input: StepInput): Promise<StartSparkResult> {
      validDate(input);
      return ensureSparkRunning(await cluster());
    },

    /**
     * Fetches the job code into <SPARK_JOB_DIR>/stage1|stage2 on the master via presigned URLs and curl
     * (the master needs no AWS credentials), atomically per stage. Suggested: startToCloseTimeout 15 min,
     * heartbeatTimeout 30 s, 3 attempts; empty code prefix is non-retryable.
     */
    async download_code(input: StepInput): Promise<DownloadCodeResult> {
      validDate(input);
      return downloadCode(await cluster());
    },

    /**
     * pip-installs SPARK_PYTHON_PACKAGES with SPARK_PYTHON on the master and every worker (each host once).
     * Quick when already installed. Suggested: startToCloseTimeout 30 min, heartbeatTimeout 30 s,
     * 3 attempts (network hiccups); unknown packages / externally-managed Python are non-retryable.
     */
    async install_deps(input: StepInput): Promise<InstallDepsResult> {
      validDate(input);
      return installDeps(await cluster());
    },

    /**
     * spark-submit of stage1, detached on the master and followed. Suggested: startToCloseTimeout a bit
     * above SPARK_STAGE_TIMEOUT_MINUTES, heartbeatTimeout 30 s (heartbeats every 5 s), 3 attempts: a retry
     * re-attaches to the running driver. A failed job is non-retryable, with the driver's last lines.
     */
    run_stage1: (input: StepInput) => runStage('stage1', input),
    /** As run_stage1, for stage2. */
    run_stage2: (input: StepInput) => runStage('stage2', input),

    /**
     * Kills our drivers still running, then stop-all.sh and the history server. Idempotent; a master
     * instance that is not running means nothing to stop. Suggested: startToCloseTimeout 5 min,
     * heartbeatTimeout 30 s, many retries: it is cleanup.
     */
    async stop_spark(input: StepInput): Promise<StopSparkResult> {
      const started = Date.now();
      const instances = await describeCluster(deps);
      const master = instances.find((i) => i.role === 'master')!;
      if (master.state !== 'running' || !master.privateIp) {
        log.info(
          `stop_spark for ${input.batchDate}: master ${master.id} is ${master.state}, nothing to stop`,
        );
        return { masterRunning: false, driversKilled: [], seconds: (Date.now() - started) / 1000 };
      }
      const host = sshAddress(config.ssh, master.privateIp);
      const signal = currentContext()?.cancellationSignal;
      return withHeartbeat(
        () => ({ phase: 'stopping Spark', host }),
        async () => {
          const killed = await ssh.run(
            host,
            killAllDriversScript({ jobDir: spark.SPARK_JOB_DIR, graceSeconds: timing.killGraceSeconds }),
            { signal, timeoutMs: 5 * 60_000 },
          );
          const driversKilled = killed.stdout
            .split('\n')
            .filter((l) => l.startsWith('KILLED '))
            .map((l) => l.slice('KILLED '.length));
          if (driversKilled.length) log.warn(`killed driver(s) still running: ${driversKilled.join(', ')}`);
          await ssh.run(host, stopDaemonsScript({ sparkHome: spark.SPARK_HOME, waitSeconds: 30 }), {
            signal,
            timeoutMs: 5 * 60_000,
            ...toLog('[stop-spark]'),
          });
          const info: ClusterInfo = {
            masterInstanceId: master.id,
            masterPrivateIp: master.privateIp!,
            workerInstanceIds: [],
            workerPrivateIps: [],
          };
          const after = await masterStatus(info, signal);
          if (after) {
            throw new Error(`the Spark master at ${statusUrl(info)} still answers after stop-all.sh`);
          }
          log.info(`Spark stopped on ${host}`);
          return { masterRunning: true, driversKilled, seconds: (Date.now() - started) / 1000 };
        },
        timing.heartbeatIntervalMs,
      );
    },
  };
}
