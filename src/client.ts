/** The `pothole` CLI: the on-call engineer's entry point (run, status, cancel, backfill, schedule, …). */
import { Command } from 'commander';

const program = new Command('pothole').description('Nightly pothole pipeline on Temporal');
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
