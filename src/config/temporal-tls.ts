/**
 * TLS and API-key settings of the Temporal connection, under the names the `temporal` CLI reads from the
 * environment, so one set of variables serves both. Paths are checked at start: each file exists and holds what
 * it should, and a client certificate comes with its own private key.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { type Env, optionalFlag, optionalSecret, optionalString, parseBoolean } from './fields';

/** PEM text given inline: a value written on one line may carry `\n` for its line breaks. */
export const pemText = (value: string): string => value.replace(/\\n/g, '\n');

const PEM_TEXT = 'PEM text (one line may carry \\n for its line breaks)';

export const temporalTlsFields = {
  TEMPORAL_TLS: optionalFlag.meta({
    description: "TLS to the Temporal server with the system's CAs",
    unit: 'true/false, yes/no, on/off or 1/0',
    defaultText: 'off; on when any TEMPORAL_TLS_* setting or TEMPORAL_API_KEY is set',
    hint: 'true',
  }),
  TEMPORAL_TLS_CA: optionalString.meta({
    description: "the server's CA certificate, when the system does not trust the server's certificate",
    unit: 'path of a PEM file',
    defaultText: "the system's CAs",
    hint: '/etc/pothole/temporal-ca.pem',
  }),
  TEMPORAL_TLS_CA_DATA: optionalString.meta({
    description: 'the same certificate given inline, instead of TEMPORAL_TLS_CA',
    unit: PEM_TEXT,
  }),
  TEMPORAL_TLS_CERT: optionalString.meta({
    description: 'mTLS: the client certificate (with TEMPORAL_TLS_KEY)',
    unit: 'path of a PEM file',
    hint: '/etc/pothole/worker.pem',
  }),
  TEMPORAL_TLS_CERT_DATA: optionalString.meta({
    description: 'mTLS: the client certificate given inline, instead of TEMPORAL_TLS_CERT',
    unit: PEM_TEXT,
  }),
  TEMPORAL_TLS_KEY: optionalString.meta({
    description: "mTLS: the client certificate's private key",
    unit: 'path of a PEM file',
    hint: '/etc/pothole/worker.key',
  }),
  TEMPORAL_TLS_KEY_DATA: optionalSecret.meta({
    description: 'mTLS: the private key given inline, instead of TEMPORAL_TLS_KEY',
    unit: PEM_TEXT,
    secret: true,
  }),
  TEMPORAL_TLS_SERVER_NAME: optionalString.meta({
    description:
      "the name the server's certificate is checked against, when it differs from the address's host",
    unit: 'host name',
    defaultText: "the address's host",
  }),
  TEMPORAL_API_KEY: optionalSecret.meta({
    description: 'an API key (Temporal Cloud), sent as a bearer token; implies TLS',
    unit: 'text',
    secret: true,
  }),
};

type Pem = 'certificate' | 'private key';

/** The PEM a path or inline setting gives, or the problem with it (never quoting inline data: it may be a key). */
function readPem(env: Env, name: string, kind: Pem): { text?: string; problem?: string } {
  const file = env[name]?.trim();
  const data = env[`${name}_DATA`]?.trim();
  if (file && data) return { problem: `${name} and ${name}_DATA are both set: set one of them` };
  let text: string;
  let what: string;
  if (file) {
    what = `${name} (${file})`;
    if (!fs.existsSync(file)) return { problem: `${name} names ${file}, which does not exist` };
    if (!fs.statSync(file).isFile()) return { problem: `${name} names ${file}, which is not a file` };
    text = fs.readFileSync(file, 'utf8');
  } else if (data) {
    what = `${name}_DATA`;
    text = pemText(data);
  } else {
    return {};
  }
  try {
    if (kind === 'certificate') new crypto.X509Certificate(text);
    else crypto.createPrivateKey(text);
  } catch {
    return { problem: `${what} is not a PEM ${kind}` };
  }
  return { text };
}

/** Checks across the TLS settings: files, their content, the certificate and key as a pair, TLS turned off. */
export function temporalTlsProblems(env: Env): string[] {
  const problems: string[] = [];
  const ca = readPem(env, 'TEMPORAL_TLS_CA', 'certificate');
  const cert = readPem(env, 'TEMPORAL_TLS_CERT', 'certificate');
  const key = readPem(env, 'TEMPORAL_TLS_KEY', 'private key');
  for (const r of [ca, cert, key]) if (r.problem) problems.push(r.problem);
  const set = (name: string) => !!env[name]?.trim() || !!env[`${name}_DATA`]?.trim();
  if (set('TEMPORAL_TLS_CERT') && !set('TEMPORAL_TLS_KEY'))
    problems.push(
      'TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not: a client certificate needs its private key',
    );
  if (set('TEMPORAL_TLS_KEY') && !set('TEMPORAL_TLS_CERT'))
    problems.push(
      'TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: a private key needs its client certificate',
    );
  if (cert.text && key.text) {
    const matches = new crypto.X509Certificate(cert.text).checkPrivateKey(crypto.createPrivateKey(key.text));
    if (!matches) problems.push('TEMPORAL_TLS_KEY is not the private key of TEMPORAL_TLS_CERT');
  }
  if (parseBoolean(env.TEMPORAL_TLS ?? '') === false) {
    const needTls = [
      ...['TEMPORAL_TLS_CA', 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'].flatMap((n) => [n, `${n}_DATA`]),
      'TEMPORAL_TLS_SERVER_NAME',
      'TEMPORAL_API_KEY',
    ].filter((n) => env[n]?.trim());
    if (needTls.length > 0)
      problems.push(
        `TEMPORAL_TLS is false, but ${needTls.join(', ')} ${needTls.length > 1 ? 'need' : 'needs'} TLS`,
      );
  }
  return problems;
}
