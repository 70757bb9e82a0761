/**
 * The on-call engineer's panel: the latest pipeline runs as Temporal recorded them (date, status, the step that
 * failed, duration, how long the cluster was up, rows loaded, what became of the cluster), each linking to the
 * Temporal UI. Read from the run histories with the CLI's own readers, so the panel and `pothole status` agree.
 * Temporal being unreachable is an answer ("the panel cannot say"), never a broken page.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { TemporalConfig } from '../config';
import { connectClient, runUrl } from '../temporal/client';
import { cleanupFromHistory, jsonPayload, stepsFromHistory } from '../runs/history';
import { batchDateOf } from '../runs/batch-date';
import { describeCleanup } from '../shared/cleanup-outcome';
import type { CleanupOutcome, LoadResult } from '../shared/types';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const RUNS_SHOWN = 14;
/** How long the panel waits for Temporal before saying it cannot reach it. */
const TEMPORAL_DEADLINE_MS = 5_000;

export interface RunFacts {
  /** The run's input date; undefined input means yesterday, which the workflow id then names. */
  inputBatchDate: string | null;
  failedStep: string | null;
  failure: string | null;
  clusterUpSeconds: number | null;
  rowsLoaded: number | null;
  cleanup: CleanupOutcome;
}

export interface RunRow extends RunFacts {
  workflowId: string;
  runId: string;
  batchDate: string | null;
  status: string;
  startedAt: string;
  closedAt: string | null;
  durationSeconds: number;
  cleanupText: string;
  url: string;
}

export type RunsAnswer =
  { available: true; temporalUiUrl: string; runs: RunRow[] } | { available: false; error: string };

const eventMs = (e: HistoryEvent): number | undefined =>
  e.eventTime?.seconds
    ? Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6)
    : undefined;

const firstLine = (s: string | null | undefined) => (s ? s.split('\n')[0]!.slice(0, 300) : null);

/** What the panel shows of one run, read from its history. */
export function runFacts(events: HistoryEvent[]): RunFacts {
  const steps = stepsFromHistory(events);
  const failed = steps
    .filter((s) => s.status === 'failed')
    .sort((a, b) => (a.endedAt ?? '').localeCompare(b.endedAt ?? ''))[0];
  const scheduled = new Map<string, string>();
  let clusterStart: number | undefined;
  let clusterStop: number | undefined;
  let rowsLoaded: number | null = null;
  let failure: string | null = null;
  let inputBatchDate: string | null = null;
  for (const e of events) {
    const started = e.workflowExecutionStartedEventAttributes;
    if (started) {
      const input = jsonPayload(started.input?.payloads?.[0]) as string | { batchDate?: string } | undefined;
      const date = typeof input === 'string' ? input : input?.batchDate;
      if (typeof date === 'string') inputBatchDate = date;
    }
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const step = s.activityType?.name ?? '';
      scheduled.set(String(e.eventId), step);
      if (step === 'start_cluster') clusterStart ??= eventMs(e);
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes;
    const step = done ? scheduled.get(String(done.scheduledEventId)) : undefined;
    if (step === 'stop_cluster') clusterStop = eventMs(e);
    if (step === 'load_to_rdb') {
      const result = jsonPayload(done?.result?.payloads?.[0]) as Partial<LoadResult> | undefined;
      if (typeof result?.rowsLoaded === 'number') rowsLoaded = result.rowsLoaded;
    }
    let cause = e.workflowExecutionFailedEventAttributes?.failure;
    while (cause?.cause) cause = cause.cause;
    if (cause) failure = firstLine(cause.message);
  }
  return {
    inputBatchDate,
    failedStep: failed?.step ?? null,
    failure: failure ?? firstLine(failed?.detail),
    clusterUpSeconds:
      clusterStart !== undefined && clusterStop !== undefined ? (clusterStop - clusterStart) / 1000 : null,
    rowsLoaded,
    cleanup: cleanupFromHistory(events),
  };
}

/** Reads the latest runs from Temporal; keeps one connection and the facts of closed runs (they never change). */
export class RunsPanel {
  #client: Promise<Client> | undefined;
  readonly #closedRuns = new Map<string, RunFacts>();

  constructor(private readonly config: TemporalConfig) {}

  async latest(count = RUNS_SHOWN): Promise<RunsAnswer> {
    try {
      const client = await this.#connect();
      const runs = await client.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () =>
        this.#read(client, count),
      );
      return { available: true, temporalUiUrl: this.config.TEMPORAL_UI_URL, runs };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return {
        available: false,
        error: reason.startsWith('cannot reach')
          ? reason
          : `cannot read the runs from the Temporal server at ${this.config.TEMPORAL_ADDRESS}: ${reason}`,
      };
    }
  }

  /** Closes the connection; one still being made is closed once made, without waiting for it. */
  async close(): Promise<void> {
    const pending = this.#client;
    this.#client = undefined;
    void pending?.then((client) => client.connection.close()).catch(() => undefined);
  }

  #connect(): Promise<Client> {
    this.#client ??= connectClient(this.config).catch((err: unknown) => {
      this.#client = undefined; // the next request tries again
      throw err;
    });
    return this.#client;
  }

  async #read(client: Client, count: number): Promise<RunRow[]> {
    const infos: WorkflowExecutionInfo[] = [];
    for await (const w of client.workflow.list({
      query: `WorkflowType = 'potholePipeline'`,
      pageSize: count,
    })) {
      infos.push(w);
      if (infos.length >= count) break;
    }
    infos.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
    const rows = await Promise.all(infos.map((info) => this.#row(client, info)));
    const shown = new Set(infos.map((i) => i.runId));
    for (const runId of this.#closedRuns.keys()) if (!shown.has(runId)) this.#closedRuns.delete(runId);
    return rows;
  }

  async #row(client: Client, info: WorkflowExecutionInfo): Promise<RunRow> {
    const closed = info.status.name !== 'RUNNING';
    let facts = closed ? this.#closedRuns.get(info.runId) : undefined;
    if (!facts) {
      const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
      facts = runFacts(history.events ?? []);
      if (closed) this.#closedRuns.set(info.runId, facts);
    }
    const end = info.closeTime ?? new Date();
    return {
      workflowId: info.workflowId,
      runId: info.runId,
      batchDate: facts.inputBatchDate ?? batchDateOf(info.workflowId) ?? null,
      status: info.status.name,
      startedAt: info.startTime.toISOString(),
      closedAt: info.closeTime?.toISOString() ?? null,
      durationSeconds: (end.getTime() - info.startTime.getTime()) / 1000,
      ...facts,
      cleanupText: describeCleanup(facts.cleanup),
      url: runUrl(this.config, info.workflowId, info.runId),
    };
  }
}
