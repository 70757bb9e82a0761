/**
 * Data that crosses the workflow/activity boundary. Workflow-safe (types only, no I/O).
 * Nothing here ever carries a secret: these values are stored in Temporal's history.
 */
import type { RunCost } from '../cost/run-cost';
import type { RunStepName, StepName } from './steps';

/** What every activity receives: enough to name the run in logs, locks and remote file names. */
export interface StepInput {
  batchDate: string;
  /** Workflow id and run id of the pipeline run, for logs, driver ownership and links. */
  workflowId: string;
  runId: string;
}

export interface S3CheckResult {
  /** s3://bucket/prefix/dt=<date>/ */
  path: string;
  objects: number;
  bytes: number;
  /** Spark's _SUCCESS marker, when the producer writes one. */
  successMarker: boolean;
}

export interface ClusterInfo {
  masterInstanceId: string;
  workerInstanceIds: string[];
  masterPrivateIp: string;
  workerPrivateIps: string[];
}

export interface StartClusterResult extends ClusterInfo {
  /** Instances that were stopped and had to be started (empty when all were already running). */
  started: string[];
}

export interface StartSparkResult {
  aliveWorkers: number;
  expectedWorkers: number;
  masterUrl: string;
}

export interface StageResult {
  stage: 'stage1' | 'stage2';
  seconds: number;
  /** True when this attempt re-attached to a driver started by an earlier attempt. */
  reattached: boolean;
  lastLines: string[];
  /** The longest the Spark master's status page did not answer while the stage ran (s); absent when it always did. */
  masterStatusSilentSeconds?: number;
}

export interface QualityFindings {
  /** Rows with impact_count > total_count. */
  impactExceedsTotal: number;
  /** Rows with null or empty s_id (they are not loaded). */
  emptySegmentId: number;
  /** Row count of the previous loaded date, when there is one. */
  previousRowCount: number | null;
  /** Relative change against the previous loaded date, e.g. 0.62 for +62 %. */
  rowCountChange: number | null;
  /** Human-readable findings, empty when everything looks normal. */
  warnings: string[];
}

export interface LoadResult {
  batchDate: string;
  rowsLoaded: number;
  files: number;
  seconds: number;
  quality: QualityFindings;
  geocoded: number;
}

export interface RefreshViewsResult {
  views: { name: string; seconds: number }[];
  /** The loaded day's month in the monthly roll-up (absent in runs recorded before it). */
  rollup?: { month: string; action: string; days: number; segments: number };
  repairChecks?: { opened: number; ended: number; changed: number; verdicts: Record<string, number> };
  /** Days older than SERVING_KEEP_DAYS dropped after their month was rolled up. */
  retired?: { days: string[]; leftForNextTime: string[]; error?: string };
}

/** load_complaints: the citizens' complaints received from..to (inclusive), matched to road segments. */
export interface LoadComplaintsInput extends StepInput {
  from: string;
  to: string;
}

/** What a load of complaints found, in total and per window of at most 15 days (one API query each). */
export interface ComplaintCounts {
  /** Items the API returned. */
  fetched: number;
  /** Complaints stored now, matched to a segment. */
  loaded: number;
  /** Matched complaints already stored by an earlier load (same date and position). */
  alreadyPresent: number;
  /** Complaints farther than COMPLAINTS_MAX_DISTANCE_M from every segment: not stored. */
  unmatched: number;
  /** Items without a usable date, latitude or longitude: not stored. */
  malformed: number;
}

export interface ComplaintWindow extends ComplaintCounts {
  from: string;
  to: string;
  pages: number;
}

export interface LoadComplaintsResult extends ComplaintCounts {
  from: string;
  to: string;
  windows: ComplaintWindow[];
  /** Segments whose centroid complaints were matched against. */
  segments: number;
  /** A few of the malformed items, each with what is wrong with it. */
  malformedExamples: string[];
  seconds: number;
}

export interface EmailReportInput extends StepInput {
  quality?: QualityFindings;
  /** The run's final cluster figures, for the report's footer (absent in a preview and in older runs). */
  cost?: RunCost;
  /** Send even when an SMTP server already accepted this very report (same date and content). */
  resend?: boolean;
}

export interface EmailReportResult {
  messageId: string;
  recipients: string[];
  /** False when the same report had already been accepted and was not sent again. */
  sent: boolean;
  /** The earlier delivery of the same report, when it was not sent again. */
  alreadySent?: { acceptedAt: string; recipients: string[]; workflowId: string; runId: string };
}

export type StepStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface StepProgress {
  step: RunStepName;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  attempt?: number;
  detail?: string;
}

export interface PipelineProgress {
  batchDate: string;
  workflowId: string;
  runId: string;
  /** Waiting for the cluster lock held by another run, when set. */
  waitingFor?: string;
  clusterUp: boolean;
  /** What became of the cluster at the end of the run; set once the cleanup began. */
  cleanup?: CleanupOutcome;
  steps: StepProgress[];
}

/**
 * The cleanup's outcome, carried by the run's result, its progress and every notification: the one fact the team
 * paying for the instances needs from each run.
 */
export interface CleanupOutcome {
  /**
   * not-needed: the run never reached start_cluster; stopping: stop_cluster has not succeeded yet (it is retried
   * until it does); stopped: every instance is stopped; left-to-watchdog: stop_cluster failed with an error no
   * retry can fix (missing permissions): the run gave the cluster up and the watchdog keeps trying and alerting.
   */
  status: 'not-needed' | 'stopping' | 'stopped' | 'left-to-watchdog';
  /** stop_cluster attempts so far, failed ones included. */
  attempts: number;
  /** The cluster's instances as start_cluster saw them (empty when it never answered). */
  instances: string[];
  /** The instances stop_cluster stopped (the others were stopped already). */
  stoppedInstances: string[];
  /** The last failed stop_cluster attempt's error. */
  lastError?: string;
  /** stop_spark's error, when it failed (stopping the instances ends Spark regardless). */
  sparkError?: string;
  /** Instances that may have been the cluster's and are gone, e.g. "i-0abc (terminated)". */
  lostInstances?: string[];
}

/** What the watchdog did to a cluster left running with no run holding it. */
export interface WatchdogReport {
  stopped: { id: string; role: string; launchTime?: string }[];
  /** Running instances tagged to be kept: reported, never stopped. */
  kept: { id: string; role: string; launchTime?: string }[];
  /** Since when no run held the cluster (ISO 8601). */
  idleSince?: string;
  /** When a run last held the cluster lock, and which (when the lock still knew). */
  lastHeldBy?: string;
  lastHeldUntil?: string;
  driversKilled: string[];
}

export interface NotifyInput {
  /**
   * failure / success / cancelled: how the run ended; cleanup-failing: stop_cluster keeps failing, the instances may
   * be running; watchdog: the watchdog stopped a cluster no run held.
   */
  kind: 'failure' | 'success' | 'cancelled' | 'cleanup-failing' | 'watchdog';
  batchDate: string;
  workflowId: string;
  runId: string;
  step?: StepName;
  attempt?: number;
  error?: string;
  durationSeconds?: number;
  rowsLoaded?: number;
  quality?: QualityFindings;
  /** What went wrong in an optional step of a successful run (the run went on). */
  warnings?: string[];
  cleanup?: CleanupOutcome;
  /** How long the run's cluster was up and what it cost (null: unknown); absent in older runs. */
  clusterUpSeconds?: number;
  clusterCostUsd?: number | null;
  watchdog?: WatchdogReport;
}
