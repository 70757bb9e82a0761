/**
 * Remote execution on the cluster's hosts over SSH (ssh2), and the one place remote shell commands
 * are composed (`sh` from ./shell-quote quotes every interpolated value).
 *
 * Host keys are always verified against the configured known_hosts file; an unknown or changed key
 * is refused with a message that says which host, which key and what to do. There is no switch to
 * turn the check off.
 */
import fs from 'node:fs';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { SshConfig } from '../config';
import { knownKeyTypes, parseKnownHosts, verifyHostKey } from './known-hosts';
import { ShellCommand, sh } from './shell-quote';

export { raw, sh, joinCommands, withHereDoc, ShellCommand } from './shell-quote';

/** The host key did not verify: a configuration or security problem, retrying does not help. */
export class HostKeyVerificationError extends Error {
  override readonly name = 'HostKeyVerificationError';
}

/** The SSH connection could not be made or broke (network, sshd down, authentication). */
export class SshConnectionError extends Error {
  override readonly name = 'SshConnectionError';
  constructor(
    message: string,
    readonly host: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A remote command exited non-zero (from `run`). */
export class RemoteCommandError extends Error {
  override readonly name = 'RemoteCommandError';
  constructor(
    message: string,
    readonly host: string,
    readonly result: ExecResult,
  ) {
    super(message);
  }
}

export interface ExecOptions {
  /**
   * Aborting closes the channel and the connection; the remote command is killed with its channel
   * (see killedWithChannel). Commands fed through `stdin` are only asked to die by a KILL signal request.
   */
  signal?: AbortSignal;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Raw stdout bytes, for callers that track byte offsets. */
  onStdoutData?: (chunk: Buffer) => void;
  /** Fails the command after this long (the channel is closed as on abort). */
  timeoutMs?: number;
  /** Sent to the command's stdin, which is then closed. */
  stdin?: string | Buffer;
  /** At most this many bytes of stdout and of stderr are kept in the result (the last ones). Default 1 MiB. */
  captureLimit?: number;
}

export interface ExecResult {
  /** Exit status, or null when the command was ended by a signal or the server sent none. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

export interface ProbeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What the activities need from a remote shell; the SSH executor is the real one. */
export interface RemoteShell {
  /** Runs a command; resolves with its exit status whatever it is. */
  exec(host: string, command: ShellCommand, options?: ExecOptions): Promise<ExecResult>;
  /** Runs a command and throws RemoteCommandError (with the output's tail) unless it exits 0. */
  run(host: string, command: ShellCommand, options?: ExecOptions): Promise<ExecResult>;
  /** Resolves once an SSH handshake and login to `host` succeed; rejects otherwise. */
  probe(host: string, options?: ProbeOptions): Promise<void>;
  /** The port SSH connects to (for messages). */
  readonly port: number;
}

export interface SshExecutorOptions {
  /** Handshake + login deadline per connection. */
  readyTimeoutMs?: number;
  /** Keep-alives detect a master that vanished under a long-running command. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
const DEFAULT_HOST_KEY_ORDER = Object.values(HOST_KEY_ALGORITHMS).flat();

/** Splits a byte stream into text lines (without the line break), keeping a partial last line. */
export class LineSplitter {
  #pending: Buffer = Buffer.alloc(0);
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Buffer): void {
    let data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    let nl: number;
    while ((nl = data.indexOf(0x0a)) !== -1) {
      this.onLine(data.subarray(0, nl).toString('utf8').replace(/\r$/, ''));
      data = data.subarray(nl + 1);
    }
    // Bound memory on output without newlines (progress bars): emit it as a line.
    if (data.length > 64 * 1024) {
      this.onLine(data.toString('utf8'));
      data = Buffer.alloc(0);
    }
    this.#pending = Buffer.from(data);
  }
  end(): void {
    if (this.#pending.length) this.onLine(this.#pending.toString('utf8').replace(/\r$/, ''));
    this.#pending = Buffer.alloc(0);
  }
}

/** Keeps the last `limit` bytes of a stream. */
class TailBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > this.limit && this.#chunks.length > 0) {
      const first = this.#chunks[0]!;
      const excess = this.#size - this.limit;
      this.truncated = true;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
  }
  toString(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}

/**
 * Wraps a command so that it dies with its SSH channel. sshd does not kill a non-pty command when the
 * channel closes or the connection drops, and it refuses signal requests in some setups (root logins);
 * so the command runs in its own session while a watcher reads the channel's stdin (we never close it):
 * end of input means our side has gone, and the watcher kills the command's session. The command itself
 * reads /dev/null, runs under /bin/sh, and its exit status is passed through.
 */
function killedWithChannel(command: ShellCommand): ShellCommand {
  return sh`exec 3<&0 </dev/null
setsid sh -c ${command.text} 3<&- &
c=$!
{ while IFS= read -r _ <&3; do :; done; pkill -KILL -s "$c"; } >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$c"; s=$?
kill "$w" 2>/dev/null
exit "$s"`;
}

/** Last `n` non-empty lines of a text, for error messages. */
export function lastLines(text: string, n: number): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '')
    .slice(-n);
}

export function createSshExecutor(config: SshConfig, options: SshExecutorOptions = {}): RemoteShell {
  const readyTimeout = options.readyTimeoutMs ?? 20_000;
  const port = config.SSH_PORT;

  function connect(host: string, signal?: AbortSignal, timeoutMs = readyTimeout): Promise<Client> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    let knownHostsText: string;
    let privateKey: Buffer;
    try {
      knownHostsText = fs.readFileSync(config.SSH_KNOWN_HOSTS_PATH, 'utf8');
    } catch (err) {
      return Promise.reject(
        new HostKeyVerificationError(
          `cannot read SSH_KNOWN_HOSTS_PATH ${config.SSH_KNOWN_HOSTS_PATH}: ${(err as Error).message}; ` +
            'host keys are always verified, so this file must list the cluster hosts',
        ),
      );
    }
    try {
      privateKey = fs.readFileSync(config.SSH_PRIVATE_KEY_PATH);
    } catch (err) {
      return Promise.reject(
        new SshConnectionError(
          `cannot read SSH_PRIVATE_KEY_PATH ${config.SSH_PRIVATE_KEY_PATH}: ${(err as Error).message}`,
          host,
        ),
      );
    }
    const knownHosts = parseKnownHosts(knownHostsText);
    const preferred = knownKeyTypes(knownHosts, host, port).flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? []);
    const serverHostKey = [...new Set([...preferred, ...DEFAULT_HOST_KEY_ORDER])];
    let hostKeyProblem: string | undefined;

    const client = new Client();
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve(client);
        else {
          client.destroy();
          reject(err);
        }
      };
      const onAbort = () => finish(abortError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      client.once('ready', () => finish());
      client.on('error', (err: Error & { level?: string }) => {
        if (hostKeyProblem) {
          finish(new HostKeyVerificationError(`SSH host key verification failed: ${hostKeyProblem}`));
        } else {
          finish(
            new SshConnectionError(
              `SSH to ${config.SSH_USER}@${host}:${port} failed: ${err.message}` +
                (err.level === 'client-authentication'
                  ? ` (the key ${config.SSH_PRIVATE_KEY_PATH} was not accepted for ${config.SSH_USER})`
                  : ''),
              host,
              { cause: err },
            ),
          );
        }
      });
      client.once('close', () =>
        finish(new SshConnectionError(`SSH to ${host}:${port} closed during the handshake`, host)),
      );
      const cfg: ConnectConfig = {
        host,
        port,
        username: config.SSH_USER,
        privateKey,
        readyTimeout: timeoutMs,
        keepaliveInterval: options.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: options.keepaliveCountMax ?? 3,
        algorithms: {
          serverHostKey: serverHostKey as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
        },
        hostVerifier: (key: Buffer) => {
          const verdict = verifyHostKey(knownHosts, host, port, key, config.SSH_KNOWN_HOSTS_PATH);
          if (!verdict.ok) {
            // A line we could not parse may be the one that was meant for this host.
            const broken = knownHosts.invalidLines.length
              ? ` (note: lines ${knownHosts.invalidLines.join(',')} of that file could not be parsed)`
              : '';
            hostKeyProblem = verdict.reason + broken;
          }
          return verdict.ok;
        },
      };
      try {
        client.connect(cfg);
      } catch (err) {
        finish(
          new SshConnectionError(`SSH to ${host}:${port}: ${(err as Error).message}`, host, { cause: err }),
        );
      }
    });
  }

  async function exec(host: string, command: ShellCommand, opts: ExecOptions = {}): Promise<ExecResult> {
    if (!(command instanceof ShellCommand)) {
      throw new TypeError('remote commands must be built with sh`...` so that every argument is quoted');
    }
    const { signal } = opts;
    const client = await connect(host, signal);
    const limit = opts.captureLimit ?? 1024 * 1024;
    const stdout = new TailBuffer(limit);
    const stderr = new TailBuffer(limit);
    const outLines = opts.onStdoutLine ? new LineSplitter(opts.onStdoutLine) : undefined;
    const errLines = opts.onStderrLine ? new LineSplitter(opts.onStderrLine) : undefined;

    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      let exitCode: number | null = null;
      let exitSignal: string | null = null;
      let timer: NodeJS.Timeout | undefined;

      const cleanup = () => {
        settled = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: unknown) => {
        if (settled) return;
        cleanup();
        if (channel) {
          try {
            channel.signal('KILL');
          } catch {
            // the server may not support signals; closing the channel is enough for most commands
          }
          channel.close();
        }
        client.end();
        setTimeout(() => client.destroy(), 1000).unref();
        reject(err);
      };
      const onAbort = () => fail(abortError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(
          () => fail(new Error(`remote command on ${host} did not finish within ${opts.timeoutMs} ms`)),
          opts.timeoutMs,
        );
      }
      client.on('error', (err) =>
        fail(
          new SshConnectionError(`SSH connection to ${host} failed: ${err.message}`, host, { cause: err }),
        ),
      );
      client.on('close', () =>
        fail(new SshConnectionError(`SSH connection to ${host} closed before the command finished`, host)),
      );

      const text = opts.stdin === undefined ? killedWithChannel(command).text : command.text;
      client.exec(text, (err, stream) => {
        if (err) {
          fail(
            new SshConnectionError(`cannot run a command on ${host}: ${err.message}`, host, { cause: err }),
          );
          return;
        }
        if (settled) {
          stream.close();
          return;
        }
        channel = stream;
        stream.on('data', (chunk: Buffer) => {
          stdout.push(chunk);
          opts.onStdoutData?.(chunk);
          outLines?.push(chunk);
        });
        stream.stderr.on('data', (chunk: Buffer) => {
          stderr.push(chunk);
          errLines?.push(chunk);
        });
        stream.on('exit', (code: number | null, sig?: string) => {
          exitCode = typeof code === 'number' ? code : null;
          exitSignal = sig ?? null;
        });
        stream.on('close', () => {
          if (settled) return;
          cleanup();
          outLines?.end();
          errLines?.end();
          client.end();
          resolve({
            exitCode,
            signal: exitSignal,
            stdout: stdout.toString(),
            stderr: stderr.toString(),
            truncated: stdout.truncated || stderr.truncated,
          });
        });
        if (opts.stdin !== undefined) stream.end(opts.stdin);
      });
    });
  }

  async function run(host: string, command: ShellCommand, opts: ExecOptions = {}): Promise<ExecResult> {
    const result = await exec(host, command, opts);
    if (result.exitCode !== 0) {
      const status = result.exitCode === null ? `signal ${result.signal ?? 'unknown'}` : `${result.exitCode}`;
      const tail = lastLines(result.stderr || result.stdout, 15);
      throw new RemoteCommandError(
        `remote command on ${host} exited with ${status}` + (tail.length ? `:\n${tail.join('\n')}` : ''),
        host,
        result,
      );
    }
    return result;
  }

  async function probe(host: string, opts: ProbeOptions = {}): Promise<void> {
    const client = await connect(host, opts.signal, opts.timeoutMs ?? readyTimeout);
    client.end();
  }

  return { exec, run, probe, port };
}
