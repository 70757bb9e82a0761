/** The SSH executor against the stack's real OpenSSH server (host-key verification always on). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { loadConfig, type SshConfig } from '../../../src/config';
import {
  createSshExecutor,
  HostKeyVerificationError,
  RemoteCommandError,
  sh,
  type RemoteShell,
} from '../../../src/activities/remote';
import { stackEnv, unique } from './cluster-support';

const env = stackEnv();
let ssh: SshConfig;
let shell: RemoteShell;
let host: string;
let scratch: string;

before(() => {
  ssh = loadConfig(['ssh'], env).ssh;
  shell = createSshExecutor(ssh);
  host = ssh.SSH_HOST!;
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'remote-test-'));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const withKnownHosts = (content: string): RemoteShell => {
  const file = path.join(scratch, unique('known_hosts'));
  fs.writeFileSync(file, content);
  return createSshExecutor({ ...ssh, SSH_KNOWN_HOSTS_PATH: file });
};

test('a command runs with its exit status and output', async () => {
  const r = await shell.exec(host, sh`echo out; echo err >&2; exit 7`);
  assert.deepEqual(
    { code: r.exitCode, out: r.stdout, err: r.stderr },
    { code: 7, out: 'out\n', err: 'err\n' },
  );
});

test('hostile arguments arrive unchanged and run nothing', async () => {
  const marker = path.join(scratch, 'pwned');
  const date = `2026-02-12; touch ${marker}`;
  const values = [date, "it's", '$(touch x)', 'a\nb', '`id`', ''];
  const r = await shell.run(host, sh`printf '%s\\0' ${values}`);
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), values);
  assert.equal(fs.existsSync(marker), false);
});

test('output is streamed line by line while the command runs', async () => {
  const seen: { line: string; at: number }[] = [];
  const start = Date.now();
  await shell.run(host, sh`echo first; sleep 1; echo second; echo to-stderr >&2`, {
    onStdoutLine: (line) => seen.push({ line, at: Date.now() - start }),
    onStderrLine: (line) => seen.push({ line, at: Date.now() - start }),
  });
  assert.deepEqual(
    seen.map((s) => s.line),
    ['first', 'second', 'to-stderr'],
  );
  assert.ok(seen[1]!.at - seen[0]!.at >= 800, 'the first line arrived before the command finished');
});

test('run() fails with the tail of the output when the command fails', async () => {
  await assert.rejects(
    shell.run(host, sh`echo something went wrong >&2; exit 3`),
    (err: unknown) =>
      err instanceof RemoteCommandError &&
      /exited with 3/.test(err.message) &&
      /something went wrong/.test(err.message),
  );
});

test('stdin is passed to the command', async () => {
  const r = await shell.run(host, sh`wc -l`, { stdin: 'a\nb\nc\n' });
  assert.equal(r.stdout.trim(), '3');
});

test('aborting closes the channel and kills the remote command', async () => {
  const pidFile = path.join(scratch, 'abort.pid');
  const controller = new AbortController();
  const running = shell.exec(host, sh`echo $$ > ${pidFile}; exec sleep 300`, { signal: controller.signal });
  for (let i = 0; i < 100 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
  const pid = fs.readFileSync(pidFile, 'utf8').trim();
  const started = Date.now();
  controller.abort(new Error('stop now'));
  await assert.rejects(running, /stop now/);
  assert.ok(Date.now() - started < 2_000);
  let gone = false;
  for (let i = 0; i < 50 && !gone; i++) {
    const stat = spawnSync('ps', ['-o', 'stat=', '-p', pid], { encoding: 'utf8' }).stdout.trim();
    gone = stat === '' || stat.startsWith('Z');
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(gone, `remote sleep (pid ${pid}) is still running`);
});

test('a command that outlives its timeout fails', async () => {
  await assert.rejects(shell.exec(host, sh`sleep 30`, { timeoutMs: 500 }), /did not finish within 500 ms/);
});

test('probe succeeds when the handshake and login succeed', async () => {
  await shell.probe(host);
});

test('an unknown host key is refused, naming the host, its fingerprint and what to do', async () => {
  const other = withKnownHosts('# nothing here\n');
  await assert.rejects(
    other.probe(host),
    (err: unknown) =>
      err instanceof HostKeyVerificationError &&
      /\[127\.0\.0\.1\]:2222 is not in/.test(err.message) &&
      /SHA256:/.test(err.message) &&
      /ssh-keyscan -p 2222 127\.0\.0\.1/.test(err.message),
  );
  await assert.rejects(other.exec(host, sh`true`), HostKeyVerificationError);
});

test('a changed host key is refused as a mismatch', async () => {
  const keyFile = path.join(scratch, 'impostor');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const impostor = fs.readFileSync(`${keyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  const other = withKnownHosts(`[${host}]:${ssh.SSH_PORT} ${impostor}\n`);
  await assert.rejects(other.probe(host), /HOST KEY MISMATCH for \[127\.0\.0\.1\]:2222/);
});

test('a hashed known_hosts file (ssh-keygen -H) is honoured', async () => {
  const file = path.join(scratch, 'hashed');
  fs.copyFileSync(ssh.SSH_KNOWN_HOSTS_PATH, file);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
  assert.match(fs.readFileSync(file, 'utf8'), /^\|1\|/);
  await createSshExecutor({ ...ssh, SSH_KNOWN_HOSTS_PATH: file }).probe(host);
});

test('a missing known_hosts file is an error, never a reason to skip the check', async () => {
  const other = createSshExecutor({ ...ssh, SSH_KNOWN_HOSTS_PATH: path.join(scratch, 'does-not-exist') });
  await assert.rejects(other.probe(host), /cannot read SSH_KNOWN_HOSTS_PATH/);
});

test('a closed port fails as a connection error', async () => {
  const other = createSshExecutor({ ...ssh, SSH_PORT: 1 }, { readyTimeoutMs: 3_000 });
  await assert.rejects(other.probe(host), /SSH to .*127\.0\.0\.1:1 failed/);
});
