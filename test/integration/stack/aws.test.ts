import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
} from '@aws-sdk/client-ec2';
import { stackConfig, stackEc2Client, stackS3Client, uniqueName } from '../../support/stack';

test('S3 through the AWS SDK: the stack bucket exists, and a put object is listed and read back', async () => {
  const { s3 } = stackConfig(['s3']);
  const client = stackS3Client();
  const prefix = `${uniqueName('stack-smoke')}/`;
  const key = `${prefix}dt=2026-01-01/part-0.json`;
  try {
    await client.send(new HeadBucketCommand({ Bucket: s3.S3_BUCKET }));
    await client.send(
      new PutObjectCommand({
        Bucket: s3.S3_BUCKET,
        Key: key,
        Body: '{"potholes":3}',
        ContentType: 'application/json',
      }),
    );
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.S3_BUCKET, Prefix: prefix }));
    assert.deepEqual(
      listed.Contents?.map((o) => [o.Key, o.Size]),
      [[key, 14]],
    );
    const got = await client.send(new GetObjectCommand({ Bucket: s3.S3_BUCKET, Key: key }));
    assert.equal(await got.Body!.transformToString(), '{"potholes":3}');
  } finally {
    await client.send(new DeleteObjectCommand({ Bucket: s3.S3_BUCKET, Key: key }));
    client.destroy();
  }
});

test('EC2 through the AWS SDK: an instance is run, stopped, started and described with its tags', async () => {
  const ec2 = stackEc2Client();
  const name = uniqueName('stack-smoke');
  const run = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0c9c942bd7bf113a2',
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: name }] }],
    }),
  );
  const id = run.Instances![0]!.InstanceId!;
  const waiter = { client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 };
  try {
    await waitUntilInstanceRunning(waiter, { InstanceIds: [id] });

    const stopped = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    assert.equal(stopped.StoppingInstances![0]!.InstanceId, id);
    await waitUntilInstanceStopped(waiter, { InstanceIds: [id] });

    const started = await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    assert.equal(started.StartingInstances![0]!.PreviousState!.Name, 'stopped');
    await waitUntilInstanceRunning(waiter, { InstanceIds: [id] });

    const described = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [name] }] }),
    );
    const instances = described.Reservations!.flatMap((r) => r.Instances ?? []);
    assert.equal(instances.length, 1);
    assert.equal(instances[0]!.InstanceId, id);
    assert.equal(instances[0]!.State!.Name, 'running');
    assert.match(instances[0]!.PrivateIpAddress ?? '', /^\d+\.\d+\.\d+\.\d+$/);
  } finally {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    ec2.destroy();
  }
});
