/**
 * What a doctor check is and how checks run: one after another, each within a time limit (a dead service
 * never hangs the doctor), skipped when the settings it reads are invalid, and never throwing: an error
 * becomes a problem of that check.
 */
import type { SectionName } from '../../config';
import { errorMessage } from '../../activities/activity-support';
import type { DoctorContext } from './context';

export type CheckStatus = 'ok' | 'problem' | 'skipped';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a problem. */
  fix?: string;
}

export const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
export const problem = (name: string, detail: string, fix: string): CheckResult => ({
  name,
  status: 'problem',
  detail,
  fix,
});
export const skipped = (name: string, detail: string): CheckResult => ({ name, status: 'skipped', detail });

export interface Check {
  /** What a time-out, an unexpected error or a skip is reported as. */
  name: string;
  /** The configuration sections it reads: when one of them is invalid, the check is skipped. */
  needs: readonly SectionName[];
  /** The fix to give when the system does not answer in time or fails unexpectedly. */
  unreachableFix: string;
  run(ctx: DoctorContext, signal: AbortSignal): Promise<CheckResult[]>;
}

/** Runs the checks in order; each gets `timeoutMs` and a signal that is aborted when its time is up. */
export async function runChecks(
  checks: readonly Check[],
  ctx: DoctorContext,
  timeoutMs: number,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const invalid = check.needs.filter((s) => ctx.invalid.has(s));
    if (invalid.length > 0) {
      results.push(
        skipped(
          check.name,
          `needs the ${invalid.join(', ')} settings, which are invalid (see configuration)`,
        ),
      );
      continue;
    }
    results.push(...(await runOne(check, ctx, timeoutMs)));
  }
  return results;
}

async function runOne(check: Check, ctx: DoctorContext, timeoutMs: number): Promise<CheckResult[]> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<CheckResult[]>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`${check.name}: no answer within ${timeoutMs / 1000} s`));
      resolve([problem(check.name, `no answer within ${timeoutMs / 1000} s`, check.unreachableFix)]);
    }, timeoutMs);
  });
  try {
    return await Promise.race([
      check.run(ctx, controller.signal).catch((err: unknown) => {
        if (controller.signal.aborted) return timedOut;
        return [problem(check.name, errorMessage(err), check.unreachableFix)];
      }),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
