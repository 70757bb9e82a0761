/** Check 1: every configuration section validates; all problems are listed at once. */
import { ok, problem, type CheckResult } from './check';
import { SECTION_NAMES, type DoctorContext } from './context';

export const CONFIGURATION = 'configuration';

/** `file`: the settings file read besides the environment, if any. */
export function checkConfiguration(ctx: DoctorContext, file: string | undefined): CheckResult {
  const problems = [...new Set([...ctx.invalid.values()].flat())].sort();
  if (ctx.invalid.size === 0) {
    return ok(
      CONFIGURATION,
      `all ${SECTION_NAMES.length} sections valid (read from the environment${file ? ` and ${file}` : ''})`,
    );
  }
  return problem(
    CONFIGURATION,
    `${problems.length} problem${problems.length === 1 ? '' : 's'} in the ${[...ctx.invalid.keys()].join(', ')} ` +
      `settings: ${problems.join('; ')}`,
    `set or correct them in ${file ?? 'the environment or a .env file'}; the README's Configuration table lists every setting`,
  );
}
