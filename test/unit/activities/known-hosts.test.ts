import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  fingerprint,
  hostLookupName,
  knownKeyTypes,
  parseKnownHosts,
  verifyHostKey,
} from '../../../src/activities/known-hosts';

let dir: string;
const keys: Record<string, { type: string; base64: string; blob: Buffer }> = {};

function makeKey(name: string, type: 'ed25519' | 'ecdsa' | 'rsa') {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(type === 'rsa' ? ['-b', '2048'] : []),
    '-N',
    '',
    '-f',
    file,
  ]);
  const [keyType, base64] = fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  keys[name] = { type: keyType!, base64: base64!, blob: Buffer.from(base64!, 'base64') };
}
const line = (hosts: string, name: string) => `${hosts} ${keys[name]!.type} ${keys[name]!.base64}`;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'known-hosts-test-'));
  makeKey('master', 'ed25519');
  makeKey('other', 'ed25519');
  makeKey('ecdsa', 'ecdsa');
  makeKey('rsa', 'rsa');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the lookup name is the bare host on port 22 and [host]:port elsewhere', () => {
  assert.equal(hostLookupName('10.0.1.5', 22), '10.0.1.5');
  assert.equal(hostLookupName('127.0.0.1', 2222), '[127.0.0.1]:2222');
  assert.equal(hostLookupName('Master.Example', 22), 'master.example');
});

test('a plain entry accepts its key and refuses another key with a mismatch warning', () => {
  const kh = parseKnownHosts(line('10.0.1.5,master.internal', 'master'));
  assert.deepEqual(verifyHostKey(kh, '10.0.1.5', 22, keys.master!.blob), { ok: true });
  assert.deepEqual(verifyHostKey(kh, 'MASTER.internal', 22, keys.master!.blob), { ok: true });
  const v = verifyHostKey(kh, '10.0.1.5', 22, keys.other!.blob);
  assert.equal(v.ok, false);
  assert.match(!v.ok ? v.reason : '', /HOST KEY MISMATCH for 10\.0\.1\.5/);
  assert.match(!v.ok ? v.reason : '', new RegExp(fingerprint(keys.other!.blob).replace(/[+/]/g, '\\$&')));
});

test('[host]:port entries only match that port', () => {
  const kh = parseKnownHosts(line('[127.0.0.1]:2222', 'master'));
  assert.deepEqual(verifyHostKey(kh, '127.0.0.1', 2222, keys.master!.blob), { ok: true });
  const other = verifyHostKey(kh, '127.0.0.1', 22, keys.master!.blob);
  assert.equal(other.ok, false);
  assert.match(!other.ok ? other.reason : '', /127\.0\.0\.1 is not in known_hosts.*ssh-keyscan 127\.0\.0\.1/);
  const plain = parseKnownHosts(line('127.0.0.1', 'master'));
  assert.equal(verifyHostKey(plain, '127.0.0.1', 2222, keys.master!.blob).ok, false);
});

test('hashed entries written by ssh-keygen -H are matched, with and without a port', () => {
  const file = path.join(dir, 'hashed_known_hosts');
  fs.writeFileSync(file, `${line('10.0.1.5', 'master')}\n${line('[127.0.0.1]:2222', 'ecdsa')}\n`);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
  const text = fs.readFileSync(file, 'utf8');
  assert.match(text, /^\|1\|/m, 'ssh-keygen -H hashed the host names');
  assert.doesNotMatch(text, /10\.0\.1\.5/);
  const kh = parseKnownHosts(text);
  assert.equal(kh.invalidLines.length, 0);
  assert.deepEqual(verifyHostKey(kh, '10.0.1.5', 22, keys.master!.blob), { ok: true });
  assert.deepEqual(verifyHostKey(kh, '127.0.0.1', 2222, keys.ecdsa!.blob), { ok: true });
  assert.equal(verifyHostKey(kh, '10.0.1.6', 22, keys.master!.blob).ok, false);
  assert.equal(verifyHostKey(kh, '127.0.0.1', 2222, keys.master!.blob).ok, false);
});

test('wildcards match and a negated pattern vetoes the line', () => {
  const kh = parseKnownHosts(line('10.0.1.*,!10.0.1.99', 'master'));
  assert.deepEqual(verifyHostKey(kh, '10.0.1.7', 22, keys.master!.blob), { ok: true });
  assert.equal(verifyHostKey(kh, '10.0.1.99', 22, keys.master!.blob).ok, false);
  assert.equal(verifyHostKey(kh, '10.0.2.7', 22, keys.master!.blob).ok, false);
  const q = parseKnownHosts(line('worker?.internal', 'master'));
  assert.deepEqual(verifyHostKey(q, 'worker3.internal', 22, keys.master!.blob), { ok: true });
  assert.equal(verifyHostKey(q, 'worker12.internal', 22, keys.master!.blob).ok, false);
});

test('a @revoked key is refused even when another line trusts it', () => {
  const kh = parseKnownHosts(`${line('10.0.1.5', 'master')}\n@revoked ${line('*', 'master')}\n`);
  const v = verifyHostKey(kh, '10.0.1.5', 22, keys.master!.blob);
  assert.equal(v.ok, false);
  assert.match(!v.ok ? v.reason : '', /@revoked/);
});

test('@cert-authority lines are not taken as host keys', () => {
  const kh = parseKnownHosts(`@cert-authority ${line('*', 'master')}`);
  assert.equal(verifyHostKey(kh, '10.0.1.5', 22, keys.master!.blob).ok, false);
});

test('a key type the file does not list for the host is refused and named', () => {
  const kh = parseKnownHosts(line('10.0.1.5', 'rsa'));
  const v = verifyHostKey(kh, '10.0.1.5', 22, keys.master!.blob);
  assert.equal(v.ok, false);
  assert.match(!v.ok ? v.reason : '', /presented a ssh-ed25519 key .* only has ssh-rsa keys/);
  assert.deepEqual(knownKeyTypes(kh, '10.0.1.5', 22), ['ssh-rsa']);
});

test('comments, blank lines and broken lines are skipped, broken ones reported', () => {
  const text = [
    '# a comment',
    '',
    line('10.0.1.5', 'master'),
    '10.0.1.6 ssh-ed25519',
    `10.0.1.7 ssh-rsa ${keys.master!.base64}`,
    '@bogus-marker 10.0.1.8 ssh-ed25519 AAAA',
  ].join('\n');
  const kh = parseKnownHosts(text);
  assert.equal(kh.entries.length, 1);
  assert.deepEqual(kh.invalidLines, [4, 5, 6]);
});

test('an empty known_hosts trusts nobody', () => {
  assert.equal(verifyHostKey(parseKnownHosts(''), '10.0.1.5', 22, keys.master!.blob).ok, false);
});
