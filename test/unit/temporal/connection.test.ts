/**
 * The options the worker and the CLI connect with, from the `temporal` settings: plain by default, TLS when asked
 * for or implied (a CA, a client certificate, a server name, an API key).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig, type Env } from '../../../src/config';
import { temporalConnectionOptions } from '../../../src/temporal/connection';
import { makeCertificates } from '../../support/certificates';

const certs = makeCertificates();
const options = (env: Env) => temporalConnectionOptions(loadConfig(['temporal'], env).temporal);

describe('Temporal connection options', () => {
  it('are a plain connection to TEMPORAL_ADDRESS by default', () => {
    assert.deepEqual(options({ TEMPORAL_ADDRESS: 'temporal:7233' }), { address: 'temporal:7233' });
  });

  it('TEMPORAL_TLS=true: TLS with the system CAs', () => {
    assert.deepEqual(options({ TEMPORAL_TLS: 'true' }), { address: 'localhost:7233', tls: {} });
  });

  it('an API key implies TLS, as Temporal Cloud needs', () => {
    assert.deepEqual(options({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'the-key' }), {
      address: 'ns.acct.tmprl.cloud:7233',
      tls: {},
      apiKey: 'the-key',
    });
  });

  it('mTLS: the CA, the client certificate and key from their files, and the server name', () => {
    const o = options({
      TEMPORAL_TLS_CA: certs.ca.cert,
      TEMPORAL_TLS_CERT: certs.client.cert,
      TEMPORAL_TLS_KEY: certs.client.key,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    assert.deepEqual(o.tls, {
      serverRootCACertificate: fs.readFileSync(certs.ca.cert),
      clientCertPair: { crt: fs.readFileSync(certs.client.cert), key: fs.readFileSync(certs.client.key) },
      serverNameOverride: 'temporal.internal',
    });
    assert.equal(o.apiKey, undefined);
  });

  it('inline PEM data, also written on one line with \\n', () => {
    const oneLine = (file: string) => fs.readFileSync(file, 'utf8').trim().replace(/\n/g, '\\n');
    const o = options({
      TEMPORAL_TLS_CA_DATA: oneLine(certs.ca.cert),
      TEMPORAL_TLS_CERT_DATA: fs.readFileSync(certs.client.cert, 'utf8'),
      TEMPORAL_TLS_KEY_DATA: oneLine(certs.client.key),
    });
    assert.equal(o.tls?.serverRootCACertificate?.toString(), fs.readFileSync(certs.ca.cert, 'utf8').trim());
    assert.equal(o.tls?.clientCertPair?.key.toString(), fs.readFileSync(certs.client.key, 'utf8').trim());
  });
});
