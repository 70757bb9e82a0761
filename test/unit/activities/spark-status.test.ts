import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkWorkers, parseMasterStatus, type ExpectedWorker } from '../../../src/activities/spark-status';

/** Recorded from the local stack's standalone master (2 workers on one host). */
const sample = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'spark-master-status.json'), 'utf8'),
) as { workers: Record<string, unknown>[] };

const single = (ids: string[]): ExpectedWorker[] =>
  ids.map((id, n) => ({ instanceId: id, privateIp: `10.0.1.${11 + n}`, address: '127.0.0.1' }));

test('the recorded master status has 2 ALIVE workers and an ALIVE master', () => {
  const s = parseMasterStatus(sample);
  assert.equal(s.status, 'ALIVE');
  assert.equal(s.aliveWorkers.length, 2);
  assert.equal(s.url, 'spark://127.0.0.1:7077');
});

test('DEAD workers are not counted as ALIVE', () => {
  const doc = structuredClone(sample);
  doc.workers[1]!.state = 'DEAD';
  const s = parseMasterStatus(doc);
  assert.equal(s.workers.length, 2);
  assert.equal(s.aliveWorkers.length, 1);
});

test('two expected workers behind one address are complete when two are ALIVE there', () => {
  const check = checkWorkers(parseMasterStatus(sample), single(['i-w1', 'i-w2']));
  assert.deepEqual(check, { complete: true, alive: 2, expected: 2, missing: '', missingInstanceIds: [] });
});

test('a worker missing behind a shared address is named as one of the instances there', () => {
  const doc = structuredClone(sample);
  doc.workers[1]!.state = 'DEAD';
  const check = checkWorkers(parseMasterStatus(doc), single(['i-w1', 'i-w2']));
  assert.equal(check.complete, false);
  assert.equal(check.alive, 1);
  assert.match(
    check.missing,
    /1 of the 2 workers at 127\.0\.0\.1: one of i-w1 \(10\.0\.1\.11.*i-w2 \(10\.0\.1\.12/,
  );
});

test('on a real cluster the missing workers are named exactly by private IP ("only 2 of 4 came up")', () => {
  const workers = ['10.0.1.11', '10.0.1.12', '10.0.1.13', '10.0.1.14'];
  const expected = workers.map((ip, n) => ({ instanceId: `i-w${n + 1}`, privateIp: ip, address: ip }));
  const status = parseMasterStatus({
    status: 'ALIVE',
    url: 'spark://10.0.1.10:7077',
    workers: [
      { id: 'w-a', host: '10.0.1.11', port: 40001, state: 'ALIVE' },
      { id: 'w-b', host: '10.0.1.13', port: 40001, state: 'ALIVE' },
      { id: 'w-c', host: '10.0.1.14', port: 40001, state: 'DEAD' },
    ],
  });
  const check = checkWorkers(status, expected);
  assert.equal(check.complete, false);
  assert.equal(check.alive, 2);
  assert.deepEqual(check.missingInstanceIds, ['i-w2', 'i-w4']);
  assert.match(check.missing, /i-w2 \(10\.0\.1\.12\)/);
  assert.match(check.missing, /i-w4 \(10\.0\.1\.14\)/);
});

test('workers registered under their EC2 private DNS name match their instance', () => {
  const expected = [{ instanceId: 'i-w1', privateIp: '10.0.1.11', address: '10.0.1.11' }];
  const status = parseMasterStatus({
    status: 'ALIVE',
    workers: [{ id: 'w', host: 'ip-10-0-1-11.ap-northeast-2.compute.internal', port: 1, state: 'ALIVE' }],
  });
  assert.equal(checkWorkers(status, expected).complete, true);
});

test('workers under names we cannot relate still count towards the total', () => {
  const expected = [
    { instanceId: 'i-w1', privateIp: '10.0.1.11', address: '10.0.1.11' },
    { instanceId: 'i-w2', privateIp: '10.0.1.12', address: '10.0.1.12' },
  ];
  const alive = (hosts: string[]) =>
    parseMasterStatus({
      status: 'ALIVE',
      workers: hosts.map((h, n) => ({ id: `${n}`, host: h, port: n, state: 'ALIVE' })),
    });
  assert.equal(checkWorkers(alive(['worker-a', 'worker-b']), expected).complete, true);
  const short = checkWorkers(alive(['worker-a']), expected);
  assert.equal(short.complete, false);
  assert.match(short.missing, /also ALIVE under other names: worker-a/);
});

test('a document that is not a master status is rejected', () => {
  assert.throws(() => parseMasterStatus({ hello: 1 }), /not a Spark master status/);
  assert.throws(() => parseMasterStatus(null), /not a Spark master status/);
});
