/**
 * The settings files' syntax: the part of bash that only assigns. `NAME=value` and `export NAME=value` lines,
 * single and double quotes, backslash escapes, `#` comments and values spanning lines are read exactly as
 * `set -a; . FILE` would read them. Nothing is ever run: a command bash would run instead of (or besides) an
 * assignment — an expansion, `source`, a function, a pipe, a redirection — is not read, and is reported with its
 * line and why. The reasons never quote a value: a line not read may hold a secret.
 */

export interface Assignment {
  name: string;
  value: string;
  /** 1-based line where the assignment starts. */
  line: number;
}

/** A command that was not read: it would run something, or its syntax is beyond plain assignments. */
export interface UnreadCommand {
  line: number;
  /** The last line it spans (a value or a block over several lines), when not `line`. */
  lastLine?: number;
  why: string;
}

export interface ShellAssignments {
  assignments: Assignment[];
  unread: UnreadCommand[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Characters that end a word outside quotes. */
const WORD_END = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);
const SPECIAL_PARAMETERS = new Set(['@', '*', '#', '?', '$', '!', '-']);
const BLOCK_OPENERS = new Set(['if', 'case', 'for', 'while', 'until', 'select', '{']);
const BLOCK_CLOSERS = new Set(['fi', 'esac', 'done', '}']);
/** Reserved words after which the next word is again a command word. */
const COMMAND_PREFIXES = new Set(['then', 'do', 'else', 'elif', 'if', 'while', 'until', '{', '!', 'time']);
/**
 * Commands named in a report. Any other command word is left out: a stray line of a settings file may be a
 * password that lost its `NAME=`.
 */
const NAMED_COMMANDS = new Set(
  (
    '. source set unset alias unalias echo printf cd pushd popd eval exec exit return declare typeset local ' +
    'readonly read shift trap umask ulimit true false test [ [[ ]] let command builtin enable hash type mkdir cat ' +
    'rm cp mv ln chmod chown touch sleep export then do else elif fi done esac in } function'
  ).split(' '),
);

/** A word after quote removal, with which of its characters were plain: unquoted and unescaped. */
interface Word {
  text: string;
  plain: boolean[];
  problems: string[];
  line: number;
  /** No word at all: only line continuations (a quoted '' is a word). */
  none?: boolean;
}

type Token = { kind: 'word'; word: Word } | { kind: 'op'; op: string };

/** Where bash itself stops reading the file: an unclosed quote, a syntax error. */
class StopReading extends Error {}

class Scanner {
  i = 0;
  line = 1;
  constructor(readonly text: string) {}

  peek(offset = 0): string | undefined {
    return this.text[this.i + offset];
  }
  next(): string {
    const c = this.text[this.i++]!;
    if (c === '\n') this.line++;
    return c;
  }
  atEnd(): boolean {
    return this.i >= this.text.length;
  }
  skipBlanks(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }
  skipToLineEnd(): void {
    while (!this.atEnd() && this.peek() !== '\n') this.i++;
  }
  /** Whether only blanks and carriage returns are left on this line. */
  restOfLineIsBlank(): boolean {
    for (let j = this.i; j < this.text.length && this.text[j] !== '\n'; j++) {
      if (!' \t\r'.includes(this.text[j]!)) return false;
    }
    return true;
  }
}

/** Reads one word: unquoted text, '…', "…", backslash escapes; expansions are noted as problems, never done. */
function readWord(s: Scanner): Word {
  const word: Word = { text: '', plain: [], problems: [], line: s.line };
  const add = (chars: string, plain: boolean) => {
    word.text += chars;
    for (let k = 0; k < chars.length; k++) word.plain.push(plain);
  };
  const start = s.i;
  let continuations = 0;
  while (!s.atEnd() && !WORD_END.has(s.peek()!)) {
    const c = s.next();
    if (c === '\\' && s.peek() === '\n') continuations++;
    if (c === '\\') {
      if (s.atEnd()) add('\\', false);
      else if (s.peek() === '\n')
        s.next(); // a line continuation: both characters go
      else add(s.next(), false);
    } else if (c === "'") {
      add(readUntil(s, "'", 'single quote'), false);
    } else if (c === '"') {
      readDoubleQuoted(s, word, add);
    } else if (c === '$') {
      const after = s.peek();
      if (after === "'") {
        s.next();
        readUntil(s, "'", "$'…' quote");
        word.problems.push("uses $'…' quoting");
      } else if (after === '"') {
        s.next();
        readDoubleQuoted(s, word, add);
        word.problems.push('uses $"…" quoting');
      } else {
        readDollar(s, word, add);
      }
    } else if (c === '`') {
      readUntil(s, '`', 'backquote');
      word.problems.push('would run a command: `…`');
    } else {
      add(c, true);
    }
  }
  if (s.i - start === 2 * continuations) word.none = true;
  return word;
}

/** The text up to `end` (consumed, not returned); the quote may span lines. */
function readUntil(s: Scanner, end: string, what: string): string {
  const start = s.i;
  const line = s.line;
  while (!s.atEnd() && s.peek() !== end) {
    if (end === '`' && s.peek() === '\\') s.next();
    s.next();
  }
  if (s.atEnd()) throw new StopReading(`${what} opened on line ${line} never closes`);
  const text = s.text.slice(start, s.i);
  s.next();
  return text;
}

function readDoubleQuoted(s: Scanner, word: Word, add: (chars: string, plain: boolean) => void): void {
  const line = s.line;
  for (;;) {
    if (s.atEnd()) throw new StopReading(`double quote opened on line ${line} never closes`);
    const c = s.next();
    if (c === '"') return;
    if (c === '\\') {
      const after = s.peek();
      if (after === '\n') s.next();
      else if (after === '$' || after === '`' || after === '"' || after === '\\') add(s.next(), false);
      else add('\\', false); // any other backslash stays inside double quotes
    } else if (c === '$') {
      readDollar(s, word, add);
    } else if (c === '`') {
      readUntil(s, '`', 'backquote');
      word.problems.push('would run a command: `…`');
    } else {
      add(c, false);
    }
  }
}

/** After a `$`: an expansion (noted as a problem and skipped) or a plain dollar sign. */
function readDollar(s: Scanner, word: Word, add: (chars: string, plain: boolean) => void): void {
  const c = s.peek();
  if (c === '(') {
    const arithmetic = s.peek(1) === '(';
    skipBalanced(s, '(', ')');
    word.problems.push(arithmetic ? 'would expand $((…))' : 'would run a command: $(…)');
  } else if (c === '{') {
    const inner = skipBalanced(s, '{', '}');
    const name = /^[#!]?([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(inner)?.[0] ?? '';
    word.problems.push(`would expand \${${name}${inner.length > name.length ? '…' : ''}}`);
  } else if (c !== undefined && /[A-Za-z_]/.test(c)) {
    let name = '';
    while (/[A-Za-z0-9_]/.test(s.peek() ?? '')) name += s.next();
    word.problems.push(`would expand $${name}`);
  } else if (c !== undefined && (/[0-9]/.test(c) || SPECIAL_PARAMETERS.has(c))) {
    word.problems.push(`would expand $${s.next()}`);
  } else {
    add('$', false);
  }
}

/** Skips from an opening bracket to its match, minding quotes; returns the text between them. */
function skipBalanced(s: Scanner, open: string, close: string): string {
  const line = s.line;
  s.next();
  const start = s.i;
  let depth = 1;
  while (!s.atEnd()) {
    const c = s.next();
    if (c === '\\') s.next();
    else if (c === "'" && open === '(') readUntil(s, "'", 'single quote');
    else if (c === '"') readDoubleQuoted(s, { text: '', plain: [], problems: [], line }, () => {});
    else if (c === open) depth++;
    else if (c === close && --depth === 0) return s.text.slice(start, s.i - 1);
  }
  throw new StopReading(`$${open} opened on line ${line} never closes`);
}

/** The operator at the scanner: a run of & | < > characters, or a single parenthesis. */
function readOperator(s: Scanner): string {
  const c = s.next();
  if (c === '(' || c === ')') return c;
  let op = c;
  while ('&|<>'.includes(s.peek() ?? ' ')) op += s.next();
  if (op === '<<' && s.peek() === '-') op += s.next();
  return op;
}

const OPERATOR_PROBLEMS: [RegExp, string][] = [
  [/^(&&|\|\|)$/, 'has a && or || list'],
  [/^\|$/, 'has a pipe'],
  [/^&$/, 'runs in the background (&)'],
  [/^<<-?$/, 'has a here-document'],
  [/^[()]$/, 'has ( … ): a subshell, an array or a function'],
];
const operatorProblem = (op: string) =>
  OPERATOR_PROBLEMS.find(([re]) => re.test(op))?.[1] ?? 'has a redirection';

interface Command {
  tokens: Token[];
  line: number;
  lastLine: number;
}

/** Reads one command up to a newline or `;`, with the bodies of its here-documents. */
function readCommand(s: Scanner): Command {
  const command: Command = { tokens: [], line: s.line, lastLine: s.line };
  const heredocs: { delimiter: string; stripTabs: boolean }[] = [];
  for (;;) {
    s.skipBlanks();
    if (s.atEnd()) break;
    const c = s.peek()!;
    if (c === '\n') {
      command.lastLine = s.line;
      s.next();
      for (const doc of heredocs) skipHeredoc(s, doc.delimiter, doc.stripTabs);
      return command;
    }
    if (c === '#') {
      s.skipToLineEnd();
      continue;
    }
    if (c === ';') {
      s.next();
      if (s.peek() === ';') command.tokens.push({ kind: 'op', op: s.next() + ';' });
      break;
    }
    if (WORD_END.has(c)) {
      const op = readOperator(s);
      command.tokens.push({ kind: 'op', op });
      if (op === '<<' || op === '<<-') {
        s.skipBlanks();
        heredocs.push({ delimiter: readWord(s).text, stripTabs: op === '<<-' });
      }
      continue;
    }
    const word = readWord(s);
    if (!word.none) command.tokens.push({ kind: 'word', word });
  }
  command.lastLine = s.line;
  return command;
}

function skipHeredoc(s: Scanner, delimiter: string, stripTabs: boolean): void {
  while (!s.atEnd()) {
    const start = s.i;
    s.skipToLineEnd();
    let text = s.text.slice(start, s.i);
    if (!s.atEnd()) s.next();
    if (stripTabs) text = text.replace(/^\t+/, '');
    if (text === delimiter) return;
  }
}

const isPlain = (w: Word) => w.plain.every(Boolean);

/** NAME=value or NAME+=value: the name ends at the first `=`, and every character up to it is plain. */
function splitAssignment(w: Word): { name: string; value: string; eq: number; append: boolean } | undefined {
  const eq = w.text.indexOf('=');
  if (eq < 1 || w.plain.slice(0, eq + 1).some((p) => !p)) return undefined;
  const append = w.text[eq - 1] === '+';
  const name = w.text.slice(0, append ? eq - 1 : eq);
  return NAME.test(name) ? { name, value: w.text.slice(eq + 1), eq, append } : undefined;
}

/** What keeps an assignment word from being read as it stands; `declaration`: an argument of `export`. */
function assignmentProblems(w: Word, eq: number, append: boolean, declaration: boolean): string[] {
  const problems = [...w.problems];
  if (append) problems.push('appends (+=)');
  for (let k = eq + 1; k < w.text.length; k++) {
    const tildePrefix = k === eq + 1 || (w.text[k - 1] === ':' && w.plain[k - 1]);
    if (w.text[k] === '~' && w.plain[k] && tildePrefix) problems.push('would expand ~ (the home folder)');
  }
  // bash expands {a,b} and {1..3} in export's arguments (not in plain assignments).
  if (declaration && /\{[^{}]*(,|\.\.)[^{}]*\}/.test(plainOnly(w))) problems.push('would expand {…,…}');
  return problems;
}

/** The word with every quoted or escaped character blanked out. */
const plainOnly = (w: Word) => w.text.replace(/[^]/g, (ch, k: number) => (w.plain[k] ? ch : '_'));

function commandName(w: Word): string {
  if (w.text.startsWith('\uFEFF'))
    return 'starts with a byte-order mark, which bash reads as part of the line';
  if (isPlain(w) && NAMED_COMMANDS.has(w.text)) return `would run the command "${w.text}"`;
  return 'would run a command (the line is not NAME=value)';
}

type Reading = { assignments: Assignment[] } | { why: string[] };

/** A simple command: assignments only, or `export` with assignments and names. */
function readSimpleCommand(words: Word[]): Reading {
  const assignments: Assignment[] = [];
  const problems: string[] = [];
  let k = 0;
  for (; k < words.length; k++) {
    const w = words[k]!;
    const split = splitAssignment(w);
    if (!split) break;
    problems.push(...assignmentProblems(w, split.eq, split.append, false));
    assignments.push({ name: split.name, value: split.value, line: w.line });
  }
  if (k < words.length) {
    const first = words[k]!;
    if (k > 0 || !isPlain(first) || first.text !== 'export') {
      return { why: unique([...words.flatMap((w) => w.problems), commandName(first)]) };
    }
    const args = words.slice(1);
    if (args.length === 0) problems.push('export without a name prints the environment');
    for (const w of args) {
      const split = splitAssignment(w);
      if (split) {
        problems.push(...assignmentProblems(w, split.eq, split.append, true));
        assignments.push({ name: split.name, value: split.value, line: w.line });
      } else if (w.text.startsWith('-')) {
        problems.push(`export with an option (${isPlain(w) ? w.text.slice(0, 10) : '-…'})`);
      } else if (!isPlain(w) || !NAME.test(w.text)) {
        // `export NAME` alone only marks NAME for export: nothing to read.
        problems.push(...w.problems, 'export of something that is not a name');
      }
    }
  }
  return problems.length > 0 ? { why: unique(problems) } : { assignments };
}

const unique = (items: string[]) => [...new Set(items)];

/** How a command changes the nesting of blocks: if/fi, case/esac, loops/done, { }, ( ). */
function nesting(tokens: Token[]): { keywords: number; parens: number; opener?: string } {
  let keywords = 0;
  let parens = 0;
  let opener: string | undefined;
  let commandPosition = true;
  for (const t of tokens) {
    if (t.kind === 'op') {
      if (t.op === '(') parens++;
      else if (t.op === ')') parens--;
      commandPosition = !/[<>]/.test(t.op);
      continue;
    }
    const reserved = isPlain(t.word) ? t.word.text : '';
    // { and } count anywhere: after `f()` or `function f` they open and close the function's body.
    const reservedHere = commandPosition || reserved === '{' || reserved === '}';
    if (reservedHere && BLOCK_OPENERS.has(reserved)) {
      keywords++;
      opener ??= reserved;
    } else if (reservedHere && BLOCK_CLOSERS.has(reserved)) {
      keywords--;
    }
    if (commandPosition && reserved === 'function') opener ??= 'function';
    commandPosition = COMMAND_PREFIXES.has(reserved) && commandPosition;
  }
  return { keywords, parens, opener };
}

function blockDescription(opener: string | undefined, tokens: Token[]): string {
  const definesFunction =
    opener === 'function' ||
    (tokens[0]?.kind === 'word' &&
      tokens[1]?.kind === 'op' &&
      tokens[1].op === '(' &&
      tokens[2]?.kind === 'op' &&
      tokens[2].op === ')');
  if (definesFunction) return 'defines a function';
  const ends: Record<string, string> = {
    if: 'fi',
    case: 'esac',
    for: 'done',
    while: 'done',
    until: 'done',
    select: 'done',
    '{': '}',
  };
  if (opener && ends[opener]) return `is a block (${opener} … ${ends[opener]}) of commands`;
  return 'has ( … ): a subshell, an array or a function';
}

/** Reads a settings file's text; never runs any of it. */
export function readShellAssignments(text: string): ShellAssignments {
  const s = new Scanner(text);
  const assignments: Assignment[] = [];
  const unread: UnreadCommand[] = [];
  const report = (line: number, lastLine: number, why: string) =>
    unread.push(lastLine > line ? { line, lastLine, why } : { line, why });
  let block: { line: number; why: string; keywords: number; parens: number } | undefined;
  let line = 1;
  try {
    for (;;) {
      s.skipBlanks();
      if (s.atEnd()) break;
      if (s.peek() === '\n' || s.peek() === '#' || s.restOfLineIsBlank()) {
        // A blank line, a comment, or a CRLF file's blank line (bash fails to run "\r" and goes on).
        s.skipToLineEnd();
        if (!s.atEnd()) s.next();
        continue;
      }
      line = s.line;
      const command = readCommand(s);
      if (command.tokens.length === 0) continue;
      const change = nesting(command.tokens);
      // A closing word, `)` or `;;` with nothing open: bash stops at the syntax error.
      const stray =
        change.keywords < 0 ||
        (change.keywords === 0 &&
          (change.parens < 0 || command.tokens.some((t) => t.kind === 'op' && t.op === ';;')));
      if (!block && stray)
        throw new StopReading('a syntax error for bash, which stops reading the file here');
      if (block || change.keywords > 0 || change.parens > 0) {
        block ??= {
          line: command.line,
          why: blockDescription(change.opener, command.tokens),
          keywords: 0,
          parens: 0,
        };
        block.keywords += change.keywords;
        block.parens = Math.max(0, block.parens + change.parens);
        if (block.keywords <= 0 && block.parens === 0) {
          report(block.line, command.lastLine, block.why);
          block = undefined;
        }
        continue;
      }
      const ops = command.tokens.flatMap((t) => (t.kind === 'op' ? [t.op] : []));
      const words = command.tokens.flatMap((t) => (t.kind === 'word' ? [t.word] : []));
      const reading: Reading =
        ops.length > 0
          ? { why: unique([...words.flatMap((w) => w.problems), ...ops.map(operatorProblem)]) }
          : readSimpleCommand(words);
      if ('why' in reading) report(command.line, command.lastLine, reading.why.join('; '));
      else assignments.push(...reading.assignments);
    }
    if (block) report(block.line, s.line, `${block.why}, never closed`);
  } catch (err) {
    if (!(err instanceof StopReading)) throw err;
    report(line, line, `${err.message}: the rest of the file is not read`);
  }
  return { assignments, unread };
}
