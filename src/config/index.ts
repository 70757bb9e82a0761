/**
 * One typed configuration, read from the environment (and an optional .env file),
 * validated once at start. Each part of the system asks only for the sections it needs,
 * so a worker that only serves the database steps does not demand EC2 settings.
 *
 * Every problem is collected and reported in ONE message: the original scheduler once started
 * without WORKER3/WORKER4 and silently brought up 2 of 4 workers.
 */
import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { z } from 'zod';
import { ConfigError, type Env } from './fields';
import { crossChecks, sections } from './sections';

export { ConfigError, Secret } from './fields';
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
export type DashboardConfig = Config['dashboard'];

/** Which configuration each role needs. */
export const SECTIONS_FOR = {
  /** Cluster and Spark steps, S3 checks. */
  cluster: ['temporal', 'aws', 's3', 'ssh', 'spark', 'cluster', 'slack', 'watchdog'],
  /** load_to_rdb, refresh_views, send_email_report. */
  serving: ['temporal', 'aws', 's3', 'postgres', 'email', 'slack', 'kakao'],
  client: ['temporal', 'watchdog'],
  /** The road manager's web page: the views, repair status, and the runs panel (read from Temporal). */
  dashboard: ['temporal', 'postgres', 'dashboard'],
} as const satisfies Record<string, readonly SectionName[]>;

/**
 * Reads the environment: process.env wins over the file named by POTHOLE_ENV_FILE (or ./.env).
 * The file is optional; a file explicitly named but missing is an error.
 */
export function readEnv(processEnv: Env = process.env, cwd = process.cwd()): Env {
  const explicit = processEnv.POTHOLE_ENV_FILE;
  const file = explicit ? path.resolve(cwd, explicit) : path.join(cwd, '.env');
  let fromFile: Env = {};
  if (fs.existsSync(file)) {
    fromFile = dotenv.parse(fs.readFileSync(file));
  } else if (explicit) {
    throw new ConfigError([`POTHOLE_ENV_FILE points at ${file}, which does not exist`]);
  }
  return { ...fromFile, ...processEnv };
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
