/**
 * start_spark and stop_spark: the standalone daemons on the master (master, workers over conf/workers, the
 * history server) and the wait until every expected worker is ALIVE. One remote script per step (start_spark
 * reads what its start scripts said only when it fails); the scripts are in daemon-scripts.ts.
 */
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { ClusterInfo, StartSparkResult, StepInput } from '../../shared/types';
import { currentContext, errorMessage, sleep, withHeartbeat } from '../activity-support';
import { findStopCandidates, sshAddress } from '../cluster';
import { RemoteCommandError, SshConnectionError, lastLines, sh } from '../remote';
import { checkWorkers, type SparkMasterStatus } from '../spark-status';
import type { SparkContext } from './context';
import {
  START_SCRIPTS,
  historyServerNote,
  parseStartReport,
  startDaemons,
  startReportScript,
  startSparkScript,
  startStateDir,
  stopSparkScript,
} from './daemon-scripts';

/**
 * Seconds a daemon gets between its SIGTERM and SIGKILL in stop_spark: the JVMs run their shutdown at once,
 * then linger about 2 s; the instances are stopped right after.
 */
const DAEMON_TERM_GRACE_SECONDS = 1;

export interface StopSparkResult {
  /** False when the master instance was not running (nothing to stop). */
  masterRunning: boolean;
  /** Run folders (date-stage) whose driver was still running and was killed. */
  driversKilled: string[];
  seconds: number;
  /** With SPARK_HISTORY_SERVER, when the history server was not running: what it said at its start. */
  historyServerNote?: string;
}

export function createDaemonControl(ctx: SparkContext) {
  const {
    ssh,
    spark,
    timing,
    config,
    sparkPath,
    masterSsh,
    masterHost,
    masterUrl,
    statusUrl,
    expectedWorkers,
    masterStatus,
    toLog,
  } = ctx;

  /** Waits between status polls: from 0.1 s, growing by half each time, at most the configured interval. */
  function* pollDelays(): Generator<number> {
    for (let ms = 100; ; ms = Math.min(Math.round(ms * 1.5), timing.statusPollMs)) yield ms;
  }

  /** `NAME value` lines of the start script. */
  const marker = (out: string, name: string) => new RegExp(`^${name} (\\S+)$`, 'm').exec(out)?.[1];

  /** Starts master + workers unless all expected workers are already ALIVE; waits until they are. */
  async function ensureSparkRunning(info: ClusterInfo): Promise<StartSparkResult> {
    const signal = currentContext()?.cancellationSignal;
    const expected = expectedWorkers(info);
    const url = masterUrl(info);
    const current = await masterStatus(info, signal);
    if (current?.status === 'ALIVE' && checkWorkers(current, expected).complete) {
      log.info(`Spark master ${url} already has ${current.aliveWorkers.length} ALIVE worker(s)`);
      if (spark.SPARK_HISTORY_SERVER) await startHistoryServer(info, signal);
      return { aliveWorkers: current.aliveWorkers.length, expectedWorkers: expected.length, masterUrl: url };
    }

    let phase = 'starting the daemons';
    let last: SparkMasterStatus | undefined;
    const details = () => ({ phase, alive: last?.aliveWorkers.length ?? 0, expected: expected.length });
    return withHeartbeat(
      details,
      async () => {
        const deadline = Date.now() + timing.workersTimeoutMs;
        const script = startSparkScript({
          sparkHome: spark.SPARK_HOME,
          workers: expected.map((w) => w.address),
          historyServer: spark.SPARK_HISTORY_SERVER,
          stateDir: startStateDir(spark.SPARK_JOB_DIR),
          masterHost: masterHost(info),
          masterPort: spark.SPARK_MASTER_PORT,
          masterWaitSeconds: Math.max(1, Math.round(timing.workersTimeoutMs / 2000)),
        });
        const started = await ssh
          .exec(masterSsh(info), script, {
            signal,
            timeoutMs: timing.workersTimeoutMs,
            ...toLog('[start-spark]'),
          })
          .catch((err: unknown) => {
            if (signal?.aborted) throw err;
            if (err instanceof SshConnectionError) throw err;
            return { exitCode: null, signal: null, stdout: '', stderr: errorMessage(err), truncated: false };
          });
        // Exit 2: conf/workers or the state folder could not be written. A broken connection or timeout
        // shows in the status below.
        if (started.exitCode !== null && started.exitCode !== 0) {
          throw new Error(
            `start_spark's script on ${masterSsh(info)} failed (exit ${started.exitCode ?? started.signal}): ` +
              lastLines(started.stderr || started.stdout, 5).join(' | '),
          );
        }
        const launchNotes = [
          started.exitCode === null ? `the start script did not finish (${started.stderr.trim()})` : '',
          marker(started.stdout, 'MASTER_LISTENS') === 'no'
            ? `the master's RPC port ${spark.SPARK_MASTER_PORT} did not accept connections on the master`
            : '',
        ].filter(Boolean);
        if (launchNotes.length) log.warn(`starting Spark: ${launchNotes.join('; ')}`);
        phase = `waiting for ${expected.length} workers to register`;
        const delays = pollDelays();
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
            const notes = [...launchNotes, ...(await startScriptNotes(info, signal))];
            throw ApplicationFailure.create({
              message:
                `Spark cluster at ${url} is not complete after ${Math.round(timing.workersTimeoutMs / 1000)} s: ` +
                `${what}.${notes.length ? ` ${notes.join('; ')}.` : ''} Check the worker logs under ` +
                `${sparkPath('logs')} (or SPARK_LOG_DIR) on the missing hosts.`,
              type: 'SparkWorkersMissing',
              details: [{ missingInstanceIds: check?.missingInstanceIds ?? [] }],
            });
          }
          await sleep(Math.min(delays.next().value as number, Math.max(0, deadline - Date.now())), signal);
        }
      },
      timing.heartbeatIntervalMs,
    );
  }

  /**
   * What the start scripts of this start_spark said, for its failure message: each one that exited with a
   * status other than 0 or is still running, with its last lines. Best effort: an SSH failure gives a note.
   */
  async function startScriptNotes(info: ClusterInfo, signal?: AbortSignal): Promise<string[]> {
    const r = await ssh
      .exec(masterSsh(info), startReportScript({ stateDir: startStateDir(spark.SPARK_JOB_DIR), lines: 4 }), {
        signal,
        timeoutMs: 30_000,
      })
      .catch((err: unknown) => {
        if (signal?.aborted) throw err;
        return { exitCode: null, stdout: '', stderr: errorMessage(err) };
      });
    if (r.exitCode !== 0)
      return [`(the start scripts' output could not be read: ${lastLines(r.stderr, 1).join('')})`];
    const notes: string[] = [];
    for (const [name, s] of parseStartReport(r.stdout)) {
      if (s.exit === 0) continue;
      const state = s.exit === undefined ? 'is still running' : `exited with ${s.exit}`;
      notes.push(`${START_SCRIPTS[name]} ${state}${s.lines.length ? `: ${s.lines.join(' | ')}` : ''}`);
    }
    return notes;
  }

  /** The history server alone (a complete cluster whose history server is not running). */
  async function startHistoryServer(info: ClusterInfo, signal?: AbortSignal): Promise<void> {
    const r = await ssh.exec(
      masterSsh(info),
      sh`${sparkPath('sbin', 'spark-daemon.sh')} status org.apache.spark.deploy.history.HistoryServer 1 >/dev/null 2>&1 || ${startDaemons(sparkPath('sbin', 'start-history-server.sh'))}`,
      { signal, timeoutMs: 120_000, ...toLog('[history-server]') },
    );
    if (r.exitCode !== 0) {
      // Job history is a convenience; the pipeline runs without it.
      log.warn(
        `the Spark history server did not start (exit ${r.exitCode}): ` +
          lastLines(r.stderr || r.stdout, 5).join(' | '),
      );
    }
  }

  /**
   * Kills our drivers still running and stops the daemons in one script (stopSparkScript); then the
   * master's page must no longer answer. A master instance that is not running means nothing to stop.
   */
  async function stopSpark(input: StepInput): Promise<StopSparkResult> {
    const started = Date.now();
    // Whatever shape the cluster is in (a worker terminated): stopping Spark needs the master only.
    const master = (await findStopCandidates(ctx.deps)).instances.find((i) => i.role === 'master');
    if (master?.state !== 'running' || !master.privateIp) {
      const what = master ? `master ${master.id} is ${master.state}` : 'no master instance exists';
      log.info(`stop_spark for ${input.batchDate}: ${what}, nothing to stop`);
      return { masterRunning: false, driversKilled: [], seconds: (Date.now() - started) / 1000 };
    }
    const host = sshAddress(config.ssh, master.privateIp);
    const signal = currentContext()?.cancellationSignal;
    return withHeartbeat(
      () => ({ phase: 'stopping Spark', host }),
      async () => {
        const stopped = await ssh.exec(
          host,
          stopSparkScript({
            jobDir: spark.SPARK_JOB_DIR,
            graceSeconds: timing.killGraceSeconds,
            sparkHome: spark.SPARK_HOME,
            termGraceSeconds: DAEMON_TERM_GRACE_SECONDS,
            killWaitSeconds: 30,
            startStateDir: startStateDir(spark.SPARK_JOB_DIR),
          }),
          { signal, timeoutMs: 5 * 60_000, ...toLog('[stop-spark]') },
        );
        const driversKilled = stopped.stdout
          .split('\n')
          .filter((l) => l.startsWith('KILLED '))
          .map((l) => l.slice('KILLED '.length));
        if (driversKilled.length) log.warn(`killed driver(s) still running: ${driversKilled.join(', ')}`);
        const historyNote = spark.SPARK_HISTORY_SERVER ? historyServerNote(stopped.stdout) : undefined;
        if (historyNote) log.warn(historyNote);
        if (stopped.exitCode !== 0) {
          throw new RemoteCommandError(
            `stopping Spark on ${host} failed (exit ${stopped.exitCode ?? stopped.signal}): ` +
              lastLines(stopped.stderr || stopped.stdout, 5).join(' | '),
            host,
            stopped,
          );
        }
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
        return {
          masterRunning: true,
          driversKilled,
          seconds: (Date.now() - started) / 1000,
          ...(historyNote ? { historyServerNote: historyNote } : {}),
        };
      },
      timing.heartbeatIntervalMs,
    );
  }

  return { ensureSparkRunning, stopSpark };
}
