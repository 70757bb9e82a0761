/**
 * The worker and the CLI reach Temporal through TLS. In front of the local dev server stand two TLS endpoints
 * (Node TLS proxies with certificates made by openssl): one that asks for no client certificate, one that requires
 * a client certificate signed by its CA (mTLS). Runs started with `pothole run --wait` complete through them, served
 * by a worker (stand-in activities) that itself connects through mTLS; the real `pothole worker` process starts
 * through both; and each way to get TLS wrong fails with a message that says what is wrong.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { makeCertificates } from '../../support/certificates';
import { stackValue, type Env } from '../../support/stack';
import { stackProcessEnv, startFakeWorld, type FakeWorld } from '../../support/temporal';
import { runPothole, startWorkerProcess, stopWorkerProcess } from '../../support/worker-process';

const certs = makeCertificates();
const clientCert = { TEMPORAL_TLS_CERT: certs.client.cert, TEMPORAL_TLS_KEY: certs.client.key };

/** A TLS endpoint passing every connection on to the dev server; it records the client certificates it accepted. */
class TlsEndpoint {
  readonly clientsWithCertificate: string[] = [];
  connections = 0;
  private readonly server: tls.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(upstream: { host: string; port: number }, requireClientCertificate: boolean) {
    this.server = tls.createServer(
      {
        cert: fs.readFileSync(certs.server.cert),
        key: fs.readFileSync(certs.server.key),
        ca: fs.readFileSync(certs.ca.cert),
        ALPNProtocols: ['h2'],
        requestCert: requireClientCertificate,
        rejectUnauthorized: requireClientCertificate,
      },
      (socket) => {
        this.connections++;
        const peer = socket.getPeerCertificate();
        if (socket.authorized && peer.subject) this.clientsWithCertificate.push(String(peer.subject.CN));
        const up = net.connect(upstream.port, upstream.host);
        for (const s of [socket, up]) {
          this.sockets.add(s);
          s.on('error', () => undefined).on('close', () => this.sockets.delete(s));
        }
        socket.pipe(up).pipe(socket);
        up.on('close', () => socket.destroy());
        socket.on('close', () => up.destroy());
      },
    );
    this.server.on('tlsClientError', () => undefined);
  }

  address = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const devServer = stackValue('TEMPORAL_ADDRESS').split(':');
const upstream = { host: devServer[0]!, port: Number(devServer[1]) };
const tlsOnly = new TlsEndpoint(upstream, false);
const mutualTls = new TlsEndpoint(upstream, true);
let world: FakeWorld;
/** A date of this test file's own: the run's workflow ID is made of it. */
const date = (n: number) => `1999-0${n}-${String((process.pid % 28) + 1).padStart(2, '0')}`;

/** The CLI's and the worker's environment: the stack's settings, the world's task queue, these. */
const envWith = (settings: Env): NodeJS.ProcessEnv =>
  stackProcessEnv({ TEMPORAL_TASK_QUEUE: world.taskQueue, ...settings });

before(async () => {
  await tlsOnly.start();
  await mutualTls.start();
  world = await startFakeWorld(
    'tls',
    {},
    {
      TEMPORAL_ADDRESS: mutualTls.address,
      TEMPORAL_TLS_CA: certs.ca.cert,
      ...clientCert,
    },
  );
});

after(async () => {
  await world?.close();
  await tlsOnly.stop();
  await mutualTls.stop();
});

async function runCompletes(settings: Env, batchDate: string): Promise<void> {
  const r = await runPothole(envWith(settings), 'run', batchDate, '--wait');
  assert.equal(r.status, 0, `pothole run --wait: ${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /send_email_report\s+done/);
  assert.ok(world.rec.calls.some((c) => c.step === 'send_email_report' && c.batchDate === batchDate));
}

/** Starts `pothole worker --role serving` with these settings; resolves once it serves, then stops it. */
async function workerServes(settings: Env): Promise<void> {
  const worker = await startWorkerProcess(envWith(settings), ['--role', 'serving']);
  await stopWorkerProcess(worker);
}

/** The error `pothole worker` ends with. */
async function workerFailure(settings: Env): Promise<string> {
  const failed = await startWorkerProcess(envWith(settings), ['--role', 'serving']).then(
    async (w) => {
      await stopWorkerProcess(w);
      assert.fail('the worker started');
    },
    (err: Error) => err.message,
  );
  return failed;
}

describe('Temporal through TLS', () => {
  it('the worker connects through mTLS, presenting its client certificate', () => {
    assert.ok(mutualTls.clientsWithCertificate.includes('pothole test client'), 'the worker presented it');
  });

  it('TLS without a client certificate: `pothole run --wait` completes, the worker starts', async () => {
    const before = tlsOnly.connections;
    const settings = { TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_CA: certs.ca.cert };
    await runCompletes(settings, date(1));
    await workerServes(settings);
    assert.ok(tlsOnly.connections >= before + 3, `${tlsOnly.connections - before} connections went through`);
  });

  it('mTLS with the client certificate: `pothole run --wait` completes, the worker starts', async () => {
    const before = mutualTls.clientsWithCertificate.length;
    const settings = { TEMPORAL_ADDRESS: mutualTls.address, TEMPORAL_TLS_CA: certs.ca.cert, ...clientCert };
    await runCompletes(settings, date(2));
    await workerServes(settings);
    assert.ok(mutualTls.clientsWithCertificate.length >= before + 3);
  });

  it('mTLS without a client certificate: the CLI and the worker say the server requires one', async () => {
    const settings = { TEMPORAL_ADDRESS: mutualTls.address, TEMPORAL_TLS_CA: certs.ca.cert };
    const expected =
      `TLS handshake with ${mutualTls.address} failed: ` +
      'the server requires a client certificate (set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY)';
    const [cli, worker] = await Promise.all([
      runPothole(envWith(settings), 'status', date(3)),
      workerFailure(settings),
    ]);
    assert.equal(cli.status, 1);
    assert.equal(cli.stderr.trim(), `error: ${expected}`);
    assert.ok(worker.includes(`error: ${expected}`), worker);
  });

  it("a CA that did not sign the server's certificate: the CLI and the worker say so", async () => {
    const settings = { TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_CA: certs.otherCa.cert };
    const expected =
      `TLS handshake with ${tlsOnly.address} failed: ` +
      `the server's certificate is not signed by TEMPORAL_TLS_CA (${certs.otherCa.cert})`;
    const [cli, worker] = await Promise.all([
      runPothole(envWith(settings), 'run', date(4), '--wait'),
      workerFailure(settings),
    ]);
    assert.equal(cli.status, 1);
    assert.equal(cli.stderr.trim(), `error: ${expected}`);
    assert.ok(worker.includes(`error: ${expected}`), worker);
  });

  it('no TLS settings against a TLS endpoint: the CLI says the server speaks TLS', async () => {
    const cli = await runPothole(envWith({ TEMPORAL_ADDRESS: tlsOnly.address }), 'list');
    assert.equal(cli.status, 1);
    assert.match(cli.stderr, /the Temporal server at 127\.0\.0\.1:\d+ speaks TLS: set TEMPORAL_TLS=true/);
  });
});
