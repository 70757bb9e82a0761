/**
 * One typed configuration, read from the environment and the settings files (see env-files.ts),
 * validated once at start. Each part of the system asks only for the sections it needs,
 * so a worker that only serves the database steps does not demand EC2 settings.
 *
 * Every problem is collected and reported in ONE message: the original scheduler once started
 * without WORKER3/WORKER4 and silently brought up 2 of 4 workers.
 */
import { z } from 'zod';
import { readEnvFiles, type EnvReading } from './env-files';
import { ConfigError, type Env } from './fields';
import { crossChecks, sections } from './sections';

export { ignoredSettingsWarning, unreadLinesWarning, type EnvReading } from './env-files';
export { ConfigError, Secret } from './fields';
export { DEFAULT_LOAD_MAINTENANCE_WORK_MEM } from './sections';
export type { Env } from './fields';

export type SectionName = keyof typeof sections;
export type Config = { [K in SectionName]: z.output<(typeof sections)[K]> };
export type TemporalConfig = Config['temporal'];
export type AwsConfig = Config['aws'];
export type S3Config = Config['s3'];
export type SshConfig = Config['ssh'];
export type SparkConfig = Config['spark'];
export type ClusterConfig = Config['cluster'];
export type PostgresConfig = Config['postgres'];
export type EmailConfig = Config['email'];
export type SlackConfig = Config['slack'];
export type KakaoConfig = Config['kakao'];
export type WatchdogConfig = Config['watchdog'];
export type ComplaintsConfig = Config['complaints'];
export type DashboardConfig = Config['dashboard'];

/** Which configuration each role needs. */
export const SECTIONS_FOR = {
  /**
   * Cluster and Spark steps, S3 checks; the workflows' settings (complaints: whether the nightly run loads them).
   */
  cluster: ['temporal', 'aws', 's3', 'ssh', 'spark', 'cluster', 'slack', 'watchdog', 'complaints'],
  /** load_to_rdb, load_complaints, refresh_views, send_email_report. */
  serving: ['temporal', 'aws', 's3', 'postgres', 'email', 'slack', 'kakao', 'complaints'],
  client: ['temporal', 'watchdog'],
  /** The road manager's web page: the views, repair status, and the runs panel (read from Temporal). */
  dashboard: ['temporal', 'postgres', 'dashboard'],
} as const satisfies Record<string, readonly SectionName[]>;

/**
 * Names the local stack's settings file (.stack/env) carries besides the pipeline's own: the database's admin URL
 * (test databases, the load benchmark), the SMTP sink's mail folder (the demo and the tests read the report
 * there) and the browser the dashboard's tests, benchmark and screenshot drive. Known, so that the stack's file does not report them as ignored on every start.
 */
const LOCAL_STACK_NAMES = ['POSTGRES_ADMIN_URL', 'MAIL_DIR', 'CHROMIUM_PATH'];

/** The variables a section reads: the keys of its object (under any transform or pipe). */
function sectionVariables(schema: z.ZodType): string[] {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodPipe) inner = inner.in as z.ZodType;
  if (!(inner instanceof z.ZodObject)) {
    throw new Error(`a configuration section is not an object schema (${inner.def.type})`);
  }
  return Object.keys(inner.shape);
}

/** Every name some part of the configuration reads. */
export const KNOWN_SETTINGS: ReadonlySet<string> = new Set([
  ...Object.values(sections).flatMap((schema) => sectionVariables(schema)),
  ...LOCAL_STACK_NAMES,
]);

/**
 * Reads the settings files (POTHOLE_ENV_FILE's comma list, or ./.env) under the process environment, and names
 * what the files set that nothing reads. Pure: the worker and the CLI report those names.
 */
export function readSettings(processEnv: Env = process.env, cwd = process.cwd()): EnvReading {
  return readEnvFiles(processEnv, cwd, (name) => KNOWN_SETTINGS.has(name));
}

/**
 * The settings: later files override earlier ones, the process environment overrides every file. A file named
 * in POTHOLE_ENV_FILE but missing is an error.
 */
export function readEnv(processEnv: Env = process.env, cwd = process.cwd()): Env {
  return readSettings(processEnv, cwd).env;
}

/** MAX_RANGE_DAYS alone (temporal section), for a command that needs none of the section's other settings. */
export function maxRangeDays(env: Env): number {
  const read = sections.temporal.shape.MAX_RANGE_DAYS.safeParse(env.MAX_RANGE_DAYS);
  if (!read.success) throw new ConfigError(read.error.issues.map((i) => `MAX_RANGE_DAYS ${i.message}`));
  return read.data;
}

/** Validates the requested sections and reports every problem at once. */
export function loadConfig<const S extends readonly SectionName[]>(
  wanted: S,
  env: Env = readEnv(),
): Pick<Config, S[number]> {
  const problems: string[] = [];
  const out: Partial<Record<SectionName, unknown>> = {};
  for (const name of new Set(wanted)) {
    const result = sections[name].safeParse(env);
    problems.push(...(crossChecks[name]?.(env) ?? []));
    if (result.success) {
      out[name] = result.data;
    } else {
      for (const issue of result.error.issues) {
        const variable = String(issue.path[0] ?? name);
        problems.push(`${variable} ${issue.message}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)].sort());
  return out as Pick<Config, S[number]>;
}
