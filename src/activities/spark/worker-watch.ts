/**
 * While a stage's driver runs, the master's status tells whether its workers are still there. Without workers a
 * standalone driver waits for executors until the stage timeout (hours of a master instance for nothing), so
 * run_stageN fails the step once fewer than the expected workers have been ALIVE for longer than
 * SPARK_WORKER_LOSS_TIMEOUT_SECONDS. It acts only on positive evidence: the master answers and reports fewer ALIVE
 * workers. A status page that does not answer (a blocked port, a proxy down, a busy master) says nothing about the
 * workers while the driver's own log goes on: the silence is reported in the heartbeat and the step's detail, and
 * the stage goes on (a master that is really gone ends the driver, and the stage with it, by itself).
 */
import { sleep } from '../activity-support';
import { checkWorkers, type ExpectedWorker, type SparkMasterStatus } from '../spark-status';

export interface WorkerLoss {
  type: 'SparkWorkersLost';
  message: string;
  /** Instances known to be gone (empty when only a count per shared address can be told). */
  lostInstanceIds: string[];
}

/** Fed every status read (undefined = the page did not answer) with its time; says when the stage must end. */
export class WorkerLossWatch {
  private lastAnswer: number;
  private shortSince?: number;
  /** The longest the status page stayed silent (ms), for the step's detail. */
  longestSilenceMs = 0;
  /** Short state for heartbeats and logs, e.g. "2/2 workers ALIVE". */
  summary = 'not read yet';

  constructor(
    private readonly expected: ExpectedWorker[],
    private readonly timeoutMs: number,
    private readonly statusUrl: string,
    now: number,
  ) {
    this.lastAnswer = now;
  }

  observe(status: SparkMasterStatus | undefined, now: number): WorkerLoss | undefined {
    const limit = `SPARK_WORKER_LOSS_TIMEOUT_SECONDS=${Math.round(this.timeoutMs / 1000)}`;
    if (!status) {
      const silent = now - this.lastAnswer;
      this.longestSilenceMs = Math.max(this.longestSilenceMs, silent);
      this.summary = `master status page ${this.statusUrl} silent for ${Math.round(silent / 1000)} s (workers not checked)`;
      return undefined;
    }
    this.lastAnswer = now;
    const check = checkWorkers(status, this.expected);
    this.summary = `${check.alive}/${check.expected} workers ALIVE`;
    if (check.complete) {
      this.shortSince = undefined;
      return undefined;
    }
    this.shortSince ??= now;
    const short = now - this.shortSince;
    if (short <= this.timeoutMs) return undefined;
    return {
      type: 'SparkWorkersLost',
      message:
        `only ${check.alive} of ${check.expected} Spark workers have been ALIVE for ${Math.round(short / 1000)} s ` +
        `(${limit}): lost ${check.missing.replace(/^missing /, '')}`,
      lostInstanceIds: check.missingInstanceIds,
    };
  }
}

/**
 * Polls `readStatus` every `intervalMs` into a WorkerLossWatch until stopped; `signal` aborts when the workers
 * (or the master) are lost, with the loss as its reason.
 */
export function watchWorkers(p: {
  watch: WorkerLossWatch;
  readStatus: (signal: AbortSignal) => Promise<SparkMasterStatus | undefined>;
  intervalMs: number;
  now?: () => number;
}) {
  const lost = new AbortController();
  const stopped = new AbortController();
  const now = p.now ?? Date.now;
  let loss: WorkerLoss | undefined;
  const done = (async () => {
    while (!stopped.signal.aborted) {
      const status = await p.readStatus(stopped.signal).catch(() => undefined);
      if (stopped.signal.aborted) return;
      loss = p.watch.observe(status, now());
      if (loss) {
        lost.abort(loss);
        return;
      }
      await sleep(p.intervalMs, stopped.signal).catch(() => undefined);
    }
  })();
  return {
    signal: lost.signal,
    loss: () => loss,
    summary: () => p.watch.summary,
    /** The longest silence of the master's status page, in whole seconds (0: it always answered). */
    longestSilenceSeconds: () => Math.round(p.watch.longestSilenceMs / 1000),
    async stop() {
      stopped.abort();
      await done;
    },
  };
}
