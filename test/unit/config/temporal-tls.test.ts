/**
 * The Temporal connection's TLS settings are checked at start, every problem at once: files that are missing or
 * hold something else, a certificate without its key (or the reverse), a key of another certificate.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config';
import { makeCertificates } from '../../support/certificates';

const certs = makeCertificates();

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(['temporal'], env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected the configuration to be rejected');
}

describe('Temporal TLS settings', () => {
  it('accept a CA, a client certificate with its key, a server name and an API key', () => {
    const { temporal } = loadConfig(['temporal'], {
      TEMPORAL_TLS_CA: certs.ca.cert,
      TEMPORAL_TLS_CERT: certs.client.cert,
      TEMPORAL_TLS_KEY: certs.client.key,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      TEMPORAL_API_KEY: 'key-do-not-print',
    });
    assert.equal(temporal.TEMPORAL_TLS_CA, certs.ca.cert);
    assert.equal(temporal.TEMPORAL_TLS_SERVER_NAME, 'temporal.internal');
    assert.equal(temporal.TEMPORAL_TLS, undefined);
    const shown = JSON.stringify(temporal) + inspect(temporal, { depth: 5 });
    assert.ok(!shown.includes('key-do-not-print'), shown);
  });

  it('TEMPORAL_TLS is true or false', () => {
    assert.equal(loadConfig(['temporal'], { TEMPORAL_TLS: 'true' }).temporal.TEMPORAL_TLS, true);
    assert.equal(loadConfig(['temporal'], { TEMPORAL_TLS: 'FALSE' }).temporal.TEMPORAL_TLS, false);
    assert.deepEqual(problems({ TEMPORAL_TLS: 'maybe' }), [
      'TEMPORAL_TLS must be true or false (yes/no, on/off, 1/0), got "maybe"',
    ]);
  });

  it('TEMPORAL_TLS=no turns TLS off as false does: a TLS setting beside it is an error', () => {
    assert.deepEqual(problems({ TEMPORAL_TLS: 'no', TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' }), [
      'TEMPORAL_TLS is false, but TEMPORAL_TLS_SERVER_NAME needs TLS',
    ]);
  });

  it('a certificate without its key, and a key without its certificate, are errors', () => {
    assert.deepEqual(problems({ TEMPORAL_TLS_CERT: certs.client.cert }), [
      'TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not: a client certificate needs its private key',
    ]);
    assert.deepEqual(problems({ TEMPORAL_TLS_KEY_DATA: fs.readFileSync(certs.client.key, 'utf8') }), [
      'TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: a private key needs its client certificate',
    ]);
  });

  it('lists every missing or wrong file at once, naming the setting and the path', () => {
    const missing = path.join(certs.dir, 'nowhere', 'ca.pem');
    assert.deepEqual(
      problems({
        TEMPORAL_TLS_CA: missing,
        TEMPORAL_TLS_CERT: certs.client.key,
        TEMPORAL_TLS_KEY: certs.dir,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_UI_URL: 'http://localhost:8233',
        CLEANUP_ALERT_AFTER_FAILURES: 'many',
      }),
      [
        'CLEANUP_ALERT_AFTER_FAILURES must be a positive integer, got "many"',
        `TEMPORAL_TLS_CA names ${missing}, which does not exist`,
        `TEMPORAL_TLS_CERT (${certs.client.key}) is not a PEM certificate`,
        `TEMPORAL_TLS_KEY names ${certs.dir}, which is not a file`,
      ],
    );
  });

  it('a key that is not the certificate’s is an error; inline data is never quoted', () => {
    assert.deepEqual(problems({ TEMPORAL_TLS_CERT: certs.client.cert, TEMPORAL_TLS_KEY: certs.server.key }), [
      'TEMPORAL_TLS_KEY is not the private key of TEMPORAL_TLS_CERT',
    ]);
    assert.deepEqual(
      problems({ TEMPORAL_TLS_CERT: certs.client.cert, TEMPORAL_TLS_KEY_DATA: 'secret-not-a-key' }),
      ['TEMPORAL_TLS_KEY_DATA is not a PEM private key'],
    );
  });

  it('a path and inline data for the same thing, or TLS off with TLS settings, are errors', () => {
    const caPem = fs.readFileSync(certs.ca.cert, 'utf8');
    assert.deepEqual(problems({ TEMPORAL_TLS_CA: certs.ca.cert, TEMPORAL_TLS_CA_DATA: caPem }), [
      'TEMPORAL_TLS_CA and TEMPORAL_TLS_CA_DATA are both set: set one of them',
    ]);
    assert.deepEqual(
      problems({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: certs.ca.cert, TEMPORAL_API_KEY: 'k' }),
      ['TEMPORAL_TLS is false, but TEMPORAL_TLS_CA, TEMPORAL_API_KEY need TLS'],
    );
  });
});
