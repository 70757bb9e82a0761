/**
 * start_spark, download_code, install_deps, run_stage1, run_stage2, stop_spark: the Spark standalone
 * cluster on the EC2 instances, driven over SSH. The steps are composed here from their parts:
 * scripts.ts and daemon-scripts.ts (the remote shell scripts), daemons.ts (master, workers, history server), code.ts (job code
 * and Python packages) and driver.ts (a stage's driver: launch, re-attach, follow, kill).
 */
import type { StartSparkResult, StepInput } from '../../shared/types';
import { createCodeControl, type DownloadCodeResult, type InstallDepsResult } from './code';
import { createSparkContext, validDate, type SparkDeps } from './context';
import { createDaemonControl, type StopSparkResult } from './daemons';
import { createDriverControl } from './driver';

export { type SparkDeps, type SparkTiming } from './context';
export type { DownloadCodeResult, InstallDepsResult } from './code';
export type { StopSparkResult } from './daemons';
export { killAllDriversScript } from './scripts';
export function createSparkActivities(deps: SparkDeps) {
  const ctx = createSparkContext(deps);
  const { runningCluster } = ctx;
  const daemons = createDaemonControl(ctx);
  const code = createCodeControl(ctx);
  const driver = createDriverControl(ctx, {
    ensureSparkRunning: daemons.ensureSparkRunning,
    ensureCode: code.ensureCode,
  });
  const { ensureSparkRunning } = daemons;
  const { downloadCode, installDeps } = code;
  const { runStage } = driver;

  return {
    /**
     * Writes conf/workers, starts the history server, the master and, once it answers, the workers (one
     * remote script), then waits until every worker is ALIVE. Idempotent (a complete cluster returns at once). Suggested: startToCloseTimeout 10 min,
     * heartbeatTimeout 30 s, 3 attempts: missing workers are retryable, a worker may just be slow.
     */
    async start_spark(input: StepInput): Promise<StartSparkResult> {
      validDate(input);
      return ensureSparkRunning(await runningCluster());
    },

    /**
     * Fetches the job code into <SPARK_JOB_DIR>/stage1|stage2 on the master via presigned URLs and curl
     * (the master needs no AWS credentials), atomically per stage; only files new or changed since the last
     * download are fetched. Suggested: startToCloseTimeout 15 min,
     * heartbeatTimeout 30 s, 3 attempts; empty code prefix is non-retryable.
     */
    async download_code(input: StepInput): Promise<DownloadCodeResult> {
      validDate(input);
      return downloadCode(await runningCluster());
    },

    /**
     * pip-installs SPARK_PYTHON_PACKAGES with SPARK_PYTHON on the master and every worker (each host once).
     * pip does not run on a host where every package is already installed at an accepted version. Suggested: startToCloseTimeout 30 min, heartbeatTimeout 30 s,
     * 3 attempts (network hiccups); unknown packages / externally-managed Python are non-retryable.
     */
    async install_deps(input: StepInput): Promise<InstallDepsResult> {
      validDate(input);
      return installDeps(await runningCluster());
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
     * Kills our drivers still running, then stops the daemons (SIGTERM to all at once, stop-all.sh, the
     * history server) and waits until they have exited (one remote script). Idempotent; a master
     * instance that is not running means nothing to stop. Suggested: startToCloseTimeout 5 min,
     * heartbeatTimeout 30 s, many retries: it is cleanup.
     */
    stop_spark: (input: StepInput): Promise<StopSparkResult> => daemons.stopSpark(input),
  };
}
