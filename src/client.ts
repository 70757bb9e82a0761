/**
 * The `pothole` CLI: how the on-call data engineer starts, follows, reruns, cancels and schedules runs.
 * Every command validates its arguments before touching anything, prints one clear line on error and exits
 * non-zero, and speaks JSON with --json for scripts.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import {
  ConfigError,
  ignoredSettingsWarning,
  loadConfig,
  unreadLinesWarning,
  readSettings,
  SECTIONS_FOR,
  type Env,
} from './config';
import { connectClient } from './temporal/client';
import {
  cancelRun,
  checkRange,
  follow,
  followBackfill,
  listRuns,
  parseDate,
  parseStep,
  precondition,
  showStatus,
  startBackfill,
  startRun,
  UsageError,
  type Out,
} from './cli/runs';
import { registerComplaintCommands } from './cli/complaints';
import { showCost } from './cli/cost';
import { assertStageOutput } from './cli/preconditions';
import { scheduleCommand } from './cli/schedule';
import { startDashboard } from './dashboard/server';
import { registerToolCommands } from './cli/tools';
import { doctorCommand } from './cli/doctor';

function output(json: boolean): Out {
  return {
    json,
    print(human, data) {
      if (!json) console.log(human);
      else if (data !== undefined) console.log(JSON.stringify(data));
    },
  };
}

let settings: Env | undefined;

/**
 * The settings, read once per command; the lines of the settings files not read, and what they set but nothing
 * reads, are named on stderr.
 */
function readEnv(): Env {
  if (!settings) {
    const reading = readSettings();
    for (const warning of [unreadLinesWarning(reading.unread), ignoredSettingsWarning(reading.ignored)]) {
      if (warning) console.error(`warning: ${warning}`);
    }
    settings = reading.env;
  }
  return settings;
}

const temporalConfig = () => loadConfig(SECTIONS_FOR.client, readEnv()).temporal;

function buildProgram(): Command {
  const program = new Command('pothole')
    .description('Nightly pothole-detection pipeline on Temporal: runs, reruns, schedule and tools')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const json = new Option('--json', 'machine-readable output');

  program
    .command('run')
    .description('start the pipeline for DATE (default: yesterday in Asia/Seoul)')
    .argument('[date]', 'batch date YYYY-MM-DD')
    .option('--force', 'cancel a run in progress for DATE, wait for its cleanup, then start again')
    .option('--from <step>', 'start at this step (checks that what it needs exists first)')
    .option('--wait', 'follow progress until the run ends; exit 0 only on success')
    .addOption(json)
    .action(
      async (
        date: string | undefined,
        opts: { force?: boolean; from?: string; wait?: boolean; json?: boolean },
      ) => {
        const batchDate = parseDate(date);
        const fromStep = parseStep(opts.from);
        const out = output(!!opts.json);
        const needs = precondition(fromStep);
        const config = loadConfig(needs ? ['temporal', 'aws', 's3'] : ['temporal'], readEnv());
        if (needs && 's3' in config) {
          await assertStageOutput(config, needs, batchDate);
        }
        const client = await connectClient(config.temporal);
        const handle = await startRun(client, config.temporal, out, {
          batchDate,
          fromStep,
          force: !!opts.force,
        });
        if (opts.wait) process.exitCode = await follow(handle, out);
      },
    );

  program
    .command('status')
    .description("show a run's steps (status, duration, attempt, detail); without DATE, the latest runs")
    .argument('[date]', 'batch date YYYY-MM-DD')
    .addOption(json)
    .action(async (date: string | undefined, opts: { json?: boolean }) => {
      const batchDate = date === undefined ? undefined : parseDate(date);
      const client = await connectClient(temporalConfig());
      if (batchDate) await showStatus(client, output(!!opts.json), batchDate);
      else await listRuns(client, output(!!opts.json), 10);
    });

  program
    .command('cancel')
    .description('cancel the run for DATE and wait until its cleanup has stopped the cluster')
    .argument('<date>', 'batch date YYYY-MM-DD')
    .addOption(json)
    .action(async (date: string, opts: { json?: boolean }) => {
      const batchDate = parseDate(date);
      await cancelRun(await connectClient(temporalConfig()), output(!!opts.json), batchDate);
    });

  program
    .command('list')
    .description('the latest runs')
    .option('--last <n>', 'how many', '10')
    .addOption(json)
    .action(async (opts: { last: string; json?: boolean }) => {
      const last = Number(opts.last);
      if (!Number.isInteger(last) || last < 1)
        throw new UsageError(`--last must be a positive integer, got "${opts.last}"`);
      await listRuns(await connectClient(temporalConfig()), output(!!opts.json), last);
    });

  program
    .command('cost')
    .description(
      "each run's cluster-up time and cost for the batch dates FROM..TO (runs of TEMPORAL_TASK_QUEUE), and the total",
    )
    .requiredOption('--from <date>', 'first batch date YYYY-MM-DD')
    .requiredOption('--to <date>', 'last batch date YYYY-MM-DD')
    .addOption(json)
    .action(async (opts: { from: string; to: string; json?: boolean }) => {
      const [from, to] = [parseDate(opts.from, '--from'), parseDate(opts.to, '--to')];
      if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
      const config = temporalConfig();
      checkRange(from, to, config.MAX_RANGE_DAYS, ['--from', '--to']);
      await showCost(await connectClient(config), config, output(!!opts.json), { from, to });
    });

  program
    .command('backfill')
    .description('process FROM..TO in one cluster session (cluster started and stopped once)')
    .argument('<from>', 'first date YYYY-MM-DD')
    .argument('<to>', 'last date YYYY-MM-DD')
    .option('--wait', 'wait for the end and print each date’s outcome')
    .addOption(json)
    .action(async (from: string, to: string, opts: { wait?: boolean; json?: boolean }) => {
      // The dates' own errors come before any setting's.
      const [first, last] = [parseDate(from, 'FROM'), parseDate(to, 'TO')];
      const config = temporalConfig();
      checkRange(first, last, config.MAX_RANGE_DAYS);
      const out = output(!!opts.json);
      const handle = await startBackfill(await connectClient(config), config, out, first, last);
      if (opts.wait) process.exitCode = await followBackfill(handle, out);
    });

  program
    .command('schedule')
    .description(
      'manage the schedules: pothole-nightly (02:00 Asia/Seoul) and pothole-watchdog (stops a cluster left running)',
    )
    .addArgument(
      new Argument('<action>').choices([
        'create',
        'update',
        'describe',
        'pause',
        'unpause',
        'trigger',
        'delete',
      ]),
    )
    .addOption(json)
    .action(async (action: string, opts: { json?: boolean }) => {
      const config = loadConfig(SECTIONS_FOR.client, readEnv());
      await scheduleCommand(await connectClient(config.temporal), config, output(!!opts.json), action);
    });

  program
    .command('doctor')
    .description(
      'check everything the nightly run needs (settings, Temporal and the schedules, EC2, SSH, S3, PostgreSQL, ' +
        'SMTP, Slack, Kakao) and say how to fix what is wrong; exit code 1 on any problem',
    )
    .option('--send-test', 'also post a test message to Slack')
    .option('--timeout <seconds>', 'time limit of each check', '10')
    .addOption(json)
    .action(async (opts: { sendTest?: boolean; timeout: string; json?: boolean }) => {
      const timeout = Number(opts.timeout);
      if (!(timeout > 0))
        throw new UsageError(`--timeout must be a positive number of seconds, got "${opts.timeout}"`);
      process.exitCode = await doctorCommand({ json: opts.json, sendTest: opts.sendTest, timeout });
    });

  program
    .command('dashboard')
    .description(
      "serve the road manager's dashboard (map, repair priorities and status, trend, pipeline runs) on DASHBOARD_HOST:DASHBOARD_PORT",
    )
    .action(async () => {
      const dashboard = await startDashboard(readEnv());
      console.error(`dashboard at ${dashboard.url}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await dashboard.close();
    });

  registerToolCommands(program, output, readEnv);
  registerComplaintCommands(program, output, readEnv);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message. --help and --version end well; anything else (an unknown
      // option or command, a missing argument) is a usage error, as the CLI's own are.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => process.exit(code));
}
