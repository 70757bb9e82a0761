/**
 * Test helpers for the local service stack (npm run stack:up): its settings from .stack/env, clients
 * wired to it, unique names, and small utilities the integration tests share.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import { Client as SshClient, type ConnectConfig } from 'ssh2';
import { createEc2Client, createS3Client } from '../../src/activities/aws-clients';
import { loadConfig, type Config, type SectionName } from '../../src/config';
import { readShellAssignments } from '../../src/config/shell-assignments';

export type Env = Record<string, string | undefined>;

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** The stack's env file: POTHOLE_ENV_FILE when set, else <repo>/.stack/env. */
export function stackEnvFile(): string {
  return path.resolve(REPO_ROOT, process.env.POTHOLE_ENV_FILE ?? '.stack/env');
}

/**
 * The environment of a `pothole` process (worker, CLI, dashboard) run by a test: this process's own, reading
 * the stack's env file as an operator's process reads theirs, with the test's own settings laid over it.
 */
export function stackProcessEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, POTHOLE_ENV_FILE: stackEnvFile(), ...overrides };
}

/**
 * process.env with the stack's settings laid over it: a test talks to the local stack even when the shell
 * has real AWS or database settings exported.
 */
export function stackEnv(overrides: Env = {}): Env {
  const file = stackEnvFile();
  if (!fs.existsSync(file)) {
    throw new Error(`${file} does not exist: bring the local stack up first with \`npm run stack:up\``);
  }
  const { assignments } = readShellAssignments(fs.readFileSync(file, 'utf8'));
  return { ...process.env, ...Object.fromEntries(assignments.map((a) => [a.name, a.value])), ...overrides };
}

/** One value of the stack's env; a clear error when it is missing. */
export function stackValue(name: string, env: Env = stackEnv()): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set in ${stackEnvFile()}: rerun \`npm run stack:up\``);
  return value;
}

/** loadConfig over the stack's env. */
export function stackConfig<const S extends readonly SectionName[]>(
  sections: S,
  overrides: Env = {},
): Pick<Config, S[number]> {
  return loadConfig(sections, stackEnv(overrides));
}

/** A name no other test (or earlier run) uses: `<prefix>-<time>-<random>`, lower case. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomBytes(4).toString('hex')}`.toLowerCase();
}

export function stackS3Client(env: Env = stackEnv()): S3Client {
  return createS3Client(loadConfig(['aws'], env).aws);
}

export function stackEc2Client(env: Env = stackEnv()): EC2Client {
  return createEc2Client(loadConfig(['aws'], env).aws);
}

function knownHostKeys(knownHostsText: string, host: string, port: number): Buffer[] {
  const wanted = port === 22 ? host : `[${host}]:${port}`;
  const keys: Buffer[] = [];
  for (const line of knownHostsText.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]!.startsWith('#') || fields[0]!.startsWith('@')) continue;
    if (fields[0]!.split(',').includes(wanted)) keys.push(Buffer.from(fields[2]!, 'base64'));
  }
  return keys;
}

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer;
  knownHosts: string;
}

export function stackSshTarget(env: Env = stackEnv()): SshTarget {
  const { ssh } = loadConfig(['ssh'], env);
  return {
    host: ssh.SSH_HOST ?? '127.0.0.1',
    port: ssh.SSH_PORT,
    username: ssh.SSH_USER,
    privateKey: fs.readFileSync(ssh.SSH_PRIVATE_KEY_PATH),
    knownHosts: fs.readFileSync(ssh.SSH_KNOWN_HOSTS_PATH, 'utf8'),
  };
}

/** Connects with host-key verification against target.knownHosts; rejects on an unknown or changed key. */
export function sshConnect(target: SshTarget, extra: Partial<ConnectConfig> = {}): Promise<SshClient> {
  const trusted = knownHostKeys(target.knownHosts, target.host, target.port);
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    let hostKeyRejected = false;
    client
      .on('ready', () => resolve(client))
      .on('error', (err) =>
        reject(
          hostKeyRejected
            ? new Error(`host key of ${target.host}:${target.port} is not in known_hosts`, { cause: err })
            : err,
        ),
      )
      .connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: 20_000,
        hostVerifier: (key: Buffer) => {
          const ok = trusted.some((k) => k.equals(key));
          hostKeyRejected = !ok;
          return ok;
        },
        ...extra,
      });
  });
}

export interface ExecOutcome {
  code: number | null;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

/** Runs one command over an open connection and collects its output. */
export function sshExec(client: SshClient, command: string): Promise<ExecOutcome> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      channel.on('data', (d: Buffer) => (stdout += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('close', (code: number | null, signal?: string) =>
        resolve({ code, signal, stdout, stderr }),
      );
    });
  });
}

/** Polls until `probe` returns a value (not undefined) or the time is up. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 10_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The .eml file in MAIL_DIR that carries this Message-ID, once the SMTP sink has written it.
 * Only files written since `sinceMs` (epoch ms) are read.
 */
export function findMailByMessageId(
  mailDir: string,
  messageId: string,
  { sinceMs = 0, timeoutMs = 10_000 } = {},
): Promise<string> {
  return waitFor(
    `a message with Message-ID ${messageId} in ${mailDir}`,
    () => {
      for (const name of fs.readdirSync(mailDir)) {
        if (!name.endsWith('.eml')) continue;
        const file = path.join(mailDir, name);
        if (fs.statSync(file).mtimeMs < sinceMs - 1000) continue;
        if (fs.readFileSync(file, 'utf8').includes(messageId)) return file;
      }
      return undefined;
    },
    { timeoutMs },
  );
}

/** How many messages carrying this Message-ID the SMTP sink has written to MAIL_DIR. */
export function deliveredCopies(mailDir: string, messageId: string, since = 0): number {
  // The sink's mail folder outlives test runs, and the same report gets the same Message-ID in every run: count
  // only what this run delivered.
  return fs
    .readdirSync(mailDir)
    .filter((name) => name.endsWith('.eml'))
    .map((name) => path.join(mailDir, name))
    .filter((file) => fs.statSync(file).mtimeMs >= since)
    .filter((file) => fs.readFileSync(file, 'utf8').includes(messageId)).length;
}
