import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { joinCommands, quote, raw, sh, ShellCommand, withHereDoc } from '../../../src/activities/shell-quote';
import { curlConfigUrl } from '../../../src/activities/spark/scripts';

/** What a real POSIX shell makes of a composed command: the words printf receives, NUL-separated. */
function wordsSeenByShell(command: ShellCommand): string[] {
  const out = execFileSync('/bin/sh', ['-c', command.text], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

const NASTY = [
  '2026-02-12; rm -rf /',
  '2026-02-12 && touch /tmp/pwned',
  "it's",
  "'",
  "''",
  '"double" quotes',
  'back`tick`',
  '$(id)',
  '${HOME}',
  '$HOME',
  'new\nline',
  'tab\there',
  '*',
  '~',
  '-n',
  '',
  ' leading and trailing ',
  'a\\b',
  '|pipe|',
  '> redirect',
  'ünïcödé 포트홀',
  'A=b',
];

test('every interpolated value reaches the command as exactly one unchanged word', () => {
  for (const value of NASTY) {
    assert.deepEqual(
      wordsSeenByShell(sh`printf '%s\\0' ${value}`),
      [value],
      `value ${JSON.stringify(value)}`,
    );
  }
});

test('an injection attempt in a batch date stays inert', () => {
  const marker = `/tmp/pothole-quote-test-${process.pid}`;
  const date = `2026-02-12; touch ${marker}`;
  const words = wordsSeenByShell(sh`printf '%s\\0' --batch-date ${date}`);
  assert.deepEqual(words, ['--batch-date', date]);
  assert.throws(() => execFileSync('test', ['-e', marker]), 'the injected command must not have run');
});

test('arrays expand to one quoted word per element', () => {
  const argv = ['spark-submit', '--name', 'pothole stage1', "it's; echo no"];
  assert.deepEqual(wordsSeenByShell(sh`printf '%s\\0' ${argv}`), argv);
});

test('nested sh fragments are spliced in without double quoting', () => {
  const inner = sh`printf '%s\\0' ${'a b'}`;
  assert.deepEqual(wordsSeenByShell(sh`${inner} && printf '%s\\0' ${'c;d'}`), ['a b', 'c;d']);
});

test('a nested command passed as a string value becomes a single argument (e.g. for trap or sh -c)', () => {
  const inner = sh`printf '%s\\0' ${"x'y"}`;
  assert.deepEqual(wordsSeenByShell(sh`sh -c ${inner.text}`), ["x'y"]);
});

test('quote uses single-quote escaping and leaves plain words readable', () => {
  assert.equal(quote("it's"), `'it'\\''s'`);
  assert.equal(quote('2026-02-12'), '2026-02-12');
  assert.equal(quote('/opt/spark/bin/spark-submit'), '/opt/spark/bin/spark-submit');
  assert.equal(quote(''), `''`);
  assert.equal(quote('a=b'), `'a=b'`);
  assert.equal(quote(4), '4');
});

test('a NUL byte cannot be quoted and is refused', () => {
  assert.throws(() => quote('a\0b'), /NUL/);
});

test('raw and joinCommands keep constant syntax as written', () => {
  const cmd = joinCommands([sh`echo ${'x y'}`, raw('echo done')], ' && ');
  assert.equal(cmd.text, `echo 'x y' && echo done`);
});

describe('here-documents', () => {
  it('hand their body to the command on stdin, unexpanded, byte for byte', () => {
    const body = `url = "https://b.s3.example/k?X-Amz-Signature=ab%2Fcd&x=$HOME\`id\`'"`;
    const script = withHereDoc(sh`cat`, body).text;
    const out = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    assert.equal(out.stdout, `${body}\n`);
    assert.ok(!script.split('\n')[0]!.includes('X-Amz-Signature'), 'the data is not on the command line');
  });

  it('refuse a body holding their delimiter line', () => {
    assert.throws(() => withHereDoc(sh`cat`, 'a\nPOTHOLE_HEREDOC\nrm -rf /'), /delimiter/);
  });

  it('give curl a URL through its config on stdin', () => {
    const url = 'http://127.0.0.1:1/b/k?X-Amz-Signature=a"b\\c';
    const config = curlConfigUrl(url);
    assert.equal(config, 'url = "http://127.0.0.1:1/b/k?X-Amz-Signature=a\\"b\\\\c"');
    // curl parses it back to the same URL (it fails to connect, and says where it tried).
    const out = spawnSync(
      'sh',
      ['-c', withHereDoc(sh`curl -sS --max-time 2 -o /dev/null -K - -w ${'%{url}'}`, config).text],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(out.stdout, url);
  });
});
