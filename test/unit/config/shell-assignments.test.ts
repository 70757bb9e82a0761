/**
 * A settings file is read as bash reads it: every line of the corpus below is written to a file of its own, sourced
 * by /bin/bash (`set -a; . FILE; printenv NAME`, in an empty environment and an empty folder) and read by the
 * settings reader. A line the reader reads gives bash's value to the byte; a line bash would run rather than only
 * assign is reported (line and why) and gives nothing, and is never run by the reader.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { readShellAssignments } from '../../../src/config/shell-assignments';

interface Case {
  /** The file's text. */
  text: string;
  /** The setting printed (A unless told). */
  name?: string;
  /** Not read: the report says why. */
  unread?: RegExp;
}

const read: Case[] = [
  { text: 'POSTGRES_PASSWORD=pa#ss\n', name: 'POSTGRES_PASSWORD' },
  { text: 'A=value # a comment\n' },
  { text: 'A=value#not-a-comment\n' },
  { text: 'A=#starts-with-hash\n' },
  { text: 'A= # only a comment\n' },
  { text: 'A=\n' },
  { text: 'A=""\n' },
  { text: 'export A=exported\n' },
  { text: '  export A=indented   # and a comment\n' },
  { text: 'export A=1 B\n' },
  { text: "A='single # quoted $HOME `x`'\n" },
  { text: 'A="double # quoted"\n' },
  { text: 'A="a=b=c"\n' },
  { text: 'A=a=b=c\n' },
  { text: 'A="with spaces inside"\n' },
  { text: "A='  leading and trailing  '\n" },
  { text: "A='it'\"'\"'s'\n" },
  { text: 'A=\'a\'b"c"\n' },
  { text: 'A="say \\"hi\\""\n' },
  { text: 'A="back\\\\slash \\q \\n"\n' },
  { text: 'A="a\\$b \\`c\\`"\n' },
  { text: 'A=a\\ b\\#c\\$d\n' },
  { text: 'A=a\\\\b\n' },
  { text: "A='a\\nb'\n" },
  { text: 'A=$\n' },
  { text: 'A="cost: 5$"\n' },
  { text: 'A=*\n' },
  { text: 'A=[ab]?\n' },
  { text: 'A={a,b}\n' },
  { text: 'A=x~y\n' },
  { text: 'A="~/x"\n' },
  { text: 'A=x:y\n' },
  { text: 'A=x; B=y\n', name: 'B' },
  { text: 'A=1 B=2\n', name: 'B' },
  { text: 'A=first\nA=second\n' },
  { text: 'A=value\r\n' },
  { text: 'A="value"\r\n' },
  { text: 'A=value # a comment\r\n' },
  { text: '\r\nA=after-a-blank-crlf-line\r\n' },
  { text: 'A="line one\nline two"\n' },
  { text: "A='line one\n# not a comment\nline two'\n" },
  { text: 'A=abc\\\ndef\n' },
  { text: 'A=1 \\\nB=2\n', name: 'B' },
  { text: 'A=kept \\\n\n' },
  { text: 'export \\\n  A=continued\n' },
  { text: 'A=üñí-한글\n' },
  { text: 'A=no\u00a0break\n' },
  { text: 'A=1\tB=2\n', name: 'B' },
  { text: 'export A="x" B=\'y\'\n', name: 'B' },
  { text: 'A=x\\ \n' },
  { text: 'A=a\\tb"c\\td"\n' },
  { text: 'A=\\"quoted\\"\n' },
  { text: 'A==x\n' },
  { text: '_lower_1=x\n', name: '_lower_1' },
  { text: 'A=x #\n' },
  { text: 'A=end\\' },
  { text: 'A=no-newline-at-end' },
  { text: '#!/bin/bash\n# a comment\n\nA=after-comments\n' },
  { text: 'A=set\nexport A\n' },
  { text: 'A="-----BEGIN KEY-----\nMIIB\n-----END KEY-----"\n' },
];

const unread: Case[] = [
  { text: 'A=$(echo ran)\n', unread: /would run a command: \$\(…\)/ },
  { text: 'A=`echo ran`\n', unread: /would run a command: `…`/ },
  { text: 'A="$(echo ran)"\n', unread: /would run a command: \$\(…\)/ },
  { text: 'A=$HOME/x\n', unread: /would expand \$HOME/ },
  { text: 'A="${PATH}"\n', unread: /would expand \$\{PATH\}/ },
  { text: 'A=${B:-fallback}\n', unread: /would expand \$\{B…\}/ },
  { text: 'A=$((1+2))\n', unread: /would expand \$\(\(…\)\)/ },
  { text: 'A=price$5\n', unread: /would expand \$5/ },
  { text: 'A=~/x\n', unread: /would expand ~/ },
  { text: 'A=x:~/y\n', unread: /would expand ~/ },
  { text: "A=$'a\\tb'\n", unread: /\$'…' quoting/ },
  { text: 'export A={a,b}\n', unread: /would expand \{…,…\}/ },
  { text: 'A+=more\n', unread: /appends/ },
  { text: 'source ./other.env\n', unread: /would run the command "source"/ },
  { text: '. ./other.env\n', unread: /would run the command "\."/ },
  { text: 'f() { A=1; }\n', unread: /defines a function/ },
  { text: 'function f {\n  A=1\n}\n', unread: /defines a function/ },
  { text: 'if true; then\n  A=1\nfi\n', unread: /block \(if … fi\)/ },
  { text: 'A=1 true\n', unread: /would run the command "true"/ },
  { text: 'A=foo bar\n', unread: /would run a command \(the line is not NAME=value\)/ },
  { text: 'A=(1 2)\n', unread: /subshell, an array or a function/ },
  { text: 'A=1 | cat\n', unread: /a pipe/ },
  { text: 'A=1 && B=2\n', unread: /&& or \|\| list/ },
  { text: 'A=https://host/?x=1&y=2\n', unread: /background/ },
  { text: 'A=1 >out\n', unread: /redirection/ },
  { text: 'cat >/dev/null <<EOF\nA=1\nEOF\n', unread: /here-document/ },
  { text: 'readonly A=1\n', unread: /would run the command "readonly"/ },
  { text: 'export -n A=1\n', unread: /export with an option/ },
  { text: 'A="never closed\n', unread: /double quote opened on line 1 never closes/ },
  { text: '\uFEFFA=1\n', unread: /byte-order mark/ },
  { text: 'A=value \r\n', unread: /would run a command/ },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-bash-oracle-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * What bash sets NAME to after sourcing the text, or undefined when it leaves NAME unset. Run without blocking:
 * the test runner's report must flow out while bash runs.
 */
async function bashReading(text: string, name: string): Promise<string | undefined> {
  const caseDir = fs.mkdtempSync(path.join(dir, 'case-'));
  const file = path.join(caseDir, 'settings.env');
  const out = path.join(dir, `${path.basename(caseDir)}.out`);
  fs.writeFileSync(file, text);
  const status = await new Promise<number | null>((resolve, reject) => {
    const args = ['-i', 'PATH=/usr/bin:/bin', '/bin/bash', '-c', 'set -a; . "$1"; printenv "$2" >"$3"'];
    // stdin from /dev/null: with a socket there (as Node gives), bash would take itself for an ssh session and read ~/.bashrc.
    const child = spawn('/usr/bin/env', [...args, '_', file, name, out], {
      cwd: caseDir,
      timeout: 10_000,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
  assert.ok(status === 0 || status === 1, `bash exited ${status}`);
  return status === 0 ? fs.readFileSync(out, 'utf8').replace(/\n$/, '') : undefined;
}

function ourReading(text: string, name: string): { value?: string; why?: string } {
  const { assignments, unread } = readShellAssignments(text);
  const value = assignments.filter((a) => a.name === name).at(-1)?.value;
  return { value, why: unread.map((u) => `line ${u.line}: ${u.why}`).join('; ') || undefined };
}

/** The text on one line, with its invisible characters (\n, \r, no-break space, byte-order mark) spelled out. */
const shown = (text: string) =>
  JSON.stringify(text)
    .slice(1, -1)
    .replace(/[\u00a0\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

describe('settings files against bash', () => {
  for (const c of read) {
    it(`${shown(c.text)} → as bash reads it`, async (t) => {
      const name = c.name ?? 'A';
      const bash = await bashReading(c.text, name);
      const ours = ourReading(c.text, name);
      t.diagnostic(`${shown(c.text)} | ${JSON.stringify(bash)} | ${JSON.stringify(ours.value)}`);
      assert.equal(ours.why, undefined, 'the line is read');
      assert.notEqual(bash, undefined, 'bash sets it');
      assert.equal(ours.value, bash);
    });
  }

  for (const c of unread) {
    it(`${shown(c.text)} → not read, with the line and why`, async (t) => {
      const name = c.name ?? 'A';
      const bash = await bashReading(c.text, name);
      const ours = ourReading(c.text, name);
      t.diagnostic(`${shown(c.text)} | ${JSON.stringify(bash)} | not read (${ours.why})`);
      assert.equal(ours.value, undefined, 'nothing is taken from a line that is not read');
      assert.match(ours.why ?? '', c.unread!);
      assert.match(ours.why ?? '', /^line 1: /);
    });
  }
});

describe('settings file reader', () => {
  it('never runs a command: a command substitution that would write a file leaves no file', () => {
    const marker = path.join(dir, 'ran');
    const text = `A=$(touch ${marker})\nB=\`touch ${marker}\`\nsource ${marker}\n`;
    const { assignments, unread } = readShellAssignments(text);
    assert.deepEqual(assignments, []);
    assert.deepEqual(
      unread.map((u) => u.line),
      [1, 2, 3],
    );
    assert.equal(fs.existsSync(marker), false);
  });

  it('names the line of each command not read, and its last line when it spans several', () => {
    const text = ['A=1', 'B=$(date)', 'C="two', 'lines"', 'f() {', '  D=1', '}', 'E=5'].join('\n');
    const { assignments, unread } = readShellAssignments(text);
    assert.deepEqual(
      assignments.map((a) => [a.name, a.line]),
      [
        ['A', 1],
        ['C', 3],
        ['E', 8],
      ],
    );
    assert.deepEqual(unread, [
      { line: 2, why: 'would run a command: $(…)' },
      { line: 5, lastLine: 7, why: 'defines a function' },
    ]);
  });

  it('never quotes a value in its reasons: a line not read may hold a secret', () => {
    const { unread } = readShellAssignments('hunter2\nPASSWORD=hunter2 x\nT=${TOKEN:-hunter2}\n');
    assert.equal(unread.length, 3);
    for (const u of unread) assert.doesNotMatch(u.why, /hunter2/);
  });

  it('stops where bash stops: after a syntax error nothing more is read', async () => {
    const { assignments, unread } = readShellAssignments('A=1\nfi\nB=2\n');
    assert.deepEqual(
      assignments.map((a) => a.name),
      ['A'],
    );
    assert.deepEqual(unread, [
      {
        line: 2,
        why: 'a syntax error for bash, which stops reading the file here: the rest of the file is not read',
      },
    ]);
    assert.equal(await bashReading('A=1\nfi\nB=2\n', 'B'), undefined);
  });

  it('reads past a block to the assignments after it', () => {
    const text = 'if [ -f x ]; then\n  A=1\nelse\n  A=2\nfi\ncase $x in\n  a) B=1 ;;\nesac\nC=3\n';
    const { assignments, unread } = readShellAssignments(text);
    assert.deepEqual(assignments, [{ name: 'C', value: '3', line: 9 }]);
    assert.deepEqual(
      unread.map((u) => [u.line, u.lastLine]),
      [
        [1, 5],
        [6, 8],
      ],
    );
  });
});
