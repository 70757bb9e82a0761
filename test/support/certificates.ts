/**
 * Certificates for TLS tests, made with `openssl` in a temporary folder: a CA, a server certificate it signed for
 * 127.0.0.1 and localhost, a client certificate it signed, and a second CA that signed none of them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CertificatePaths {
  cert: string;
  key: string;
}

export interface TestCertificates {
  dir: string;
  ca: CertificatePaths;
  /** A CA that signed nothing here. */
  otherCa: CertificatePaths;
  server: CertificatePaths;
  client: CertificatePaths;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeCertificates(): TestCertificates {
  const version = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (version.status !== 0)
    throw new Error(`the TLS tests need openssl: ${version.error?.message ?? version.stderr}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-certs-'));
  const at = (name: string): CertificatePaths => ({
    cert: path.join(dir, `${name}.pem`),
    key: path.join(dir, `${name}.key`),
  });
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string, subject: string) => {
    const p = at(name);
    openssl(
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      p.key,
      '-out',
      p.cert,
      '-days',
      '2',
      '-subj',
      subject,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    return p;
  };
  const signed = (name: string, by: CertificatePaths, extensions: string[]) => {
    const p = at(name);
    const csr = path.join(dir, `${name}.csr`);
    const ext = path.join(dir, `${name}.ext`);
    fs.writeFileSync(
      ext,
      ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', ...extensions].join('\n'),
    );
    openssl('req', ...EC_KEY, '-keyout', p.key, '-out', csr, '-subj', `/CN=pothole test ${name}`);
    openssl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      by.cert,
      '-CAkey',
      by.key,
      '-CAcreateserial',
      '-out',
      p.cert,
      '-days',
      '2',
      '-extfile',
      ext,
    );
    return p;
  };
  const root = ca('ca', '/CN=pothole test CA');
  return {
    dir,
    ca: root,
    otherCa: ca('other-ca', '/CN=another test CA'),
    server: signed('server', root, [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'extendedKeyUsage=serverAuth',
    ]),
    client: signed('client', root, ['extendedKeyUsage=clientAuth']),
  };
}
