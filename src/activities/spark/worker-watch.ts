/**
 * While a stage's driver runs, the master's status tells whether its workers are still there. Without workers a
 * standalone driver waits for executors until the stage timeout (hours of a master instance for nothing), so
 * run_stageN fails the step once fewer than the expected workers have been ALIVE for longer than
 * SPARK_WORKER_LOSS_TIMEOUT_SECONDS. A status page that does not answer for a moment is not a lost worker: only
 * successful reads count workers; a master that does not answer for longer than the timeout is a failure of its
 * own.
 */
import { sleep } from '../activity-support';
import { checkWorkers, type ExpectedWorker, type SparkMasterStatus } from '../spark-status';

export interface WorkerLoss {
  type: 'SparkWorkersLost' | 'SparkMasterUnreachable';
  message: string;
  /** Instances known to be gone (empty when only a count per shared address can be told). */
  lostInstanceIds: string[];
}

/** Fed every status read (undefined = the page did not answer) with its time; says when the stage must end. */
export class WorkerLossWatch {
  private lastAnswer: number;
  private shortSince?: number;
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
      this.summary = `master status page not answering for ${Math.round(silent / 1000)} s`;
      if (silent <= this.timeoutMs) return undefined;
      return {
        type: 'SparkMasterUnreachable',
        message:
          `the Spark master's status page ${this.statusUrl} has not answered for ${Math.round(silent / 1000)} s ` +
          `(${limit}): the master or its instance is gone`,
        lostInstanceIds: [],
      };
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
    async stop() {
      stopped.abort();
      await done;
    },
  };
}
