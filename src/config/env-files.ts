/**
 * The settings files: POTHOLE_ENV_FILE names one or more (comma separated), else ./.env is read when it exists.
 * Each is read as bash reads it (`set -a; . FILE`), for the lines that only assign: `NAME=value`,
 * `export NAME=value`, quotes, escapes, comments (shell-assignments.ts). A line bash would run rather than only
 * assign is never run: it is not read, and named with its file and line. Later files override earlier ones; the
 * process environment overrides every file.
 *
 * Nothing here prints: the names a file sets that no part of the configuration reads, and the lines not read, are
 * returned, and the worker and the CLI report them once at start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type Env, type SettingDoc } from './fields';
import { readShellAssignments } from './shell-assignments';

export interface IgnoredSettings {
  /** The file as it was named (POTHOLE_ENV_FILE's entry, or `.env`). */
  file: string;
  names: string[];
}

/** A command of a settings file that was not read, because bash would run it. */
export interface UnreadLine {
  /** The file as it was named. */
  file: string;
  line: number;
  /** The last line it spans, when more than one. */
  lastLine?: number;
  why: string;
}

export interface EnvReading {
  /** The files' settings under the process environment. */
  env: Env;
  /** Per file, the names it sets that nothing reads (a typo, or a setting of the old scheduler). */
  ignored: IgnoredSettings[];
  /** The lines not read, in file order. */
  unread: UnreadLine[];
}

/** POTHOLE_ENV_FILE in the README's settings table: read before any section, so it is in none. */
export const POTHOLE_ENV_FILE_DOC: SettingDoc = {
  description:
    'the settings files to read; a later one overrides an earlier one, the environment overrides them all',
  unit: 'comma list of file paths',
  defaultText: '.env (when it exists)',
};

/** The files to read, as named: POTHOLE_ENV_FILE's comma list, or `.env` (optional) when it is unset. */
function envFiles(processEnv: Env): { named: string[]; explicit: boolean } {
  const listed = (processEnv.POTHOLE_ENV_FILE ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  return listed.length > 0 ? { named: listed, explicit: true } : { named: ['.env'], explicit: false };
}

/**
 * A settings file's text, or the problem with it. Only a regular file is opened (a FIFO or a terminal would
 * block the start), and only text is read: a NUL byte or bytes that are not UTF-8 mean the wrong file was named.
 */
function fileText(full: string): { text: string } | { problem: string } {
  const stat = fs.statSync(full);
  if (stat.isDirectory()) return { problem: 'is a directory' };
  if (!stat.isFile()) return { problem: 'is not a regular file (a device, a FIFO or a socket)' };
  const bytes = fs.readFileSync(full);
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { problem: `is a binary file, not settings (a NUL byte at offset ${nul})` };
  try {
    // ignoreBOM keeps a byte-order mark in the text: bash reads it as part of the first line, and so is it reported.
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return { problem: 'is a binary file, not settings (not UTF-8 text)' };
  }
}

/**
 * Reads the settings files under the process environment. `isKnown` tells which names some part of the
 * configuration reads; the process environment's own names are never reported (it holds many unrelated ones).
 * A file named in POTHOLE_ENV_FILE that is missing, or is not a text file, is an error; every such file is listed.
 */
export function readEnvFiles(processEnv: Env, cwd: string, isKnown: (name: string) => boolean): EnvReading {
  const { named, explicit } = envFiles(processEnv);
  const problems: string[] = [];
  const texts: { file: string; text: string }[] = [];
  for (const file of named) {
    const full = path.resolve(cwd, file);
    const what = explicit
      ? `POTHOLE_ENV_FILE names ${full}, which`
      : `POTHOLE_ENV_FILE is unset, so ${full} is read, but it`;
    if (!fs.existsSync(full)) {
      if (explicit) problems.push(`${what} does not exist`);
      continue;
    }
    const read = fileText(full);
    if ('problem' in read) problems.push(`${what} ${read.problem}`);
    else texts.push({ file, text: read.text });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const fromFiles: Env = {};
  const ignored: IgnoredSettings[] = [];
  const unread: UnreadLine[] = [];
  for (const { file, text } of texts) {
    const reading = readShellAssignments(text);
    for (const { name, value } of reading.assignments) fromFiles[name] = value;
    unread.push(...reading.unread.map((u) => ({ file, ...u })));
    const unknown = [...new Set(reading.assignments.map((a) => a.name))].filter((name) => !isKnown(name));
    if (unknown.length > 0) ignored.push({ file, names: unknown.sort() });
  }
  return { env: { ...fromFiles, ...processEnv }, ignored, unread };
}

/** One line naming every ignored setting and its file, or undefined when there are none. */
export function ignoredSettingsWarning(ignored: IgnoredSettings[]): string | undefined {
  if (ignored.length === 0) return undefined;
  const parts = ignored.map(({ file, names }) => `in ${file}: ${names.join(', ')}`);
  return `ignored settings ${parts.join('; ')} (nothing reads these names)`;
}

/** One line naming every line not read, with its file and why, or undefined when every line was read. */
export function unreadLinesWarning(unread: UnreadLine[]): string | undefined {
  if (unread.length === 0) return undefined;
  const parts = unread.map(
    (u) => `${u.file} ${u.lastLine ? `lines ${u.line}-${u.lastLine}` : `line ${u.line}`} (${u.why})`,
  );
  return `settings lines not read (bash would run them; they are never run here): ${parts.join('; ')}`;
}
