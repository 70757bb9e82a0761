/**
 * The runs' cost figures as Temporal keeps them: each run's memo (written by the workflow once its cleanup is over,
 * failed and cancelled runs included), or the result of a run recorded before memos. Read by `pothole list`,
 * `pothole status`, `pothole cost` and the report's month-to-date total. They cover the runs Temporal still knows:
 * the namespace's retention period.
 */
import { Client, type WorkflowExecutionInfo } from '@temporalio/client';
import type { TemporalConfig } from '../config';
import { costFromMemo, costFromResult, totalCost, type CostTotal, type RunCost } from './run-cost';
import { connectTemporal } from '../temporal/connection';

export const RUN_TYPES_QUERY = `(WorkflowType = 'potholePipeline' OR WorkflowType = 'potholeBackfill')`;

export interface RunCostRow {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
  memo?: Record<string, unknown>;
  /** undefined: no figure at all (still running, or failed before costs were kept). */
  cost?: RunCost;
}

/**
 * A run's figure: its memo's, else (a completed run recorded before memos) its result's. Results are fetched only
 * for such runs, one history each.
 */
export async function runCost(
  client: Client,
  info: Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'memo' | 'status'>,
): Promise<RunCost | undefined> {
  const fromMemo = costFromMemo(info.memo);
  if (fromMemo || info.status.name !== 'COMPLETED') return fromMemo;
  const result = await client.workflow
    .getHandle(info.workflowId, info.runId)
    .result()
    .catch(() => undefined);
  return costFromResult(result);
}

/** Every run the query lists (pipeline and backfill runs of any status), with its cost figure. */
export async function readRunCosts(client: Client, query: string): Promise<RunCostRow[]> {
  const infos: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query })) infos.push(info);
  const rows = await Promise.all(
    infos.map(async (info) => ({
      workflowId: info.workflowId,
      runId: info.runId,
      type: info.type,
      status: info.status.name,
      startTime: info.startTime,
      closeTime: info.closeTime,
      memo: info.memo,
      cost: await runCost(client, info),
    })),
  );
  return rows.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
}

/** The first instant of the month of `now` in Asia/Seoul (the team's month), as a Date. */
export function seoulMonthStart(now: Date): Date {
  const seoul = new Date(now.getTime() + 9 * 3600_000);
  return new Date(Date.UTC(seoul.getUTCFullYear(), seoul.getUTCMonth(), 1) - 9 * 3600_000);
}

export interface MonthToDate {
  /** YYYY-MM in Asia/Seoul. */
  month: string;
  total: CostTotal;
}

/**
 * This month's runs of the deployment (its task queue) added up, the given run's figure taken from `current`:
 * Temporal's list of runs may not show the run's own memo yet, and an email is sent by the run itself.
 */
export async function monthToDate(
  client: Client,
  args: { taskQueue: string; now: Date; current: { runId: string; cost: RunCost } },
): Promise<MonthToDate> {
  const start = seoulMonthStart(args.now);
  const rows = await readRunCosts(
    client,
    `${RUN_TYPES_QUERY} AND TaskQueue = '${args.taskQueue}' AND StartTime >= '${start.toISOString()}'`,
  );
  const others = rows.filter((r) => r.runId !== args.current.runId).map((r) => r.cost);
  const month = new Date(start.getTime() + 9 * 3600_000).toISOString().slice(0, 7);
  return { month, total: totalCost([...others, args.current.cost]) };
}

/** One Temporal connection, made when first needed, for the serving side's month-to-date total. */
export function lazyTemporalClient(config: TemporalConfig) {
  let client: Promise<Client> | undefined;
  return {
    get(): Promise<Client> {
      client ??= connectTemporal(config, { connectTimeout: '5s' })
        .then((connection) => new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }))
        .catch((err: unknown) => {
          client = undefined; // the next report tries again
          throw err;
        });
      return client;
    },
    async close(): Promise<void> {
      const pending = client;
      client = undefined;
      await pending?.then((c) => c.connection.close()).catch(() => undefined);
    },
  };
}
