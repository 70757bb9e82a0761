import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, readEnv, Secret, SECTIONS_FOR } from '../../src/config';

const clusterEnv = {
  S3_BUCKET: 'bucket',
  SSH_PRIVATE_KEY_PATH: '/keys/id',
  SSH_KNOWN_HOSTS_PATH: '/keys/known_hosts',
  MASTER_INSTANCE_ID: 'i-master',
  WORKER1_INSTANCE_ID: 'i-w1',
  WORKER2_INSTANCE_ID: 'i-w2',
};

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be rejected');
}

describe('configuration', () => {
  it('names every missing variable in one message', () => {
    const found = problems(() => loadConfig(SECTIONS_FOR.cluster, {}));
    for (const v of [
      'S3_BUCKET',
      'SSH_PRIVATE_KEY_PATH',
      'SSH_KNOWN_HOSTS_PATH',
      'MASTER_INSTANCE_ID',
      'WORKER1_INSTANCE_ID',
    ]) {
      assert.ok(
        found.some((p) => p.startsWith(v)),
        `${v} should be reported, got ${found.join('; ')}`,
      );
    }
  });

  it('the serving retry window is 30 minutes unless SERVING_RETRY_WINDOW_SECONDS says otherwise', () => {
    assert.equal(loadConfig(['temporal'], {}).temporal.SERVING_RETRY_WINDOW_SECONDS, 1800);
    const set = loadConfig(['temporal'], { SERVING_RETRY_WINDOW_SECONDS: '20' });
    assert.equal(set.temporal.SERVING_RETRY_WINDOW_SECONDS, 20);
    assert.deepEqual(
      problems(() => loadConfig(['temporal'], { SERVING_RETRY_WINDOW_SECONDS: '0' })),
      ['SERVING_RETRY_WINDOW_SECONDS must be a positive integer, got "0"'],
    );
  });

  it('the log level is INFO unless LOG_LEVEL names another, in any case; anything else is refused as given', () => {
    assert.equal(loadConfig(['temporal'], {}).temporal.LOG_LEVEL, 'INFO');
    assert.equal(loadConfig(['temporal'], { LOG_LEVEL: 'debug' }).temporal.LOG_LEVEL, 'DEBUG');
    assert.equal(loadConfig(['temporal'], { LOG_LEVEL: ' WARN ' }).temporal.LOG_LEVEL, 'WARN');
    assert.deepEqual(
      problems(() => loadConfig(['temporal'], { LOG_LEVEL: 'verbose' })),
      ['LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR, got "verbose"'],
    );
  });

  it('refuses a worker list with a gap: WORKER3 missing while WORKER4 is set', () => {
    const found = problems(() => loadConfig(['cluster'], { ...clusterEnv, WORKER4_INSTANCE_ID: 'i-w4' }));
    assert.deepEqual(found, ['WORKER3_INSTANCE_ID is missing while WORKER4_INSTANCE_ID is set']);
  });

  it('refuses fewer workers than EXPECTED_WORKER_COUNT', () => {
    const found = problems(() => loadConfig(['cluster'], { ...clusterEnv, EXPECTED_WORKER_COUNT: '4' }));
    assert.deepEqual(found, ['EXPECTED_WORKER_COUNT is 4 but 2 worker instance IDs are configured']);
  });

  it('accepts the original variable names and a comma list of extra workers', () => {
    const { cluster } = loadConfig(['cluster'], { ...clusterEnv, WORKER_INSTANCE_IDS: 'i-w3, i-w4' });
    assert.deepEqual(cluster.workerInstanceIds, ['i-w1', 'i-w2', 'i-w3', 'i-w4']);
    assert.equal(cluster.expectedWorkers, 4);
  });

  it('gives the original defaults', () => {
    const { s3, aws, temporal } = loadConfig(['s3', 'aws', 'temporal'], { S3_BUCKET: 'b' });
    assert.equal(aws.AWS_REGION, 'ap-northeast-2');
    assert.equal(s3.S3_STAGE2_OUTPUT_PREFIX, 'stage2_spatial_clustering');
    assert.equal(temporal.TEMPORAL_TASK_QUEUE, 'pothole-pipeline');
  });

  it('a serving-only worker does not demand EC2 or SSH settings', () => {
    const { postgres, email } = loadConfig(SECTIONS_FOR.serving, {
      S3_BUCKET: 'b',
      POSTGRES_PASSWORD: 'pw',
      GMAIL_ADDRESS: 'me@example.com',
      GMAIL_PASSWORD: 'app-password',
      REPORT_EMAIL: 'a@example.com,b@example.com',
    });
    assert.equal(postgres.user, 'pothole_user');
    assert.deepEqual(email.to, ['a@example.com', 'b@example.com']);
    assert.equal(email.smtp.host, 'smtp.gmail.com');
    assert.equal(email.smtp.port, 587);
    assert.equal(email.smtp.security, 'starttls');
  });

  it('complaints are off by default and need no setting then, on the serving and the cluster side', () => {
    const { complaints } = loadConfig(['complaints'], {});
    assert.equal(complaints.COMPLAINTS_NIGHTLY, false);
    assert.equal(complaints.COMPLAINTS_API_KEY, undefined);
    assert.equal(complaints.COMPLAINTS_MAX_DISTANCE_M, 500);
    assert.equal(complaints.COMPLAINTS_LOOKBACK_DAYS, 7);
    assert.equal(
      complaints.COMPLAINTS_API_URL,
      'https://apis.data.go.kr/1140100/minAnalsInfoView7/minPotholeLatLonInfo',
    );
    assert.ok(SECTIONS_FOR.serving.includes('complaints') && SECTIONS_FOR.cluster.includes('complaints'));
  });

  it('the nightly complaints load needs the service key, which never prints', () => {
    assert.deepEqual(
      problems(() => loadConfig(['complaints'], { COMPLAINTS_NIGHTLY: 'true' })),
      ['COMPLAINTS_API_KEY is required when COMPLAINTS_NIGHTLY is true'],
    );
    const { complaints } = loadConfig(['complaints'], {
      COMPLAINTS_NIGHTLY: 'TRUE',
      COMPLAINTS_API_KEY: 'portal-key',
      COMPLAINTS_LOOKBACK_DAYS: '10',
      COMPLAINTS_MAX_DISTANCE_M: '250',
    });
    assert.equal(complaints.COMPLAINTS_NIGHTLY, true);
    assert.equal(complaints.COMPLAINTS_LOOKBACK_DAYS, 10);
    assert.equal(complaints.COMPLAINTS_MAX_DISTANCE_M, 250);
    assert.ok(complaints.COMPLAINTS_API_KEY instanceof Secret);
    assert.ok(!JSON.stringify(complaints).includes('portal-key'));
    assert.ok(!inspect(complaints).includes('portal-key'));
  });

  it('refuses a complaints switch that is neither true nor false, and bad numbers, all at once', () => {
    assert.deepEqual(
      problems(() =>
        loadConfig(['complaints'], {
          COMPLAINTS_NIGHTLY: 'yes please',
          COMPLAINTS_MAX_DISTANCE_M: '-5',
          COMPLAINTS_API_URL: 'not a url',
        }),
      ),
      [
        'COMPLAINTS_API_URL must be a URL',
        'COMPLAINTS_MAX_DISTANCE_M must be a positive integer, got "-5"',
        'COMPLAINTS_NIGHTLY must be true or false (yes/no, on/off, 1/0), got "yes please"',
      ],
    );
  });

  it('reports invalid values with what was given', () => {
    const found = problems(() =>
      loadConfig(['postgres', 'email'], {
        POSTGRES_PASSWORD: 'x',
        POSTGRES_PORT: 'abc',
        REPORT_EMAIL: 'nobody',
        SMTP_SECURITY: 'ssl',
        REPORT_FROM: 'a@b',
      }),
    );
    assert.ok(found.includes('POSTGRES_PORT must be a port number (1-65535), got "abc"'), found.join('; '));
    assert.ok(found.some((p) => p.startsWith('REPORT_EMAIL "nobody" is not an email address')));
    assert.ok(found.some((p) => p.startsWith('SMTP_SECURITY must be one of')));
  });

  it('never prints a secret', () => {
    const { postgres, email } = loadConfig(['postgres', 'email'], {
      POSTGRES_PASSWORD: 'hunter2',
      GMAIL_ADDRESS: 'me@example.com',
      GMAIL_PASSWORD: 'app-password',
      REPORT_EMAIL: 'a@example.com',
    });
    const shown = [
      JSON.stringify({ postgres, email }),
      inspect({ postgres, email }, { depth: 10 }),
      `${postgres.password}`,
    ].join('\n');
    assert.ok(!shown.includes('hunter2') && !shown.includes('app-password'), shown);
    assert.ok(postgres.password instanceof Secret);
    assert.equal(postgres.password.reveal(), 'hunter2');
  });

  it('reads a .env file under the process environment', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-env-'));
    fs.writeFileSync(path.join(dir, 'stack.env'), 'S3_BUCKET=from-file\nS3_CODE_PREFIX=code\n');
    const env = readEnv({ POTHOLE_ENV_FILE: 'stack.env', S3_BUCKET: 'from-env' }, dir);
    assert.equal(env.S3_BUCKET, 'from-env');
    assert.equal(env.S3_CODE_PREFIX, 'code');
    assert.throws(() => readEnv({ POTHOLE_ENV_FILE: 'missing.env' }, dir), /does not exist/);
  });
});
