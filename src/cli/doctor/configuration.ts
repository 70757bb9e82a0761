/** Check 1: every configuration section validates; all problems are listed at once. */
import {
  ignoredSettingsWarning,
  unreadLinesWarning,
  type IgnoredSettings,
  type UnreadLine,
} from '../../config/env-files';
import { ok, problem, type CheckResult } from './check';
import { SECTION_NAMES, type DoctorContext } from './context';

const CONFIGURATION = 'configuration';

/** `file`: the settings file read besides the environment, if any. */
export function checkConfiguration(
  ctx: DoctorContext,
  file: string | undefined,
  ignored: IgnoredSettings[] = [],
  unread: UnreadLine[] = [],
): CheckResult {
  const problems = [...new Set([...ctx.invalid.values()].flat())].sort();
  // Lines not read are named either way: one of them may be what a problem is about.
  const notRead = unreadLinesWarning(unread);
  if (ctx.invalid.size === 0) {
    // Names nothing reads are not a problem (the old scheduler's settings), but a typo among them may be.
    const ignoredNames = ignoredSettingsWarning(ignored);
    return ok(
      CONFIGURATION,
      `all ${SECTION_NAMES.length} sections valid (read from the environment${file ? ` and ${file}` : ''})` +
        (notRead ? `; ${notRead}` : '') +
        (ignoredNames ? `; ${ignoredNames}` : ''),
    );
  }
  return problem(
    CONFIGURATION,
    `${problems.length} problem${problems.length === 1 ? '' : 's'} in the ${[...ctx.invalid.keys()].join(', ')} ` +
      `settings: ${problems.join('; ')}` +
      (notRead ? `; ${notRead}` : ''),
    `set or correct them in ${file ?? 'the environment or a .env file'}; the README's Configuration table lists every setting`,
  );
}
