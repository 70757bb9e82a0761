/**
 * Stopping and restoring the local stack's services for fault tests. A stopped service is restored with the
 * stack's own `stack/up.sh` (it starts only what is down), run from the stack's checkout so its paths hold.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { stackEnvFile, waitFor } from './stack';

/** The checkout that owns the running stack: the parent of the .stack folder holding the env file. */
const STACK_DIR = path.dirname(stackEnvFile());
const STACK_CHECKOUT = path.dirname(STACK_DIR);
/** stack/lib.sh's PG_BIN. */
const PG_BIN = '/usr/lib/postgresql/15/bin';

function postgresDataDir(): string {
  const link = path.join(STACK_DIR, 'postgres/cluster');
  const cluster = fs.lstatSync(link).isSymbolicLink() ? fs.readlinkSync(link) : link;
  return path.join(cluster, 'data');
}

/** As stack/down.sh does it: pg_ctl stop -m fast, as the postgres OS user when running as root. */
export function stopPostgres(): void {
  const pgCtl = [
    path.join(PG_BIN, 'pg_ctl'),
    '-D',
    postgresDataDir(),
    '-m',
    'fast',
    '-w',
    '-t',
    '60',
    'stop',
  ];
  const asRoot = process.getuid?.() === 0;
  execFileSync(asRoot ? 'runuser' : pgCtl[0]!, asRoot ? ['-u', 'postgres', '--', ...pgCtl] : pgCtl.slice(1), {
    stdio: 'pipe',
  });
}

/** Stops the SMTP sink through its pid file. */
export function stopSmtpSink(): void {
  const pid = Number(fs.readFileSync(stackPidFile('smtp-sink.pid'), 'utf8').trim());
  process.kill(pid, 'SIGTERM');
}

/** A service's pid file in the stack's run folder (temporal.pid, moto.pid, sshd.pid, smtp-sink.pid). */
export const stackPidFile = (name: string): string => path.join(STACK_DIR, 'run', name);

/** Brings every stopped service back with the stack's own script. */
export function restoreStack(): void {
  execFileSync('bash', [path.join(STACK_CHECKOUT, 'stack/up.sh')], { cwd: STACK_CHECKOUT, stdio: 'pipe' });
}

/**
 * As restoreStack, without blocking this process (a test may serve something the worker needs meanwhile, such as
 * the AWS recording proxy); resolves with the script's exit code.
 */
export function restoreStackInBackground(): Promise<number | null> {
  const child = spawn('bash', [path.join(STACK_CHECKOUT, 'stack/up.sh')], {
    cwd: STACK_CHECKOUT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      if (code !== 0) console.error(`stack/up.sh exited ${code}:\n${err}`);
      resolve(code);
    }),
  );
}

export function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until nothing answers on the port any more (a stopped service has let go of it). */
export function waitUntilClosed(host: string, port: number, timeoutMs = 30_000): Promise<true> {
  return waitFor(
    `${host}:${port} to close`,
    async () => ((await portAnswers(host, port)) ? undefined : true),
    {
      timeoutMs,
      intervalMs: 200,
    },
  );
}
