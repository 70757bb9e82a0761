/**
 * Recording stand-ins for the outside systems, for tests of the workflow's own logic (order, skipping, cleanup,
 * cancellation, locking). The Temporal server and the workflow code under test are real.
 */
import type { ClusterUsers } from '../../src/shared/lock-protocol';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, type Client } from '@temporalio/client';
import type { Activities } from '../../src/activities';
import { createTemporalActivities, type PipelineSettings } from '../../src/activities/temporal';
import type { StepInput } from '../../src/shared/types';

export interface Call {
  step: string;
  /** notify_slack's message kind. */
  kind?: string;
  batchDate?: string;
  workflowId?: string;
  /** What the step was given. */
  input?: object;
  phase: 'start' | 'end' | 'fail' | 'cancelled';
  at: number;
}

type Behaviour = 'ok' | 'fail' | 'block';

export class Recorder {
  calls: Call[] = [];
  behaviour = new Map<string, Behaviour>();
  /** Steps that fail this many more times (retryably) before they succeed. */
  failTimes = new Map<string, number>();
  /** How long each step takes when it succeeds. */
  delayMs = 0;
  /** What pipeline_settings answers (the worker's configuration). */
  settings: PipelineSettings = {};

  steps(phase: Call['phase'] = 'start', workflowId?: string): string[] {
    return this.calls
      .filter((c) => c.phase === phase && (!workflowId || c.workflowId === workflowId))
      .map((c) => c.step);
  }

  async waitFor(step: string, phase: Call['phase'] = 'start', timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.calls.some((c) => c.step === step && c.phase === phase)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${step} ${phase}; saw ${JSON.stringify(this.calls)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export function fakeActivities(rec: Recorder, client: Client, taskQueue: string): Activities {
  const step =
    <R>(name: string, result: R) =>
    async (given?: object): Promise<R> => {
      const input = given as (Partial<StepInput> & { kind?: string }) | undefined;
      const base = {
        step: name,
        batchDate: input?.batchDate,
        workflowId: input?.workflowId,
        kind: input?.kind,
        input: given,
      };
      rec.calls.push({ ...base, phase: 'start', at: Date.now() });
      const failuresLeft = rec.failTimes.get(name) ?? 0;
      if (failuresLeft > 0) {
        rec.failTimes.set(name, failuresLeft - 1);
        rec.calls.push({ ...base, phase: 'fail', at: Date.now() });
        throw ApplicationFailure.retryable(
          `${name} failed on purpose (${failuresLeft} to go)`,
          'InjectedFailure',
        );
      }
      const behaviour = rec.behaviour.get(name) ?? 'ok';
      if (behaviour === 'fail') {
        rec.calls.push({ ...base, phase: 'fail', at: Date.now() });
        throw ApplicationFailure.nonRetryable(`${name} failed on purpose`, 'InjectedFailure');
      }
      if (behaviour === 'block') {
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(), 200);
        try {
          await ctx.cancelled;
        } catch (err) {
          rec.calls.push({ ...base, phase: 'cancelled', at: Date.now() });
          throw err;
        } finally {
          clearInterval(beat);
        }
      }
      if (rec.delayMs) await new Promise((r) => setTimeout(r, rec.delayMs));
      rec.calls.push({ ...base, phase: 'end', at: Date.now() });
      return result;
    };
  const s3 = { path: 's3://b/p/dt=x/', objects: 2, bytes: 10, successMarker: true };
  const cluster = {
    masterInstanceId: 'i-m',
    workerInstanceIds: ['i-w1', 'i-w2'],
    masterPrivateIp: '10.0.0.1',
    workerPrivateIps: ['10.0.0.2', '10.0.0.3'],
    started: [],
  };
  const stage = (s: 'stage1' | 'stage2') => ({ stage: s, seconds: 1, reattached: false, lastLines: [] });
  const quality = {
    impactExceedsTotal: 0,
    emptySegmentId: 0,
    previousRowCount: null,
    rowCountChange: null,
    warnings: [],
  };
  const temporal = createTemporalActivities({ client, taskQueue, settings: {} });
  const nothingRuns = {
    plan: { stop: [], kept: [], reason: 'no instance is running' },
    lock: {},
    users: { holding: [], unknown: [] },
  };
  const pipeline_settings: Activities['pipeline_settings'] = async () => ({ ...rec.settings });
  return {
    check_s3_input: step('check_s3_input', s3),
    check_s3_stage1_out: step('check_s3_stage1_out', s3),
    check_s3_stage2_out: step('check_s3_stage2_out', s3),
    start_cluster: step('start_cluster', cluster),
    start_spark: step('start_spark', {
      aliveWorkers: 2,
      expectedWorkers: 2,
      masterUrl: 'spark://10.0.0.1:7077',
    }),
    download_code: step('download_code', {
      files: 6,
      bytes: 1000,
      copied: 6,
      bytesCopied: 1000,
      unchanged: 0,
      removed: 0,
      detail: '0 files unchanged, 6 copied, 0 removed',
      source: 's3://b/code/',
      seconds: 0.1,
    }),
    install_deps: step('install_deps', {
      hosts: 3,
      hostAddresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
      packages: ['pyarrow'],
      satisfiedHosts: [],
      detail: 'pip installed on 10.0.0.1, 10.0.0.2, 10.0.0.3',
      seconds: 0.1,
    }),
    run_stage1: step('run_stage1', stage('stage1')),
    run_stage2: step('run_stage2', stage('stage2')),
    stop_spark: step('stop_spark', { masterRunning: true, driversKilled: [], seconds: 0.1 }),
    stop_cluster: step('stop_cluster', {
      stopped: ['i-m', 'i-w1', 'i-w2'],
      alreadyStopped: [],
      seconds: 0.1,
    }),
    load_to_rdb: step('load_to_rdb', {
      batchDate: '',
      rowsLoaded: 42,
      files: 2,
      seconds: 1,
      quality,
      geocoded: 0,
    }),
    load_complaints: step('load_complaints', {
      from: '',
      to: '',
      fetched: 5,
      loaded: 3,
      alreadyPresent: 1,
      unmatched: 1,
      malformed: 0,
      windows: [],
      segments: 10,
      malformedExamples: [],
      seconds: 0.1,
    }),
    refresh_views: step('refresh_views', { views: [{ name: 'mvw_dashboard_heatmap', seconds: 0.1 }] }),
    send_email_report: step('send_email_report', { messageId: '<m@x>', recipients: ['a@b'], sent: true }),
    notify_slack: step('notify_slack', { sent: false }),
    pipeline_settings,
    // The stand-in cluster is never left running: the watchdog finds nothing to stop.
    survey_cluster_use: step('survey_cluster_use', nothingRuns),
    release_lock_of_closed_run: step('release_lock_of_closed_run', undefined),
    watchdog_survey: step('watchdog_survey', nothingRuns),
    watchdog_stop: step('watchdog_stop', { stopped: [], driversKilled: [] }),
    request_cluster_lock: temporal.request_cluster_lock,
    is_workflow_running: temporal.is_workflow_running,
    // The time-skipping test server cannot list workflows: there a lock started afresh learns its holder from
    // re-assertions alone, as before it asked the open runs (the dev server's fault tests cover the asking).
    find_cluster_users: () =>
      temporal.find_cluster_users().catch(() => ({ holding: [], unknown: [] }) satisfies ClusterUsers),
  };
}
