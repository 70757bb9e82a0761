/**
 * The connection to the Temporal server, built one way for the worker (NativeConnection), its client and the CLI
 * (Connection): the address, TLS (system CAs, a CA of its own, a client certificate for mTLS) and the API key from
 * the `temporal` configuration section; and, when connecting fails, an error that says why.
 * The API key and the private key are never part of a message.
 */
import fs from 'node:fs';
import { Connection, type TLSConfig } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { TemporalConfig } from '../config';
import { pemText } from '../config/temporal-tls';
import { probeTls, splitAddress, type TlsProbeOutcome } from './tls-probe';

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

const pem = (file: string | undefined, data: string | undefined): Buffer | undefined =>
  file ? fs.readFileSync(file) : data ? Buffer.from(pemText(data)) : undefined;

function tlsMaterial(config: TemporalConfig) {
  return {
    ca: pem(config.TEMPORAL_TLS_CA, config.TEMPORAL_TLS_CA_DATA),
    cert: pem(config.TEMPORAL_TLS_CERT, config.TEMPORAL_TLS_CERT_DATA),
    key: pem(config.TEMPORAL_TLS_KEY, config.TEMPORAL_TLS_KEY_DATA?.reveal()),
  };
}

/** TEMPORAL_TLS decides when set; otherwise any other TLS setting, or an API key, turns TLS on. */
function usesTls(config: TemporalConfig): boolean {
  return (
    config.TEMPORAL_TLS ??
    [
      config.TEMPORAL_TLS_CA,
      config.TEMPORAL_TLS_CA_DATA,
      config.TEMPORAL_TLS_CERT,
      config.TEMPORAL_TLS_CERT_DATA,
      config.TEMPORAL_TLS_SERVER_NAME,
      config.TEMPORAL_API_KEY,
    ].some((v) => v !== undefined)
  );
}

/** The options both NativeConnection.connect and Connection.connect take. Reads the certificate files. */
export function temporalConnectionOptions(config: TemporalConfig): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: config.TEMPORAL_ADDRESS };
  if (usesTls(config)) {
    const { ca, cert, key } = tlsMaterial(config);
    options.tls = {
      ...(ca && { serverRootCACertificate: ca }),
      ...(cert && key && { clientCertPair: { crt: cert, key } }),
      ...(config.TEMPORAL_TLS_SERVER_NAME && { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME }),
    };
  }
  if (config.TEMPORAL_API_KEY) options.apiKey = config.TEMPORAL_API_KEY.reveal();
  return options;
}

/** OpenSSL's verdicts on a server certificate no trusted CA has signed. */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

const named = (name: string, file: string | undefined, data: unknown) =>
  file ? `${name} (${file})` : data !== undefined ? `${name}_DATA` : undefined;

/** Why the handshake failed, in the settings' words; undefined when it is not a TLS problem. */
function tlsProblem(config: TemporalConfig, probe: TlsProbeOutcome): string | undefined {
  if (probe.ok) return undefined;
  const ca = named('TEMPORAL_TLS_CA', config.TEMPORAL_TLS_CA, config.TEMPORAL_TLS_CA_DATA);
  const cert = named('TEMPORAL_TLS_CERT', config.TEMPORAL_TLS_CERT, config.TEMPORAL_TLS_CERT_DATA);
  const { code, detail } = probe;
  if (UNTRUSTED.has(code)) {
    return ca
      ? `the server's certificate is not signed by ${ca}`
      : "the server's certificate is not signed by a certificate authority this machine trusts " +
          "(set TEMPORAL_TLS_CA to the server's CA certificate)";
  }
  if (code === 'CERT_HAS_EXPIRED') return "the server's certificate has expired";
  if (code === 'CERT_NOT_YET_VALID') return "the server's certificate is not valid yet";
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate is not for the name checked (${detail}); TEMPORAL_TLS_SERVER_NAME sets that name`;
  }
  if (!cert && /ALERT_(CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE)$/.test(code)) {
    return 'the server requires a client certificate (set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY)';
  }
  if (cert && (/_ALERT_/.test(code) || code === 'closed' || code === 'ECONNRESET')) {
    return `the server does not accept the client certificate ${cert} (${detail.trim()})`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return 'the server does not speak TLS (TEMPORAL_TLS, TEMPORAL_API_KEY and the TEMPORAL_TLS_* settings turn TLS on)';
  }
  return undefined;
}

/**
 * The error to show for a failed connection: what is wrong with TLS when a handshake of our own tells (the
 * SDK's errors do not), refused credentials, or that the server cannot be reached.
 */
export async function connectionFailure(config: TemporalConfig, err: unknown): Promise<Error> {
  const address = config.TEMPORAL_ADDRESS;
  const message = err instanceof Error ? err.message : String(err);
  const { host, port } = splitAddress(address);
  if (usesTls(config)) {
    const problem = tlsProblem(
      config,
      await probeTls({ host, port, serverName: config.TEMPORAL_TLS_SERVER_NAME, ...tlsMaterial(config) }),
    );
    if (problem) return new Error(`TLS handshake with ${address} failed: ${problem}`, { cause: err });
  } else if ((await probeTls({ host, port, anyCertificate: true })).ok) {
    return new Error(
      `the Temporal server at ${address} speaks TLS: set TEMPORAL_TLS=true ` +
        '(and TEMPORAL_TLS_CA when this machine does not trust its certificate)',
      { cause: err },
    );
  }
  if (/UNAUTHENTICATED|PERMISSION_DENIED|Unauthenticated|PermissionDenied/.test(message)) {
    return new Error(`the Temporal server at ${address} refused the credentials: ${message}`, { cause: err });
  }
  return new Error(
    `cannot reach the Temporal server at ${address} (${message}); is it running? (locally: npm run stack:up)`,
    { cause: err },
  );
}

/** A client connection (the CLI, the worker's own client); a failure says why. */
export async function connectTemporal(
  config: TemporalConfig,
  { connectTimeout }: { connectTimeout?: Duration } = {},
): Promise<Connection> {
  try {
    return await Connection.connect({ ...temporalConnectionOptions(config), connectTimeout });
  } catch (err) {
    throw await connectionFailure(config, err);
  }
}
