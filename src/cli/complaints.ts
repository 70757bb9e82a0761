/**
 * pothole complaints load --from DATE --to DATE: the citizens' pothole complaints of a date range from the public
 * data portal, matched to the road segments and stored, with what was fetched, stored, already there, off the
 * network and malformed, per window of at most 15 days.
 */
import { Option, type Command } from 'commander';
import { complaintsApiKey, loadComplaints } from '../activities/complaints';
import { ConfigError, loadConfig, maxRangeDays, type Env } from '../config';
import { createPool } from '../db/pool';
import type { LoadComplaintsResult } from '../shared/types';
import { table } from './render';
import { parseRange, type Out } from './runs';

function complaintsReport(r: LoadComplaintsResult): string {
  const row = (label: string, c: Omit<LoadComplaintsResult['windows'][number], 'from' | 'to'>) => [
    label,
    c.pages,
    c.fetched,
    c.loaded,
    c.alreadyPresent,
    c.unmatched,
    c.malformed,
  ];
  const pages = r.windows.reduce((n, w) => n + w.pages, 0);
  return [
    `complaints ${r.from}..${r.to}: ${r.windows.length} window(s), matched against ${r.segments} segment(s)`,
    table(
      ['window', 'pages', 'fetched', 'loaded', 'already present', 'unmatched', 'malformed'],
      [...r.windows.map((w) => row(`${w.from}..${w.to}`, w)), row('total', { ...r, pages })],
    ),
    ...(r.malformedExamples.length
      ? ['malformed items (skipped):', ...r.malformedExamples.map((e) => `  - ${e}`)]
      : []),
  ].join('\n');
}

/** The database and the API settings, the service key included; every problem named at once. */
function complaintsLoadConfig(readEnv: () => Env) {
  const env = readEnv();
  const problems: string[] = [];
  const check = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  };
  check(() => complaintsApiKey(loadConfig(['complaints'], env).complaints));
  check(() => loadConfig(['postgres'], env));
  if (problems.length > 0) throw new ConfigError([...new Set(problems)].sort());
  return loadConfig(['postgres', 'complaints'], env);
}

export function registerComplaintCommands(
  program: Command,
  output: (json: boolean) => Out,
  readEnv: () => Env,
): void {
  const complaints = program.command('complaints').description("citizens' pothole complaints");
  complaints
    .command('load')
    .description(
      'load the complaints of FROM..TO from the public data portal onto the nearest road segments (idempotent)',
    )
    .requiredOption('--from <date>', 'first date YYYY-MM-DD')
    .requiredOption('--to <date>', 'last date YYYY-MM-DD')
    .addOption(new Option('--json', 'machine-readable output'))
    .action(async (opts: { from: string; to: string; json?: boolean }) => {
      const range = parseRange(opts.from, opts.to, maxRangeDays(readEnv()));
      const config = complaintsLoadConfig(readEnv);
      const pool = createPool(config.postgres, { max: 2, applicationName: 'pothole-complaints' });
      try {
        const result = await loadComplaints({ pool, config: config.complaints }, range);
        output(!!opts.json).print(complaintsReport(result), result);
      } finally {
        await pool.end();
      }
    });
}
