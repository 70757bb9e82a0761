/**
 * The pipeline's steps, with the original Airflow task names so operators recognise them.
 * Shared by the workflow, the CLI and the tests: no I/O here (it is imported into the workflow sandbox).
 */
export const STEPS = [
  'check_s3_input',
  'start_cluster',
  'start_spark',
  'download_code',
  'install_deps',
  'run_stage1',
  'check_s3_stage1_out',
  'run_stage2',
  'check_s3_stage2_out',
  'stop_spark',
  'stop_cluster',
  'load_to_rdb',
  'refresh_views',
  'send_email_report',
] as const;

export type StepName = (typeof STEPS)[number];

/**
 * Steps a run adds to the original ones only when configured, each mapped to the step it follows. They are
 * not Airflow tasks, and their failure is a warning: the run goes on.
 */
export const OPTIONAL_STEPS = { load_complaints: 'load_to_rdb' } as const satisfies Record<string, StepName>;

export type OptionalStepName = keyof typeof OPTIONAL_STEPS;

export const OPTIONAL_STEP_NAMES = Object.keys(OPTIONAL_STEPS) as OptionalStepName[];

/** Any step a run may show: the original ones and the optional ones. */
export type RunStepName = StepName | OptionalStepName;

/** The steps of a run in order: the original ones, with the given optional steps after the step each follows. */
export function runSteps(optional: readonly OptionalStepName[] = []): RunStepName[] {
  return STEPS.flatMap((step) => [step, ...optional.filter((o) => OPTIONAL_STEPS[o] === step)]);
}

export function isOptionalStepName(value: unknown): value is OptionalStepName {
  return typeof value === 'string' && Object.hasOwn(OPTIONAL_STEPS, value);
}

/** Steps a run may start from with `fromStep`; cleanup steps are not entry points. */
export const ENTRY_STEPS: readonly StepName[] = STEPS.filter(
  (s) => s !== 'stop_spark' && s !== 'stop_cluster',
);

export function isStepName(value: unknown): value is StepName {
  return typeof value === 'string' && (STEPS as readonly string[]).includes(value);
}

/** The batch-date format: a real calendar date written YYYY-MM-DD, in the years 1000 to 9999. */
export function validateBatchDate(value: unknown): string | { error: string } {
  if (typeof value !== 'string')
    return { error: `batch date must be a string YYYY-MM-DD, got ${typeof value}` };
  const shown = JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return { error: `batch date ${shown} is not written YYYY-MM-DD` };
  // A year before 1000 is a typo (0202 for 2026); Date would also read 0000-0099 as 1900-1999.
  if (m[1]!.startsWith('0'))
    return { error: `batch date ${shown} is not written YYYY-MM-DD (a year from 1000 to 9999)` };
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) {
    return { error: `batch date ${shown} is not a real calendar date` };
  }
  return value;
}

/** The day before `instant` in Asia/Seoul (UTC+9, no daylight saving), as YYYY-MM-DD. */
export function yesterdayInSeoul(instant: Date): string {
  const seoul = new Date(instant.getTime() + 9 * 3600_000);
  seoul.setUTCDate(seoul.getUTCDate() - 1);
  return seoul.toISOString().slice(0, 10);
}

/** The date `days` days after `date` (before, when negative), YYYY-MM-DD. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** How many dates from..to holds, both included (0 when `to` is before `from`). */
export function daysInRange(from: string, to: string): number {
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
  return Math.max(0, days);
}

/** Dates from..to inclusive, YYYY-MM-DD. */
export function dateRange(from: string, to: string): string[] {
  const out: string[] = [];
  const d = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  while (d <= end) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

export const workflowIdFor = (batchDate: string): string => `pothole-pipeline-${batchDate}`;
