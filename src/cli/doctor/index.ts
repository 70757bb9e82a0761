/**
 * `pothole doctor`: before the night, checks everything the nightly run needs, in the order the on-call
 * engineer would troubleshoot it, and says how to fix each problem. Nothing is started, stopped or sent (Slack
 * only with --send-test); each check has a time limit, so a dead service costs seconds, not a hang.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, readSettings, type Env } from '../../config';
import type { IgnoredSettings, UnreadLine } from '../../config/env-files';
import { runChecks, type Check, type CheckResult } from './check';
import { checkConfiguration } from './configuration';
import { DoctorContext, type DoctorOptions } from './context';
import { clusterCheck } from './ec2';
import { exitCode, formatJson, formatResults, redact, secretValues } from './format';
import { kakaoCheck } from './kakao';
import { postgresCheck } from './postgres';
import { inputCheck, sparkCodeCheck } from './s3';
import { slackCheck } from './slack';
import { smtpCheck } from './smtp';
import { sshCheck } from './ssh';
import { temporalCheck } from './temporal';

export type { CheckResult } from './check';

/** After the configuration, in this order. */
const CHECKS: readonly Check[] = [
  temporalCheck,
  clusterCheck,
  sshCheck,
  sparkCodeCheck,
  inputCheck,
  postgresCheck,
  smtpCheck,
  slackCheck,
  kakaoCheck,
];

/** The settings files read besides the environment (POTHOLE_ENV_FILE's list, or ./.env when present). */
function settingsFiles(processEnv: Env, cwd: string): string | undefined {
  const named = (processEnv.POTHOLE_ENV_FILE ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => path.resolve(cwd, f));
  if (named.length > 0) return named.join(', ');
  const file = path.join(cwd, '.env');
  return fs.existsSync(file) ? file : undefined;
}

export async function runDoctor(
  options: DoctorOptions,
  processEnv: Env = process.env,
  cwd = process.cwd(),
): Promise<CheckResult[]> {
  let env: Env | undefined;
  let ignored: IgnoredSettings[] = [];
  let unread: UnreadLine[] = [];
  let readProblems: string[] = [];
  try {
    ({ env, ignored, unread } = readSettings(processEnv, cwd));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    readProblems = err.problems;
  }
  const ctx = new DoctorContext(env, options, readProblems);
  try {
    const results = [
      checkConfiguration(ctx, settingsFiles(processEnv, cwd), ignored, unread),
      ...(await runChecks(CHECKS, ctx, options.timeoutMs)),
    ];
    return redact(results, secretValues(env ?? processEnv));
  } finally {
    await ctx.close();
  }
}

/** The command: prints the report and returns the exit code (1 when any check found a problem). */
export async function doctorCommand(opts: { json?: boolean; sendTest?: boolean; timeout: number }) {
  const results = await runDoctor({ sendTest: !!opts.sendTest, timeoutMs: opts.timeout * 1000 });
  console.log(opts.json ? formatJson(results) : formatResults(results));
  return exitCode(results);
}
