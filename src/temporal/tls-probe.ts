/**
 * One TLS handshake with the Temporal server, the way the SDK makes it, to tell why a connection failed: the
 * client SDK only says "Failed to connect before the deadline", whatever the TLS problem was.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface TlsTarget {
  host: string;
  port: number;
  serverName?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Accept any certificate: only to learn whether the server speaks TLS at all. */
  anyCertificate?: boolean;
}

export type TlsProbeOutcome =
  /** The handshake succeeded and the server answered HTTP/2: TLS is not what failed. */
  | { ok: true }
  /** `code` is Node's (an OpenSSL verification code, a TLS alert, a socket error), or `closed`, `timeout`. */
  | { ok: false; code: string; detail: string };

/** HTTP/2's client preface and an empty SETTINGS frame: a TLS 1.3 server judges the client's certificate only
 * after the client's handshake is done, so its verdict comes with the first answer. */
const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]),
]);

/** `host:port` or `[ipv6]:port`. */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: address, port: 7233 };
}

export function probeTls(target: TlsTarget, timeoutMs = 5000): Promise<TlsProbeOutcome> {
  return new Promise((resolve) => {
    const name = target.serverName ?? target.host;
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      // An IP address is not a server name (SNI); the certificate is still checked against it.
      servername: net.isIP(name) ? undefined : name,
      rejectUnauthorized: !target.anyCertificate,
      checkServerIdentity: (_host, cert) =>
        target.anyCertificate ? undefined : tls.checkServerIdentity(name, cert),
      ca: target.ca,
      cert: target.cert,
      key: target.key,
      ALPNProtocols: ['h2'],
    });
    const finish = (outcome: TlsProbeOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ ok: false, code: 'timeout', detail: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once('secureConnect', () => socket.write(H2_PREFACE));
    socket.once('data', () => finish({ ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, code: err.code ?? 'error', detail: err.message }),
    );
    socket.once('close', () =>
      finish({ ok: false, code: 'closed', detail: 'the server closed the connection without answering' }),
    );
  });
}
