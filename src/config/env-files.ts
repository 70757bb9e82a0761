/**
 * The settings files: POTHOLE_ENV_FILE names one or more (comma separated), else ./.env is read when it exists.
 * Each is a dotenv file, and `export NAME=value` lines of a shell script such as the original infra/env.sh are read
 * the same way. Later files override earlier ones; the process environment overrides every file.
 *
 * Nothing here prints: names a file sets that no part of the configuration reads are returned, and the worker and
 * the CLI report them once at start.
 */
import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { ConfigError, type Env } from './fields';

export interface IgnoredSettings {
  /** The file as it was named (POTHOLE_ENV_FILE's entry, or `.env`). */
  file: string;
  names: string[];
}

export interface EnvReading {
  /** The files' settings under the process environment. */
  env: Env;
  /** Per file, the names it sets that nothing reads (a typo, or a setting of the old scheduler). */
  ignored: IgnoredSettings[];
}

/** The files to read, as named: POTHOLE_ENV_FILE's comma list, or `.env` (optional) when it is unset. */
function envFiles(processEnv: Env): { named: string[]; explicit: boolean } {
  const listed = (processEnv.POTHOLE_ENV_FILE ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  return listed.length > 0 ? { named: listed, explicit: true } : { named: ['.env'], explicit: false };
}

/**
 * Reads the settings files under the process environment. `isKnown` tells which names some part of the
 * configuration reads; the process environment's own names are never reported (it holds many unrelated ones).
 * A file named in POTHOLE_ENV_FILE but missing is an error; every missing one is listed.
 */
export function readEnvFiles(processEnv: Env, cwd: string, isKnown: (name: string) => boolean): EnvReading {
  const { named, explicit } = envFiles(processEnv);
  const missing = named.filter((f) => !fs.existsSync(path.resolve(cwd, f)));
  if (explicit && missing.length > 0) {
    throw new ConfigError(
      missing.map((f) => `POTHOLE_ENV_FILE names ${path.resolve(cwd, f)}, which does not exist`),
    );
  }
  const fromFiles: Env = {};
  const ignored: IgnoredSettings[] = [];
  for (const file of named) {
    const full = path.resolve(cwd, file);
    if (!fs.existsSync(full)) continue;
    const parsed = dotenv.parse(fs.readFileSync(full));
    Object.assign(fromFiles, parsed);
    const unknown = Object.keys(parsed).filter((name) => !isKnown(name));
    if (unknown.length > 0) ignored.push({ file, names: unknown.sort() });
  }
  return { env: { ...fromFiles, ...processEnv }, ignored };
}

/** One line naming every ignored setting and its file, or undefined when there are none. */
export function ignoredSettingsWarning(ignored: IgnoredSettings[]): string | undefined {
  if (ignored.length === 0) return undefined;
  const parts = ignored.map(({ file, names }) => `in ${file}: ${names.join(', ')}`);
  return `ignored settings ${parts.join('; ')} (nothing reads these names)`;
}
