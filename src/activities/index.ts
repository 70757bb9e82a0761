/**
 * Every activity, built from injected clients. Activity type names are the step names, so the Temporal UI and
 * the `temporal` CLI show check_s3_input, start_cluster, … as operators know them from the original DAG.
 */
import type {
  EmailReportInput,
  EmailReportResult,
  LoadResult,
  NotifyInput,
  RefreshViewsResult,
  S3CheckResult,
  StageResult,
  StartClusterResult,
  StartSparkResult,
  StepInput,
} from '../types';
import type { LockRequester } from '../workflows/cluster-lock';
import type { PipelineSettings } from './temporal';

/** The contract between the workflow and the activity modules. */
export interface Activities {
  check_s3_input(input: StepInput): Promise<S3CheckResult>;
  check_s3_stage1_out(input: StepInput): Promise<S3CheckResult>;
  check_s3_stage2_out(input: StepInput): Promise<S3CheckResult>;
  start_cluster(input: StepInput): Promise<StartClusterResult>;
  start_spark(input: StepInput): Promise<StartSparkResult>;
  download_code(input: StepInput): Promise<{ files: number }>;
  install_deps(input: StepInput): Promise<{ hosts: number; packages: string[] }>;
  run_stage1(input: StepInput): Promise<StageResult>;
  run_stage2(input: StepInput): Promise<StageResult>;
  stop_spark(input: StepInput): Promise<unknown>;
  stop_cluster(input: StepInput): Promise<{ stopped: string[] }>;
  load_to_rdb(input: StepInput): Promise<LoadResult>;
  refresh_views(input: StepInput): Promise<RefreshViewsResult>;
  send_email_report(input: EmailReportInput): Promise<EmailReportResult>;
  notify_slack(input: NotifyInput): Promise<unknown>;
  pipeline_settings(): Promise<PipelineSettings>;
  request_cluster_lock(r: LockRequester & { lockWorkflowId: string }): Promise<{ holder?: string }>;
  is_workflow_running(w: LockRequester): Promise<boolean>;
}

export type ActivityName = keyof Activities;
