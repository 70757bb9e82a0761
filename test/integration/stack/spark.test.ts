import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Client as SshClient } from 'ssh2';
import {
  sshConnect,
  sshExec,
  stackConfig,
  stackS3Client,
  stackSshTarget,
  uniqueName,
  waitFor,
} from '../../support/stack';

// Written to the Spark master over SFTP and run with spark-submit there, like the pipeline's stages.
const JOB = `
import json, sys
from pyspark.sql import SparkSession

out, fail = sys.argv[1], sys.argv[2] == 'fail'
spark = SparkSession.builder.getOrCreate()
if fail:
    raise RuntimeError('smoke job failed on purpose')
spark.range(0, 1000, numPartitions=4).selectExpr('id', 'id % 7 AS bucket').write.mode('overwrite').parquet(out)
back = spark.read.parquet(out)
print('RESULT ' + json.dumps({'rows': back.count(), 'buckets': back.select('bucket').distinct().count(),
                              'master': spark.sparkContext.master}))
spark.stop()
`;

interface MasterState {
  aliveworkers: number;
  completedapps: { name: string; state: string }[];
}

const { spark, s3 } = stackConfig(['spark', 's3']);
const masterUrl = `spark://${spark.SPARK_MASTER_HOST}:${spark.SPARK_MASTER_PORT}`;
const webUi =
  spark.SPARK_MASTER_WEBUI_URL ?? `http://${spark.SPARK_MASTER_HOST}:${spark.SPARK_MASTER_WEBUI_PORT}`;

async function masterState(): Promise<MasterState | undefined> {
  try {
    const res = await fetch(`${webUi}/json/`, { signal: AbortSignal.timeout(3_000) });
    return res.ok ? ((await res.json()) as MasterState) : undefined;
  } catch {
    return undefined;
  }
}

function writeRemoteFile(client: SshClient, file: string, content: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.sftp((err, sftp) => {
      if (err) return reject(err);
      sftp.writeFile(file, content, (e) => {
        sftp.end();
        if (e) reject(e);
        else resolve();
      });
    });
  });
}

// A driver that cannot get executors waits forever; bound it on the remote side so nothing is left running.
const SUBMIT_TIMEOUT_S = 420;

describe('Spark standalone cluster of the stack, driven over SSH', { timeout: 1_200_000 }, () => {
  let client: SshClient;
  let startedHere = false;
  const runId = uniqueName('stack-smoke');
  const jobDir = path.posix.join(spark.SPARK_JOB_DIR, runId);
  const outputPrefix = `${runId}/out/`;

  before(async () => {
    client = await sshConnect(stackSshTarget());
    startedHere = (await masterState()) === undefined;
    const started = await sshExec(client, `"${spark.SPARK_HOME}/sbin/start-all.sh"`);
    assert.equal(started.code, 0, `start-all.sh failed:\n${started.stdout}${started.stderr}`);
    const mkdir = await sshExec(client, `mkdir -p '${jobDir}'`);
    assert.equal(mkdir.code, 0, mkdir.stderr);
    await writeRemoteFile(client, `${jobDir}/main.py`, JOB);
  });

  after(async () => {
    const s3Client = stackS3Client();
    const listed = await s3Client.send(
      new ListObjectsV2Command({ Bucket: s3.S3_BUCKET, Prefix: `${runId}/` }),
    );
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length)
      await s3Client.send(new DeleteObjectsCommand({ Bucket: s3.S3_BUCKET, Delete: { Objects: keys } }));
    s3Client.destroy();
    if (!client) return;
    await sshExec(client, `rm -rf '${jobDir}'`);
    // Leave a cluster someone else started running; stop the one this test started.
    if (startedHere) {
      const stopped = await sshExec(client, `"${spark.SPARK_HOME}/sbin/stop-all.sh"`);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(await masterState(), undefined, 'the master web UI still answers after stop-all.sh');
    }
    client.end();
  });

  const submit = (name: string, ...args: string[]) =>
    sshExec(
      client,
      [
        `timeout -k 10 ${SUBMIT_TIMEOUT_S} "${spark.SPARK_HOME}/bin/spark-submit"`,
        `--master ${masterUrl} --deploy-mode client --name ${name}`,
        `--driver-memory ${spark.SPARK_DRIVER_MEMORY} --executor-memory ${spark.SPARK_EXECUTOR_MEMORY}`,
        `--executor-cores ${spark.SPARK_EXECUTOR_CORES} --total-executor-cores ${spark.SPARK_TOTAL_EXECUTOR_CORES}`,
        `'${jobDir}/main.py'`,
        ...args,
      ].join(' '),
    );

  test('start-all.sh brings up the master with one registered worker per line of conf/workers', async () => {
    const workers = await sshExec(
      client,
      `grep -cv '^[[:space:]]*\\(#\\|$\\)' "${spark.SPARK_HOME}/conf/workers"`,
    );
    const state = await waitFor('the Spark master web UI', masterState);
    assert.equal(state.aliveworkers, Number(workers.stdout.trim()));
    assert.ok(state.aliveworkers >= 1);
  });

  test('a PySpark job submitted to the standalone master writes and reads parquet at s3a:// (moto)', async () => {
    const appName = `${runId}-ok`;
    const result = await submit(appName, `s3a://${s3.S3_BUCKET}/${outputPrefix}`, 'ok');
    assert.equal(result.code, 0, `spark-submit failed:\n${result.stderr.slice(-4000)}`);
    const line = result.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `no RESULT line in:\n${result.stdout}`);
    assert.deepEqual(JSON.parse(line.slice('RESULT '.length)), { rows: 1000, buckets: 7, master: masterUrl });

    // The files are really in the S3 emulator, and the master ran the application.
    const listed = await stackS3Client().send(
      new ListObjectsV2Command({ Bucket: s3.S3_BUCKET, Prefix: outputPrefix }),
    );
    const names = (listed.Contents ?? []).map((o) => path.posix.basename(o.Key!));
    assert.ok(names.includes('_SUCCESS'), `no _SUCCESS in ${names.join(', ')}`);
    assert.ok(names.filter((n) => n.endsWith('.parquet')).length >= 1, `no parquet in ${names.join(', ')}`);
    const state = await waitFor('the application in the master history', async () => {
      const s = await masterState();
      return s?.completedapps.some((a) => a.name === appName) ? s : undefined;
    });
    assert.equal(state.completedapps.find((a) => a.name === appName)!.state, 'FINISHED');
  });

  test('a failing job makes spark-submit exit non-zero', async () => {
    const result = await submit(`${runId}-fail`, `s3a://${s3.S3_BUCKET}/${runId}/never/`, 'fail');
    assert.notEqual(result.code, 0);
    assert.match(result.stdout + result.stderr, /RuntimeError: smoke job failed on purpose/);
  });
});
