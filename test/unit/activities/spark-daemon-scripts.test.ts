/**
 * start_spark's and stop_spark's remote scripts, run by a real local /bin/sh against a stand-in SPARK_HOME
 * whose sbin/ scripts behave like Spark's (spark-daemon.sh's pid files, a start that returns seconds after
 * the daemon is up, stops that only signal).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  parseStartReport,
  startReportScript,
  startSparkScript,
  stopDaemonsScript,
  historyServerNote,
} from '../../../src/activities/spark/daemon-scripts';
import type { ShellCommand } from '../../../src/activities/shell-quote';

let dir: string;
const runSh = (cmd: ShellCommand, timeoutMs = 30_000) => {
  const r = spawnSync('/bin/sh', ['-c', cmd.text], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
/** A live (non-zombie) process. */
const alive = (pid: string) => {
  const st = spawnSync('ps', ['-o', 'stat=', '-p', pid], { encoding: 'utf8' }).stdout.trim();
  return st !== '' && !st.startsWith('Z');
};
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, cond: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleepMs(50);
  }
}

/** Processes started by a test, killed at the end whatever happened. */
const leftovers: string[] = [];
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-daemon-scripts-test-'));
});
after(() => {
  for (const pid of leftovers) spawnSync('kill', ['-KILL', pid]);
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---- starting the daemons ------------------------------------------------------------------------------

/** A free TCP port on 127.0.0.1 (nothing listens on it when this returns). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * A SPARK_HOME whose start scripts log when they ran (epoch ms, and whether the master's port accepted
 * then) to `<home>/calls`. start-master.sh starts a stand-in master that listens on `port` after
 * `listenAfter` seconds (forever, or `listenFor` seconds), then returns after `masterSeconds` like
 * spark-daemon.sh's fixed wait; start-workers.sh returns after `workersSeconds` with `workersExit`.
 */
function fakeStartHome(opts: {
  port: number;
  listenAfter?: number;
  listenFor?: number;
  masterSeconds?: number;
  workersSeconds?: number;
  workersExit?: number;
  historyRunning?: boolean;
}) {
  const home = path.join(dir, `start-home-${Math.random().toString(36).slice(2)}`);
  fs.mkdirSync(path.join(home, 'sbin'), { recursive: true });
  const calls = path.join(home, 'calls');
  const accepts = `python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(("127.0.0.1", ${opts.port})))'`;
  const record = (name: string) =>
    `echo "${name} $(date +%s%3N) $(${accepts} && echo listening || echo closed)" >> ${calls}`;
  const listener =
    `import socket, time; time.sleep(${opts.listenAfter ?? 0}); s = socket.socket(); ` +
    `s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", ${opts.port})); s.listen(5); ` +
    `time.sleep(${opts.listenFor ?? 3600})`;
  const scripts: Record<string, string> = {
    'start-master.sh': `${record('master')}\nsetsid python3 -c '${listener}' > /dev/null 2>&1 < /dev/null &\necho $! > ${home}/master.pid\necho "starting Master"\nsleep ${opts.masterSeconds ?? 0}\nexit 0\n`,
    'start-workers.sh': `${record('workers')}\necho "starting Workers"\nsleep ${opts.workersSeconds ?? 0}\necho "worker 2 failed to launch" >&2\nexit ${opts.workersExit ?? 0}\n`,
    'start-history-server.sh': `${record('history')}\nexit 0\n`,
    'spark-daemon.sh': `exit ${opts.historyRunning ? 0 : 1}\n`,
  };
  for (const [name, body] of Object.entries(scripts)) {
    fs.writeFileSync(path.join(home, 'sbin', name), `#!/bin/sh\n${body}`, { mode: 0o755 });
  }
  const readCalls = () =>
    fs.existsSync(calls)
      ? fs
          .readFileSync(calls, 'utf8')
          .trim()
          .split('\n')
          .map((l) => {
            const [name, at, port] = l.split(' ');
            return { name: name!, at: Number(at), port: port! };
          })
      : [];
  const masterPid = () => fs.readFileSync(path.join(home, 'master.pid'), 'utf8').trim();
  return { home, stateDir: path.join(home, 'state'), readCalls, masterPid };
}

const startScript = (
  f: { home: string; stateDir: string },
  port: number,
  extra: Partial<Parameters<typeof startSparkScript>[0]> = {},
) =>
  startSparkScript({
    sparkHome: f.home,
    workers: ['10.0.1.11', '10.0.1.12'],
    historyServer: true,
    stateDir: f.stateDir,
    masterHost: '127.0.0.1',
    masterPort: port,
    masterWaitSeconds: 20,
    ...extra,
  });

test('startSparkScript starts the workers once the master listens, and returns without waiting for the start scripts', async () => {
  const port = await freePort();
  const f = fakeStartHome({ port, listenAfter: 1, masterSeconds: 4, workersSeconds: 4 });
  const started = Date.now();
  const r = runSh(startScript(f, port));
  const seconds = (Date.now() - started) / 1000;
  leftovers.push(f.masterPid());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^MASTER_LISTENS yes$/m);
  assert.equal(fs.readFileSync(path.join(f.home, 'conf', 'workers'), 'utf8'), '10.0.1.11\n10.0.1.12\n');
  await waitFor('the three start scripts ran', () => f.readCalls().length === 3);
  const calls = Object.fromEntries(f.readCalls().map((c) => [c.name, c]));
  assert.equal(calls.master!.port, 'closed', 'the master script ran before the master listened');
  assert.equal(calls.workers!.port, 'listening', 'the workers started once the master listened');
  assert.ok(calls.workers!.at - calls.master!.at >= 900, 'the workers waited for the master');
  assert.ok(calls.history, 'the history server is started');
  assert.ok(
    seconds < 3.5,
    `returned after ${seconds} s: neither the master's nor the workers' 4 s start script was waited for`,
  );
  await waitFor('the start scripts ended', () =>
    ['master', 'workers', 'history'].every((n) => fs.existsSync(path.join(f.stateDir, `${n}.exit`))),
  );
});

test("startReportScript tells each start script's exit status and last lines; a running one is RUNNING", async () => {
  const port = await freePort();
  const f = fakeStartHome({ port, workersSeconds: 2, workersExit: 3, historyRunning: true });
  assert.equal(runSh(startScript(f, port)).code, 0);
  leftovers.push(f.masterPid());
  const report = () => parseStartReport(runSh(startReportScript({ stateDir: f.stateDir, lines: 4 })).stdout);
  await waitFor('the master script ended', () => report().get('master')?.exit === 0);
  await waitFor('the workers script printed', () => report().get('workers')?.lines.length === 1);
  assert.deepEqual(report().get('workers'), { lines: ['starting Workers'] }, 'still running: no exit status');
  assert.equal(report().has('history'), false, 'a running history server is not started again');
  await waitFor('the workers script ended', () => report().get('workers')?.exit !== undefined);
  assert.deepEqual(report().get('workers'), {
    exit: 3,
    lines: ['starting Workers', 'worker 2 failed to launch'],
  });
  assert.deepEqual(report().get('master'), { exit: 0, lines: ['starting Master'] });
});

test('startSparkScript starts the workers anyway when the master does not listen in time, and says so', async () => {
  const port = await freePort();
  const f = fakeStartHome({ port, listenAfter: 30 });
  const r = runSh(startScript(f, port, { masterWaitSeconds: 1, historyServer: false }));
  leftovers.push(f.masterPid());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^MASTER_LISTENS no$/m);
  await waitFor('the workers script ran', () => f.readCalls().some((c) => c.name === 'workers'));
  assert.deepEqual(
    f.readCalls().map((c) => c.name),
    ['master', 'workers'],
    'no history server when it is off',
  );
});

test('startSparkScript fails with exit 2 when conf/workers cannot be written', () => {
  const f = { home: path.join(dir, 'missing-home'), stateDir: path.join(dir, 'missing-home-state') };
  fs.writeFileSync(f.home, 'a file where SPARK_HOME should be');
  const r = runSh(startScript(f, 1));
  assert.equal(r.code, 2);
});

test('parseStartReport ignores unknown names and other lines', () => {
  const report = parseStartReport('EXIT master 0\nLOG master a b\nEXIT other 1\nnoise\nRUNNING workers\n');
  assert.deepEqual(
    [...report.entries()],
    [
      ['master', { exit: 0, lines: ['a b'] }],
      ['workers', { lines: [] }],
    ],
  );
});

// ---- stopping the daemons, against a stand-in SPARK_HOME ----------------------------------------------

/** A SPARK_HOME whose bash env loader sets SPARK_PID_DIR, and whose stop scripts stop daemons asynchronously. */
function fakeSparkHome(): { home: string; pidDir: string } {
  const home = path.join(dir, `spark-home-${Math.random().toString(36).slice(2)}`);
  const pidDir = path.join(home, 'pids');
  fs.mkdirSync(path.join(home, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(home, 'sbin'));
  fs.mkdirSync(path.join(home, 'conf'));
  fs.mkdirSync(pidDir);
  // Like Spark's own loader: bash syntax, so it must not be sourced by /bin/sh.
  fs.writeFileSync(
    path.join(home, 'bin', 'load-spark-env.sh'),
    '#!/usr/bin/env bash\nif [[ -f "${SPARK_HOME}/conf/spark-env.sh" ]]; then set -a; . "${SPARK_HOME}/conf/spark-env.sh"; set +a; fi\n',
  );
  fs.writeFileSync(path.join(home, 'conf', 'spark-env.sh'), `SPARK_PID_DIR=${pidDir}\n`);
  // spark-daemon.sh stop only sends SIGTERM and returns; the JVM takes a moment to exit.
  fs.writeFileSync(
    path.join(home, 'sbin', 'stop-all.sh'),
    `#!/bin/sh\nfor f in ${pidDir}/*Master*.pid; do [ -f "$f" ] || continue; p=$(cat "$f"); (sleep 1; kill "$p") & done\nrm -f ${pidDir}/*Master*.pid; exit 0\n`,
  );
  fs.writeFileSync(path.join(home, 'sbin', 'stop-history-server.sh'), '#!/bin/sh\nexit 0\n');
  for (const f of ['bin/load-spark-env.sh', 'sbin/stop-all.sh', 'sbin/stop-history-server.sh']) {
    fs.chmodSync(path.join(home, f), 0o755);
  }
  return { home, pidDir };
}

/**
 * A process whose name is `java`, like a Spark daemon: by default a copy of sleep (SIGTERM ends it at
 * once); `termSeconds` makes it take that long to exit after SIGTERM, like a JVM running its shutdown
 * hooks; `ignoreTerm` makes it ignore SIGTERM, like a hung one.
 */
function fakeDaemon(
  home: string,
  pidFile: string,
  opts: { termSeconds?: number; ignoreTerm?: boolean } = {},
): string {
  const bin = path.join(home, opts.termSeconds ? 'sh-bin' : 'sleep-bin');
  const java = path.join(bin, 'java');
  if (!fs.existsSync(java)) {
    fs.mkdirSync(bin, { recursive: true });
    fs.copyFileSync(opts.termSeconds ? '/bin/sh' : '/bin/sleep', java);
    fs.chmodSync(java, 0o755);
  }
  const body = opts.termSeconds
    ? `exec ${java} -c 'trap "trap \\"\\" TERM; sleep ${opts.termSeconds}; exit 0" TERM; while :; do sleep 0.1; done'`
    : `${opts.ignoreTerm ? "trap '' TERM; " : ''}exec ${java} 60`;
  const r = spawnSync('setsid', ['-f', 'sh', '-c', `echo $$ > ${pidFile}; ${body} >/dev/null 2>&1`]);
  assert.equal(r.status, 0);
  for (let i = 0; i < 50 && !fs.existsSync(pidFile); i++) execFileSync('sleep', ['0.05']);
  return fs.readFileSync(pidFile, 'utf8').trim();
}

test('stopDaemonsScript returns only once the daemons have exited, and kills one that hangs', () => {
  const { home, pidDir } = fakeSparkHome();
  const master = fakeDaemon(home, path.join(pidDir, 'spark-x-org.apache.spark.deploy.master.Master-1.pid'), {
    termSeconds: 1,
  });
  const hung = fakeDaemon(
    home,
    path.join(pidDir, 'spark-x-org.apache.spark.deploy.history.HistoryServer-1.pid'),
    { ignoreTerm: true },
  );
  const started = Date.now();
  const r = runSh(stopDaemonsScript({ sparkHome: home, termGraceSeconds: 2, killWaitSeconds: 5 }));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - started >= 900, 'it waited for the master to exit');
  assert.ok(!alive(master), 'the master exited');
  assert.ok(!alive(hung), 'the daemon that ignored SIGTERM was killed');
  assert.match(
    r.stdout,
    new RegExp(`daemon ${hung} \\(history\\.HistoryServer-1\\) did not stop in 2 s, killed`),
  );
  assert.doesNotMatch(r.stdout, new RegExp(`daemon ${master} `), 'the master stopped within its grace');
  assert.match(r.stdout, /^HISTORY_SERVER running$/m, 'the history server was among them');
});

test('stopDaemonsScript signals every daemon at once: stop scripts that wait for each in turn wait for the slowest only', () => {
  const { home, pidDir } = fakeSparkHome();
  // Like the stack's stop-all.sh: SIGTERM, then wait until that daemon is gone, one daemon after the other.
  fs.writeFileSync(
    path.join(home, 'sbin', 'stop-all.sh'),
    `#!/bin/sh\nfor f in ${pidDir}/*.pid; do p=$(cat "$f"); kill "$p" 2>/dev/null; while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; rm -f "$f"; done\n`,
  );
  const daemons = ['master.Master-1', 'worker.Worker-1', 'worker.Worker-2'].map((d) =>
    fakeDaemon(home, path.join(pidDir, `spark-x-org.apache.spark.deploy.${d}.pid`), { termSeconds: 2 }),
  );
  const started = Date.now();
  const r = runSh(stopDaemonsScript({ sparkHome: home, termGraceSeconds: 5, killWaitSeconds: 5 }));
  const seconds = (Date.now() - started) / 1000;
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    daemons.filter((p) => alive(p)),
    [],
    'every daemon exited',
  );
  assert.ok(
    seconds >= 1.9 && seconds < 5.5,
    `took ${seconds} s: about 2 s for all three, not 6 s one by one`,
  );
  assert.doesNotMatch(r.stdout, /killed/, 'none had to be killed');
});

test('stopDaemonsScript kills a daemon that lingers past its grace after SIGTERM, without waiting out its exit', () => {
  const { home, pidDir } = fakeSparkHome();
  const lingering = fakeDaemon(
    home,
    path.join(pidDir, 'spark-x-org.apache.spark.deploy.worker.Worker-1.pid'),
    {
      termSeconds: 8,
    },
  );
  const started = Date.now();
  const r = runSh(stopDaemonsScript({ sparkHome: home, termGraceSeconds: 1, killWaitSeconds: 5 }));
  const seconds = (Date.now() - started) / 1000;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!alive(lingering), 'it is gone');
  assert.match(
    r.stdout,
    new RegExp(`daemon ${lingering} \\(worker\\.Worker-1\\) did not stop in 1 s, killed`),
  );
  assert.ok(seconds < 5, `took ${seconds} s: killed after its 1 s grace, not after its 8 s exit`);
});

test('stopDaemonsScript fails when a stop script fails', () => {
  const { home } = fakeSparkHome();
  fs.writeFileSync(
    path.join(home, 'sbin', 'stop-all.sh'),
    '#!/bin/sh\necho "cannot reach worker 10.0.1.12" >&2; exit 1\n',
  );
  const r = runSh(stopDaemonsScript({ sparkHome: home, termGraceSeconds: 1, killWaitSeconds: 1 }));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /cannot reach worker 10\.0\.1\.12/);
});

test('stopDaemonsScript with nothing running succeeds at once', () => {
  const { home } = fakeSparkHome();
  const r = runSh(stopDaemonsScript({ sparkHome: home, termGraceSeconds: 2, killWaitSeconds: 2 }));
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /daemon/);
  assert.match(r.stdout, /^HISTORY_SERVER absent$/m);
});

test('historyServerNote says the history server was not running, with what its start script printed', () => {
  const out = [
    'HISTORY_LOG starting org.apache.spark.deploy.history.HistoryServer, logging to /opt/spark/logs/h.out',
    'HISTORY_LOG failed to launch: nice -n 0 /opt/spark/bin/spark-class org.apache.spark.deploy.history.HistoryServer',
    'HISTORY_LOG   Exception in thread "main" java.io.FileNotFoundException: Log directory specified does not exist',
    'HISTORY_SERVER absent',
  ].join('\n');
  const note = historyServerNote(out);
  assert.match(note!, /history server was not running when Spark was stopped/);
  assert.match(
    note!,
    /start-history-server\.sh said: .*failed to launch.*Log directory specified does not exist/,
  );
  assert.equal(historyServerNote(out.replace('absent', 'running')), undefined);
  assert.match(historyServerNote('HISTORY_SERVER absent')!, /not running[^;]*$/, 'no start output: no quote');
});
