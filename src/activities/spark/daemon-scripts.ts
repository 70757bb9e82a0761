/**
 * The remote shell scripts of start_spark and stop_spark (composed with the `sh` template, every argument
 * quoted). They drive Spark's own sbin/ scripts, stock or not: start-master.sh, start-workers.sh (which
 * reaches the worker hosts over SSH), start-history-server.sh, stop-all.sh, stop-history-server.sh, and
 * spark-daemon.sh's pid files. Pure text, unit-tested with a local /bin/sh and a stand-in SPARK_HOME.
 */
import path from 'node:path';
import { sh, type ShellCommand } from '../remote';
import { killDriversPart } from './scripts';

/**
 * Runs a start script in a session of its own, so the daemons it leaves behind do not belong to our SSH
 * command (which is killed with its channel when we give up waiting or are cancelled).
 */
export const startDaemons = (script: string): ShellCommand => sh`setsid -w ${script}`;

/** Where start_spark's launches leave their output and exit status on the master. */
export const startStateDir = (jobDir: string) => path.posix.join(jobDir, '.spark-start');

/** The start scripts start_spark launches, by the name of their state files. */
export const START_SCRIPTS = {
  master: 'start-master.sh',
  workers: 'start-workers.sh',
  history: 'start-history-server.sh',
} as const;
export type StartScript = keyof typeof START_SCRIPTS;

/**
 * start_spark's launch, in one remote script that returns as soon as everything is launched: conf/workers,
 * then start-master.sh, the workers' start-workers.sh once the master's RPC port accepts connections
 * (polled every 0.1 s, at most `masterWaitSeconds`, then they start anyway), then the history server (when
 * enabled and not running) at a lower priority: it reads every event log at its start, CPU the master
 * and workers need more. Each start script runs detached in a session of its own, its output in
 * `<stateDir>/<name>.log` and its exit status in `<stateDir>/<name>.exit` once it ends (startReportScript
 * reads them): Spark's spark-daemon.sh spends 2.5 s or more after each JVM's start (a poll for the java
 * process, then a fixed `sleep 2`), and nothing waits for that; whether the workers came up is read from
 * the master's status. A worker started before its master listens registers only on its next try, 5 to
 * 15 s later; the worker's own start (JVM, RPC, web UI) outlasts what the master still does after binding
 * its RPC port (web UI, leader election). Prints `MASTER_LISTENS yes|no`.
 */
export function startSparkScript(p: {
  sparkHome: string;
  workers: string[];
  historyServer: boolean;
  stateDir: string;
  /** The master's RPC address as the master itself reaches it. */
  masterHost: string;
  masterPort: number;
  masterWaitSeconds: number;
}): ShellCommand {
  const sbin = path.posix.join(p.sparkHome, 'sbin');
  const conf = path.posix.join(p.sparkHome, 'conf');
  return sh`set -u
SPARK_HOME=${p.sparkHome}; export SPARK_HOME
sbin=${sbin}; conf=${conf}; st=${p.stateDir}; host=${p.masterHost}; port=${p.masterPort}; wait_s=${p.masterWaitSeconds}
mkdir -p "$conf" && printf '%s\\n' ${p.workers} > "$conf/.workers.$$" && mv -f "$conf/.workers.$$" "$conf/workers" || exit 2
mkdir -p "$st" && rm -f "$st"/*.log "$st"/*.exit || exit 2
launch() {
  name=$1; shift
  setsid sh -c '"$@" > "$0.log" 2>&1 < /dev/null; echo $? > "$0.exit.tmp"; mv -f "$0.exit.tmp" "$0.exit"' "$st/$name" "$@" > /dev/null 2>&1 < /dev/null &
}
listening() { bash -c 'exec 3<> "/dev/tcp/$0/$1"' "$host" "$port" > /dev/null 2>&1; }
launch master "$sbin/${START_SCRIPTS.master}"
i=0
until listening; do
  i=$((i + 1))
  if [ "$i" -ge $((wait_s * 10)) ]; then break; fi
  sleep 0.1
done
if [ "$i" -ge $((wait_s * 10)) ]; then echo "MASTER_LISTENS no"; else echo "MASTER_LISTENS yes"; fi
launch workers "$sbin/${START_SCRIPTS.workers}"
if [ ${p.historyServer ? 'yes' : 'no'} = yes ] && ! "$sbin/spark-daemon.sh" status org.apache.spark.deploy.history.HistoryServer 1 > /dev/null 2>&1; then
  launch history nice -n 10 "$sbin/${START_SCRIPTS.history}"
fi
exit 0
`;
}

/**
 * What the start scripts of the last start_spark printed: per script launched, `EXIT <name> <status>` once
 * it ended (`RUNNING <name>` before), then its last lines as `LOG <name> <line>`.
 */
export function startReportScript(p: { stateDir: string; lines: number }): ShellCommand {
  return sh`st=${p.stateDir}; n=${p.lines}
for name in ${Object.keys(START_SCRIPTS)}; do
  [ -f "$st/$name.log" ] || continue
  if [ -f "$st/$name.exit" ]; then echo "EXIT $name $(cat "$st/$name.exit")"; else echo "RUNNING $name"; fi
  tail -n "$n" "$st/$name.log" | sed "s/^/LOG $name /"
done
exit 0
`;
}

/** Parses startReportScript's output: per script, its exit status (undefined while it runs) and last lines. */
export function parseStartReport(out: string): Map<StartScript, { exit?: number; lines: string[] }> {
  const report = new Map<StartScript, { exit?: number; lines: string[] }>();
  const entry = (name: string) => {
    if (!(name in START_SCRIPTS)) return undefined;
    const key = name as StartScript;
    if (!report.has(key)) report.set(key, { lines: [] });
    return report.get(key)!;
  };
  for (const line of out.split('\n')) {
    const m = /^(EXIT|RUNNING|LOG) (\w+)(?: (.*))?$/.exec(line);
    const e = m && entry(m[2]!);
    if (!e) continue;
    if (m[1] === 'EXIT') e.exit = Number(m[3]);
    else if (m[1] === 'LOG') e.lines.push(m[3] ?? '');
  }
  return report;
}

/**
 * stop_spark in one remote script: kills our drivers still running (KILLED <folder> lines), prints the
 * last lines start-history-server.sh wrote at the last start_spark (HISTORY_LOG <line>), then stops the
 * daemons (stopDaemonsScript).
 */
export function stopSparkScript(p: {
  jobDir: string;
  graceSeconds: number;
  sparkHome: string;
  termGraceSeconds: number;
  killWaitSeconds: number;
  startStateDir: string;
}): ShellCommand {
  const historyLog = path.posix.join(p.startStateDir, 'history.log');
  return sh`${killDriversPart(p)}
if [ -f ${historyLog} ]; then tail -n 4 ${historyLog} | sed 's/^/HISTORY_LOG /'; fi
${stopDaemonsScript(p)}`;
}

/**
 * From stop_spark's output: why job history is missing when the history server was expected but was not
 * running when Spark was stopped (start-history-server.sh returns 0 even when its server dies at once,
 * so start_spark cannot tell); undefined when it ran.
 */
export function historyServerNote(stdout: string): string | undefined {
  if (!/^HISTORY_SERVER absent$/m.test(stdout)) return undefined;
  const said = stdout
    .split('\n')
    .filter((l) => l.startsWith('HISTORY_LOG '))
    .map((l) => l.slice('HISTORY_LOG '.length).trim())
    .filter(Boolean);
  return (
    "the Spark history server was not running when Spark was stopped: this session's jobs are in the event " +
    `logs but its UI did not serve them${said.length ? `; start-history-server.sh said: ${said.join(' | ')}` : ''}`
  );
}

/**
 * Stops this host's daemons and returns once they are gone. Every daemon of this host (spark-daemon.sh's pid
 * files in SPARK_PID_DIR, from conf/spark-env.sh read by Spark's own bash loader) gets its SIGTERM at once;
 * stop-all.sh (which reaches the workers on other hosts) and stop-history-server.sh run beside the wait.
 * A daemon still there `termGraceSeconds` after its SIGTERM gets SIGKILL, with a `daemon <pid> (<class>)
 * did not stop in N s, killed` line (and `HISTORY_SERVER running|absent` first): a Spark daemon's JVM runs its shutdown at once but then lingers about
 * 2 s (its network threads' quiet period), and the instances are stopped right after. Fails (exit 1) when a
 * daemon is still there `killWaitSeconds` after its SIGKILL, or when a stop script failed.
 */
export function stopDaemonsScript(p: {
  sparkHome: string;
  termGraceSeconds: number;
  killWaitSeconds: number;
}): ShellCommand {
  return sh`SPARK_HOME=${p.sparkHome}; export SPARK_HOME; grace=${p.termGraceSeconds}; kill_wait=${p.killWaitSeconds}
piddir=$(bash -c '. "$SPARK_HOME/bin/load-spark-env.sh" >/dev/null 2>&1; echo "\${SPARK_PID_DIR:-/tmp}"')
running() { st=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$st" ] && [ "\${st#Z}" = "$st" ]; }
daemons=
for f in "$piddir"/spark-*-org.apache.spark.deploy.*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f" 2>/dev/null || true)
  case "$pid" in ''|*[!0-9]*) continue ;; esac
  if running "$pid" && [ "$(ps -o comm= -p "$pid")" = java ]; then
    kill -TERM "$pid" 2>/dev/null || true
    cls=\${f##*org.apache.spark.deploy.}; daemons="$daemons $pid:\${cls%.pid}"
  fi
done
case "$daemons" in *:history.HistoryServer*) echo "HISTORY_SERVER running" ;; *) echo "HISTORY_SERVER absent" ;; esac
out=$(mktemp) || exit 1
{ "$SPARK_HOME/sbin/stop-all.sh"; echo "STOP_ALL_EXIT $?"; "$SPARK_HOME/sbin/stop-history-server.sh"; echo "STOP_HISTORY_EXIT $?"; } > "$out" 2>&1 < /dev/null &
stops=$!
gone() { for d in $daemons; do running "\${d%%:*}" && return 1; done; return 0; }
i=0
while ! gone && [ "$i" -lt $((grace * 10)) ]; do sleep 0.1; i=$((i + 1)); done
for d in $daemons; do
  pid=\${d%%:*}
  if running "$pid" && [ "$(ps -o comm= -p "$pid")" = java ]; then
    echo "daemon $pid (\${d#*:}) did not stop in $grace s, killed"; kill -KILL "$pid" 2>/dev/null || true
  fi
done
i=0
while ! gone && [ "$i" -lt $((kill_wait * 10)) ]; do sleep 0.1; i=$((i + 1)); done
wait "$stops"
cat "$out"
a=$(sed -n 's/^STOP_ALL_EXIT //p' "$out"); b=$(sed -n 's/^STOP_HISTORY_EXIT //p' "$out"); rm -f "$out"
left=
for d in $daemons; do running "\${d%%:*}" && left="$left \${d%%:*}"; done
if [ -n "$left" ]; then echo "daemon(s)$left still running $kill_wait s after SIGKILL" >&2; exit 1; fi
[ "$a" = 0 ] && [ "$b" = 0 ]
`;
}
