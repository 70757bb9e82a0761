/**
 * start_spark and stop_spark: the standalone daemons on the master (start-all.sh over conf/workers, the
 * history server) and the wait until every expected worker is ALIVE.
 */
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { ClusterInfo, StartSparkResult, StepInput } from '../../types';
import { currentContext, errorMessage, sleep, withHeartbeat } from '../activity-support';
import { describeCluster, sshAddress } from '../cluster';
import { SshConnectionError, lastLines, sh } from '../remote';
import { checkWorkers, type SparkMasterStatus } from '../spark-status';
import type { SparkContext } from './context';
import { killAllDriversScript, startDaemons, stopDaemonsScript } from './scripts';

export interface StopSparkResult {
  /** False when the master instance was not running (nothing to stop). */
  masterRunning: boolean;
  /** Run folders (date-stage) whose driver was still running and was killed. */
  driversKilled: string[];
  seconds: number;
}

export function createDaemonControl(ctx: SparkContext) {
  const {
    ssh,
    spark,
    timing,
    config,
    sparkPath,
    masterSsh,
    masterUrl,
    statusUrl,
    expectedWorkers,
    masterStatus,
    toLog,
  } = ctx;

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

  /**
   * Kills our drivers still running, then stop-all.sh and the history server; waits until the master's
   * page no longer answers. A master instance that is not running means nothing to stop.
   */
  async function stopSpark(input: StepInput): Promise<StopSparkResult> {
    const started = Date.now();
    const instances = await describeCluster(ctx.deps);
    const master = instances.find((i) => i.role === 'master')!;
    if (master.state !== 'running' || !master.privateIp) {
      log.info(`stop_spark for ${input.batchDate}: master ${master.id} is ${master.state}, nothing to stop`);
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
  }

  return { ensureSparkRunning, stopSpark };
}
