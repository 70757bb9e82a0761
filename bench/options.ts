/**
 * The benchmarks' command lines, read with node's parseArgs (strict, no positionals). A bad option or value is a
 * UsageError: the benchmark prints its one line and the usage, and exits 2 before starting anything.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export function readOptions<const O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
}

/** An integer option's value, at least `min`, or a UsageError naming the option. */
export function integerOption(value: string, option: string, min: number, usage: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min)
    throw new UsageError(`--${option} must be an integer ≥ ${min}, not ${value}\n${usage}`);
  return n;
}

/** What a benchmark prints for an error that ended it, and its exit code: a usage error without a stack. */
export function benchFailure(err: unknown): number {
  console.error(err instanceof UsageError ? err.message : err);
  return err instanceof UsageError ? 2 : 1;
}
