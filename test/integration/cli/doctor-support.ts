/**
 * Stand-ins for the doctor tests: a second SMTP sink that demands a login, a Kakao Local API that knows one key, a
 * server that accepts connections and never answers, and a known_hosts file with a key the SSH server does not have.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { portAnswers } from '../../support/services';
import { REPO_ROOT, waitFor } from '../../support/stack';
import { freePort } from '../../support/free-port';

/** Listens on a free port of 127.0.0.1; resolves with the port. */
export const listening = (server: net.Server | http.Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );

/** The stack's own SMTP sink program, started on a port of its own with a required login. */
export async function startSmtpSinkWithLogin(login: { user: string; password: string }, mailDir: string) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'stack/smtp-sink.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      SMTP_SINK_PORT: String(port),
      MAIL_DIR: mailDir,
      SMTP_SINK_USER: login.user,
      SMTP_SINK_PASSWORD: login.password,
    },
    stdio: 'ignore',
  });
  await waitFor(
    'the SMTP sink with a login',
    async () => ((await portAnswers('127.0.0.1', port)) ? true : undefined),
    {
      timeoutMs: 30_000,
      intervalMs: 200,
    },
  );
  return { port, stop: () => child.kill('SIGTERM') };
}

/** The Kakao Local API for one key: 200 for it, 401 (as Kakao answers a wrong key) for any other. */
export function fakeKakao(key: string): http.Server {
  return http.createServer((req, res) => {
    const good = req.headers.authorization === `KakaoAK ${key}` && req.url?.startsWith('/v2/local/geo/');
    res.writeHead(good ? 200 : 401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        good
          ? { meta: { total_count: 0 }, documents: [] }
          : { errorType: 'AccessDeniedError', message: 'wrong appKey format' },
      ),
    );
  });
}

/** Accepts connections and never says a word: a hung server. */
export const silentServer = () => net.createServer(() => undefined);

/** Writes a known_hosts file naming host:port with a fresh ed25519 key, which no server has. */
export function writeOtherHostKey(file: string, host: string, port: number): string {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
  fs.writeFileSync(file, `[${host}]:${port} ssh-ed25519 ${blob.toString('base64')}\n`);
  return file;
}
