/**
 * Shell quoting for commands run on remote hosts. Every value interpolated into a command goes through
 * `quote` (POSIX single-quote escaping), so a batch date like `2026-02-12; rm -rf /` stays one inert argument.
 * Nothing else in the code base builds shell strings by concatenation: use the `sh` template.
 */

/** A fragment of shell text that is already safe to splice into a command (built by `sh` or `raw`). */
export class ShellCommand {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Single-quotes a value for POSIX shells: `it's` → `'it'\''s'`. Safe for any byte except NUL. */
export function quote(value: string | number): string {
  const s = String(value);
  if (s.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  if (s !== '' && /^[A-Za-z0-9_./:@%+,-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export type ShellValue = string | number | ShellCommand | readonly (string | number | ShellCommand)[];

function render(value: ShellValue): string {
  if (value instanceof ShellCommand) return value.text;
  if (Array.isArray(value)) return value.map((v: string | number | ShellCommand) => render(v)).join(' ');
  if (typeof value === 'string' || typeof value === 'number') return quote(value);
  throw new TypeError(`cannot interpolate ${typeof value} into a shell command`);
}

/**
 * Tagged template for shell commands: the literal text is shell syntax, every `${value}` is quoted.
 * Arrays become several quoted words; a nested `sh`/`raw` fragment is inserted as is.
 *
 *   sh`mkdir -p ${dir} && cd ${dir} && ls ${files}`
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): ShellCommand {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += render(value) + (strings[i + 1] ?? '');
  });
  return new ShellCommand(text);
}

/** Shell text taken literally: only for constant syntax written in this code base, never for data. */
export function raw(text: string): ShellCommand {
  return new ShellCommand(text);
}

/** Joins fragments with a separator (e.g. `&&`, `;` or a newline), each fragment already safe. */
export function joinCommands(parts: readonly ShellCommand[], separator = '\n'): ShellCommand {
  return new ShellCommand(parts.map((p) => p.text).join(separator));
}

/**
 * `command` reading `body` from a here-document with a quoted delimiter (nothing inside is expanded): hands data to
 * a program on its stdin without the data ever appearing in a process's argv (presigned URLs, say).
 */
export function withHereDoc(
  command: ShellCommand,
  body: string,
  delimiter = 'POTHOLE_HEREDOC',
): ShellCommand {
  if (body.split('\n').includes(delimiter)) {
    throw new Error(`a here-document body cannot contain its delimiter line ${delimiter}`);
  }
  return new ShellCommand(`${command.text} <<'${delimiter}'\n${body}\n${delimiter}`);
}
