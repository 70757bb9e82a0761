/**
 * The remote shell scripts of the Spark steps, composed with the `sh` template (every argument quoted):
 * the spark-submit argv of the job contract, the driver launcher / follower / killer, and download_code's
 * helpers (the daemons' start and stop scripts are in daemon-scripts.ts). Pure text, so they are
 * unit-tested by running them with a local /bin/sh.
 *
 * Driver state lives on the master under `<SPARK_JOB_DIR>/run/<date>-<stage>/`:
 *   owner    "<workflowId> <runId>" of the run that launched the driver
 *   pid      session id of the driver (its wrapper shell; spark-submit's JVM and Python run inside it)
 *   app      the application name, used to verify that a pid still belongs to our driver
 *   started  launch time (epoch seconds, master clock)
 *   log      driver stdout+stderr
 *   exit     "<status> <epoch>", written when the driver ends
 */
import path from 'node:path';
import type { S3Config, SparkConfig } from '../../config';
import { stageJob } from '../../config/spark-stages';
import { raw, sh, type ShellCommand } from '../remote';

export type Stage = 'stage1' | 'stage2';
export const STAGES: readonly Stage[] = ['stage1', 'stage2'];

export interface SubmitParams {
  stage: Stage;
  batchDate: string;
  masterUrl: string;
}

export const appName = (stage: Stage, batchDate: string) => `pothole-${stage}-${batchDate}`;

/** Where a stage's code lives on the master: `<SPARK_JOB_DIR>/<stage>`. */
export const stageDir = (spark: SparkConfig, stage: Stage) => path.posix.join(spark.SPARK_JOB_DIR, stage);

/**
 * The spark-submit argv of the Spark job contract; every part comes from configuration, the stage's
 * entry file, --py-files, own --conf entries and arguments from SPARK_STAGEn_* (the reference layout
 * by default).
 */
export function sparkSubmitArgs(config: { spark: SparkConfig; s3: S3Config }, p: SubmitParams): string[] {
  const { spark, s3 } = config;
  const dir = stageDir(spark, p.stage);
  const job = stageJob(spark, p.stage, p.batchDate);
  const pyFiles = job.pyFiles.map((f) => path.posix.join(dir, f));
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
    ...job.conf.flatMap((c) => ['--conf', c]),
    ...(pyFiles.length ? ['--py-files', pyFiles.join(',')] : []),
    path.posix.join(dir, job.entry),
    ...job.args,
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

/** Kills every driver still running under <SPARK_JOB_DIR>/run/, printing KILLED <folder> (no exit). */
export function killDriversPart(p: { jobDir: string; graceSeconds: number }): ShellCommand {
  return sh`run=${path.posix.join(p.jobDir, 'run')}; grace=${p.graceSeconds}
${DRIVER_FUNCTIONS}
for f in "$run"/*/pid; do
  [ -f "$f" ] || continue
  d=$(dirname "$f"); pid=$(cat "$f" 2>/dev/null || true); app=$(cat "$d/app" 2>/dev/null || true)
  [ -n "$app" ] || continue
  if driver_alive "$pid" "$app"; then kill_driver "$pid" "$grace" || true; echo "KILLED $(basename "$d")"; fi
done`;
}

/** The watchdog's driver cleanup: every driver still running under <SPARK_JOB_DIR>/run/, printing KILLED <folder>. */
export function killAllDriversScript(p: { jobDir: string; graceSeconds: number }): ShellCommand {
  return sh`${killDriversPart(p)}
exit 0
`;
}

/** The record of a stage's last download on the master: `<SPARK_JOB_DIR>/.pothole-code-manifest.<stage>`. */
export const manifestName = (stage: Stage) => `.pothole-code-manifest.${stage}`;

/**
 * download_code's shell functions (constant text; the data comes in quoted arguments). A manifest line is
 * `<ETag> TAB <size> TAB <sha256 of the file as downloaded> TAB <path in the stage folder>`.
 * kept STAGE REL ETAG SIZE: the master's copy is the file the last download recorded for that S3 object.
 * record STAGE REL ETAG SIZE: adds the file now in the new folder to the new manifest.
 * gone STAGE: prints REMOVED <stage>/<path> for each file of the last download that S3 no longer has.
 */
export const CODE_MANIFEST_FUNCTIONS = raw(`
kept() {
  m="$job/.pothole-code-manifest.$1"; f="$job/$1/$2"
  [ -f "$m" ] && [ -f "$f" ] || return 1
  want=$(E="$3" S="$4" R="$2" awk -F '\\t' '$1 == ENVIRON["E"] && $2 == ENVIRON["S"] && $4 == ENVIRON["R"] { print $3; exit }' "$m")
  [ -n "$want" ] && [ "$(sha256sum < "$f" | cut -d ' ' -f 1)" = "$want" ]
}
record() {
  printf '%s\\t%s\\t%s\\t%s\\n' "$3" "$4" "$(sha256sum < "$tmp/$1/$2" | cut -d ' ' -f 1)" "$2" >> "$tmp/.pothole-code-manifest.$1"
}
gone() {
  [ -f "$job/.pothole-code-manifest.$1" ] || return 0
  awk -F '\\t' -v s="$1" 'NR == FNR { new[$4] = 1; next } !($4 in new) { print "REMOVED " s "/" $4 }' "$tmp/.pothole-code-manifest.$1" "$job/.pothole-code-manifest.$1"
}
`);

/** A curl config line naming `url` (curl -K): quoted, with curl's own escapes for backslash and double quote. */
export function curlConfigUrl(url: string): string {
  if (/[\r\n]/.test(url)) throw new Error('a URL cannot span lines');
  return `url = "${url.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
