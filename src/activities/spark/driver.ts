/**
 * run_stage1 / run_stage2: spark-submit launched DETACHED on the master (its own session, output in a log
 * file) and followed over SSH.
 *
 * A retried attempt of the same run re-attaches to a live driver, reports a finished one, and replaces
 * one that died without an exit status; a live driver of another run (an orphan) is killed and replaced.
 * The decision is taken under flock on the master, so there are never two drivers for one date and stage.
 */
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { ClusterInfo, StageResult, StartSparkResult, StepInput } from '../../shared/types';
import { currentContext, errorMessage, heartbeat, sleep, withHeartbeat } from '../activity-support';
import { LineSplitter, SshConnectionError, lastLines, sh } from '../remote';
import { decideDriverOnCancellation } from './cancellation';
import { validDate, type SparkContext } from './context';
import { WorkerLossWatch, watchWorkers } from './worker-watch';
import {
  appName,
  followScript,
  killScript,
  launchScript,
  runDir,
  sparkSubmitArgs,
  type Stage,
} from './scripts';

export function createDriverControl(
  ctx: SparkContext,
  steps: {
    ensureSparkRunning(info: ClusterInfo): Promise<StartSparkResult>;
    ensureCode(info: ClusterInfo, stage: Stage, batchDate: string): Promise<void>;
  },
) {
  const {
    ssh,
    spark,
    config,
    timing,
    masterSsh,
    masterUrl,
    statusUrl,
    expectedWorkers,
    masterStatus,
    runningCluster,
  } = ctx;
  const { isRunOpen } = ctx.deps;
  const { ensureSparkRunning, ensureCode } = steps;

  async function runStage(stage: Stage, input: StepInput): Promise<StageResult> {
    const ctx = currentContext();
    const signal = ctx?.cancellationSignal;
    const batchDate = validDate(input);
    const info = await runningCluster();
    await ensureSparkRunning(info);
    await ensureCode(info, stage, batchDate);

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
    // The master status page's longest silence, once the workers are being watched.
    let masterSilence = () => 0;
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
      // The whole output stays in the driver's log file on the master; failures quote its tail.
      log.debug(`[${stage} driver] ${line}`);
    });
    // Without workers the driver would wait for executors until the stage timeout: watch the master meanwhile.
    const workers = watchWorkers({
      watch: new WorkerLossWatch(
        expectedWorkers(info),
        spark.SPARK_WORKER_LOSS_TIMEOUT_SECONDS * 1000,
        statusUrl(info),
        Date.now(),
      ),
      readStatus: (s) => masterStatus(info, s),
      intervalMs: timing.workerWatchPollMs,
    });
    masterSilence = workers.longestSilenceSeconds;
    const stopSignal = signal ? AbortSignal.any([signal, workers.signal]) : workers.signal;
    const progress = () => ({
      stage,
      batchDate,
      pid,
      offset,
      lastLine: lastLine.slice(0, 300),
      reattached,
      workers: workers.summary(),
    });

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
            const followSignal = AbortSignal.any([stopSignal, timer]);
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
              if (stopSignal.aborted) throw stopSignal.reason;
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
              await sleep(5_000, stopSignal);
            }
          }
        },
        timing.heartbeatIntervalMs,
      );
    } catch (err) {
      await workers.stop();
      splitter.end();
      if (signal?.aborted) {
        const verdict = await decideDriverOnCancellation(
          { details: ctx?.cancellationDetails, reason: errorMessage(signal.reason) },
          () => isRunOpen({ workflowId: input.workflowId, runId: input.runId }),
        );
        if (verdict.kill) {
          await killDriver(verdict.why).catch((e: unknown) =>
            log.error(`${stage}: could not kill driver ${pid}: ${errorMessage(e)}`),
          );
        } else {
          log.warn(`${stage} ${batchDate}: leaving driver session ${pid} running: ${verdict.why}`);
        }
        throw signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure('cancelled');
      }
      const loss = workers.loss();
      if (loss) {
        await killDriver(loss.message).catch((e: unknown) =>
          log.error(`${stage}: could not kill driver ${pid}: ${errorMessage(e)}`),
        );
        const tail = await tailLog(host, dir);
        throw ApplicationFailure.nonRetryable(
          `${stage} for ${batchDate} was stopped: ${loss.message}. Its driver (session ${pid}) was killed. ` +
            `Last driver output:\n${tail.join('\n')}`,
          loss.type,
          { stage, batchDate, lostInstanceIds: loss.lostInstanceIds, lastLines: tail },
        );
      }
      if (timedOut) {
        await killDriver(`it exceeded SPARK_STAGE_TIMEOUT_MINUTES=${spark.SPARK_STAGE_TIMEOUT_MINUTES}`);
        const tail = await tailLog(host, dir);
        throw ApplicationFailure.nonRetryable(
          `${stage} for ${batchDate} ran longer than SPARK_STAGE_TIMEOUT_MINUTES=${spark.SPARK_STAGE_TIMEOUT_MINUTES} ` +
            `(minutes) and its driver (session ${pid}) was killed. ` +
            `Last driver output:\n${tail.join('\n')}`,
          'SparkStageTimeout',
          { stage, batchDate, lastLines: tail },
        );
      }
      throw err;
    }

    await workers.stop();
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
      const silent = masterSilence();
      return {
        stage,
        seconds: r.seconds,
        reattached: r.reattached,
        lastLines: tail,
        ...(silent > 0 ? { masterStatusSilentSeconds: silent } : {}),
      };
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

  return { runStage };
}
