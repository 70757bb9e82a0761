/**
 * When a running stage gives up on its lost Spark workers: fewer than the expected workers ALIVE, in successful
 * status reads, for longer than SPARK_WORKER_LOSS_TIMEOUT_SECONDS. Only positive evidence counts: a status page that
 * does not answer, however long, is reported and never ends the stage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExpectedWorker, SparkMasterStatus } from '../../../src/activities/spark-status';
import { WorkerLossWatch, watchWorkers } from '../../../src/activities/spark/worker-watch';

const expected: ExpectedWorker[] = [
  { instanceId: 'i-w1', privateIp: '10.0.1.11', address: '10.0.1.11' },
  { instanceId: 'i-w2', privateIp: '10.0.1.12', address: '10.0.1.12' },
];
const status = (...aliveIps: string[]): SparkMasterStatus => {
  const workers = expected.map((e) => ({
    id: `worker-${e.privateIp}`,
    host: e.privateIp,
    port: 40000,
    state: aliveIps.includes(e.privateIp) ? 'ALIVE' : 'DEAD',
  }));
  return {
    status: 'ALIVE',
    url: 'spark://10.0.1.10:7077',
    workers,
    aliveWorkers: workers.filter((w) => w.state === 'ALIVE'),
    activeApps: [],
  };
};
const both = status('10.0.1.11', '10.0.1.12');
const none = status();
const s = (seconds: number) => seconds * 1000;
const watch = () => new WorkerLossWatch(expected, s(180), 'http://10.0.1.10:8080/json/', 0);

test('all workers ALIVE: the stage goes on', () => {
  const w = watch();
  for (let t = 0; t <= 600; t += 5) assert.equal(w.observe(both, s(t)), undefined);
  assert.equal(w.summary, '2/2 workers ALIVE');
});

test('workers gone for longer than the timeout end the stage, naming each lost instance and its address', () => {
  const w = watch();
  assert.equal(w.observe(both, s(0)), undefined);
  assert.equal(w.observe(none, s(10)), undefined, 'the loss starts being timed');
  assert.equal(w.observe(none, s(190)), undefined, 'exactly the timeout is still within it');
  const loss = w.observe(none, s(191));
  assert.equal(loss?.type, 'SparkWorkersLost');
  assert.match(loss!.message, /only 0 of 2 Spark workers have been ALIVE for 181 s/);
  assert.match(loss!.message, /SPARK_WORKER_LOSS_TIMEOUT_SECONDS=180/);
  assert.match(loss!.message, /lost i-w1 \(10\.0\.1\.11\); i-w2 \(10\.0\.1\.12\)$/);
  assert.deepEqual(loss!.lostInstanceIds, ['i-w1', 'i-w2']);
});

test('workers behind one SSH address (one host) are named with that address', () => {
  const shared = expected.map((e) => ({ ...e, address: '127.0.0.1' }));
  const w = new WorkerLossWatch(shared, s(10), 'http://m/json/', 0);
  w.observe(none, s(0));
  const loss = w.observe(none, s(11));
  assert.match(
    loss!.message,
    /lost i-w1 \(10\.0\.1\.11, at 127\.0\.0\.1\), i-w2 \(10\.0\.1\.12, at 127\.0\.0\.1\)$/,
  );
});

test('one worker of two lost is enough, and only that one is named', () => {
  const w = watch();
  w.observe(status('10.0.1.11'), s(0));
  const loss = w.observe(status('10.0.1.11'), s(181));
  assert.equal(loss?.type, 'SparkWorkersLost');
  assert.match(loss!.message, /only 1 of 2 .*lost i-w2 \(10\.0\.1\.12\)$/);
  assert.deepEqual(loss!.lostInstanceIds, ['i-w2']);
});

test('a worker that comes back in time resets the clock', () => {
  const w = watch();
  w.observe(none, s(0));
  assert.equal(w.observe(both, s(170)), undefined);
  assert.equal(w.observe(none, s(200)), undefined);
  assert.equal(w.observe(none, s(370)), undefined, '170 s since the second loss');
  assert.equal(w.observe(none, s(381))?.type, 'SparkWorkersLost');
});

test('a status page that does not answer for a moment is not a lost worker', () => {
  const w = watch();
  w.observe(both, s(0));
  for (let t = 5; t <= 150; t += 5) assert.equal(w.observe(undefined, s(t)), undefined);
  assert.equal(w.observe(both, s(155)), undefined);
  assert.equal(w.observe(undefined, s(300)), undefined, 'silent for 145 s only');
});

test('failed reads neither count as lost workers nor stop the clock of a loss already seen', () => {
  const w = watch();
  w.observe(none, s(0));
  assert.equal(w.observe(undefined, s(100)), undefined);
  assert.equal(w.observe(none, s(181))?.type, 'SparkWorkersLost');
});

test('a master status page silent for longer than the timeout is reported, never acted on', () => {
  const w = watch();
  w.observe(both, s(0));
  for (let t = 5; t <= 900; t += 5) assert.equal(w.observe(undefined, s(t)), undefined);
  assert.equal(
    w.summary,
    'master status page http://10.0.1.10:8080/json/ silent for 900 s (workers not checked)',
  );
  assert.equal(w.longestSilenceMs, s(900));
  assert.equal(w.observe(both, s(905)), undefined);
  assert.equal(w.summary, '2/2 workers ALIVE');
});

test('a silent page between two reads that show the workers missing does not stop the clock of the loss', () => {
  const w = watch();
  w.observe(none, s(0));
  assert.equal(w.observe(undefined, s(120)), undefined);
  assert.equal(w.observe(none, s(181))?.type, 'SparkWorkersLost');
});

test('the poller aborts its signal with the loss and stops reading', async () => {
  let reads = 0;
  let t = 0;
  const polled = watchWorkers({
    watch: new WorkerLossWatch(expected, s(10), 'http://m/json/', 0),
    readStatus: async () => {
      reads += 1;
      return reads === 2 ? Promise.reject(new Error('connection refused')) : none;
    },
    intervalMs: 1,
    now: () => (t += s(4)),
  });
  await new Promise((resolve) => polled.signal.addEventListener('abort', resolve, { once: true }));
  assert.equal((polled.signal.reason as { type: string }).type, 'SparkWorkersLost');
  assert.equal(polled.loss()?.type, 'SparkWorkersLost');
  const after = reads;
  await polled.stop();
  assert.equal(reads, after);
});

test('a stopped poller never reports a loss', async () => {
  const polled = watchWorkers({
    watch: new WorkerLossWatch(expected, 0, 'http://m/json/', 0),
    readStatus: async () => both,
    intervalMs: 1,
  });
  await polled.stop();
  assert.equal(polled.signal.aborted, false);
  assert.equal(polled.loss(), undefined);
});
