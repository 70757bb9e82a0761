/** The configuration's sections: one zod schema per part of the system, and the checks across variables. */
import { z } from 'zod';
import { isLoopbackHost } from './loopback';
import {
  type Env,
  flag,
  list,
  nonNegativeNumber,
  optionalSecret,
  optionalString,
  optionalPort,
  optionalUrl,
  parseBoolean,
  port,
  percent,
  postgresMemory,
  positiveInt,
  prefix,
  requiredString,
  Secret,
  sparkMemory,
  withDefault,
} from './fields';
import { temporalTlsFields, temporalTlsProblems } from './temporal-tls';
import { sparkStageFields } from './spark-stages';

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

const temporalSchema = z.object({
  TEMPORAL_ADDRESS: withDefault('localhost:7233').meta({
    description: 'the Temporal server the worker, the CLI and the dashboard connect to',
    unit: 'host:port',
    example: 'temporal.internal:7233',
  }),
  TEMPORAL_NAMESPACE: withDefault('default').meta({
    description: 'the Temporal namespace of the runs and the schedules',
    unit: 'name',
    example: 'default',
  }),
  TEMPORAL_TASK_QUEUE: withDefault('pothole-pipeline').meta({
    description: 'the task queue of the workflows and the cluster steps; the CLI starts runs on it',
    unit: 'name',
    example: 'pothole-pipeline',
  }),
  SERVING_TASK_QUEUE: optionalString.meta({
    description:
      'a queue of their own for the serving steps (load_to_rdb … send_email_report), taken by a worker --role serving',
    unit: 'name',
    defaultText: 'TEMPORAL_TASK_QUEUE',
    example: 'pothole-serving',
  }),
  TEMPORAL_UI_URL: withDefault('http://localhost:8233').meta({
    description: 'the Temporal web UI, for the links in Slack and the CLI',
    unit: 'URL',
    example: 'https://temporal-ui.internal',
  }),
  CLEANUP_ALERT_AFTER_FAILURES: positiveInt(3).meta({
    description:
      'failed stop_cluster attempts before Slack hears that the instances may be running (the attempts go on)',
    unit: 'attempts',
  }),
  CLEANUP_RETRY_MAX_INTERVAL_SECONDS: positiveInt(120).meta({
    description: 'the longest wait between two stop_cluster attempts (they never stop until one succeeds)',
    unit: 'seconds',
  }),
  SERVING_RETRY_WINDOW_SECONDS: positiveInt(1800).meta({
    description:
      'how long each serving step retries through an outage of PostgreSQL or SMTP (the cluster is already stopped: waiting costs nothing); read by the worker that runs the workflows',
    unit: 'seconds',
  }),
  BACKFILL_DATES_PER_SESSION: positiveInt(31).meta({
    description:
      'backfill: dates per cluster session (one cluster start and stop, then the next chunk continues as a new run)',
    unit: 'dates',
  }),
  MAX_RANGE_DAYS: positiveInt(3660).meta({
    description:
      'the longest range of dates backfill, cost and complaints load take (3660: ten years); a longer one is refused before anything starts',
    unit: 'days',
  }),
  METRICS_PORT: optionalPort.meta({
    description: "the worker's Prometheus endpoint (/metrics on this port; see Metrics)",
    unit: 'TCP port',
    defaultText: '(no endpoint)',
  }),
  METRICS_HOST: withDefault('0.0.0.0').meta({
    description:
      'the address the metrics endpoint listens on (every interface by default: Prometheus scrapes the worker from another host)',
    unit: 'IP address',
  }),
  LOG_LEVEL: optionalString
    .transform((v, ctx) => {
      const level = (v ?? 'INFO').toUpperCase();
      const known = LOG_LEVELS.find((l) => l === level);
      if (known) return known;
      ctx.addIssue({ code: 'custom', message: `must be one of ${LOG_LEVELS.join(', ')}, got "${v}"` });
      return z.NEVER;
    })
    .meta({
      description:
        "the lowest level the worker's log writes (one JSON object a line); DEBUG adds every step's start and end, the workflows' own lines and the Spark driver's output",
      unit: 'TRACE, DEBUG, INFO, WARN or ERROR, any case',
      example: 'INFO',
    }),
  ...temporalTlsFields,
});

const awsSchema = z.object({
  AWS_REGION: withDefault('ap-northeast-2').meta({
    description: 'the region of S3 and EC2',
    unit: 'AWS region',
    example: 'ap-northeast-2',
  }),
  AWS_ENDPOINT_URL: optionalUrl.meta({
    description: 'an S3- and EC2-compatible endpoint instead of AWS (the local stack)',
    unit: 'URL',
    defaultText: '(AWS)',
  }),
  AWS_ACCESS_KEY_ID: optionalString.meta({
    description: "an access key; without one the SDK's default chain applies (instance profile, ~/.aws, SSO)",
    unit: 'access key ID',
    defaultText: "the SDK's default chain",
  }),
  AWS_SECRET_ACCESS_KEY: optionalSecret.meta({
    description: "the access key's secret",
    unit: 'text',
    secret: true,
  }),
  AWS_SESSION_TOKEN: optionalSecret.meta({
    description: 'the session token of temporary credentials',
    unit: 'text',
    secret: true,
  }),
});

const s3Schema = z.object({
  S3_BUCKET: requiredString.meta({
    description: "the bucket of the sensor data, the stages' outputs and the Spark jobs' code",
    unit: 'bucket name',
    example: 'road-safety',
  }),
  S3_CODE_PREFIX: prefix('spark-job-code').meta({
    description: 'where deploy-code puts the Spark jobs and download_code takes them from',
    unit: 'key prefix',
  }),
  S3_RAW_DATA_PREFIX: prefix('raw-sensor-data').meta({
    description: 'the raw sensor data (check_s3_input, stage1)',
    unit: 'key prefix',
  }),
  S3_STAGE1_OUTPUT_PREFIX: prefix('stage1_anomaly_detected').meta({
    description: "stage1's output (check_s3_stage1_out, stage1, stage2)",
    unit: 'key prefix',
  }),
  S3_STAGE2_OUTPUT_PREFIX: prefix('stage2_spatial_clustering').meta({
    description: "stage2's output (check_s3_stage2_out, stage2, load_to_rdb)",
    unit: 'key prefix',
  }),
});

const sshSchema = z.object({
  SSH_USER: withDefault('ubuntu').meta({
    description: 'the user every step on the cluster nodes logs in as',
    unit: 'user name',
    example: 'ubuntu',
  }),
  SSH_PORT: port(22).meta({ description: "the nodes' SSH port", unit: 'TCP port' }),
  SSH_PRIVATE_KEY_PATH: requiredString.meta({
    description: 'the private key the worker logs in with',
    unit: 'file path',
    example: '/etc/pothole/id_ed25519',
  }),
  SSH_KNOWN_HOSTS_PATH: requiredString.meta({
    description:
      "the nodes' host keys, always verified (e.g. ssh-keyscan <master-ip> >> known_hosts once, from a trusted network)",
    unit: 'file path',
    defaultText: 'required (host keys are always verified)',
    example: '/etc/pothole/known_hosts',
  }),
  SSH_HOST: optionalString.meta({
    description:
      'reach every node at this address instead of its private IP (single-host clusters such as the local stack, a forwarded port); unset on EC2',
    unit: 'host name or IP address',
    defaultText: "the node's private IP",
  }),
});

const sparkSchema = z.object({
  SPARK_HOME: withDefault('/opt/spark').meta({
    description: 'Spark on the cluster nodes (start_spark, run_stage*, stop_spark)',
    unit: 'directory',
  }),
  SPARK_JOB_DIR: withDefault('/home/ubuntu/spark-job').meta({
    description: 'where download_code puts the jobs on the master, and run_stage* runs them from',
    unit: 'directory',
  }),
  SPARK_MASTER_PORT: port(7077).meta({ description: "the master's port in spark:// URLs", unit: 'TCP port' }),
  SPARK_MASTER_WEBUI_PORT: port(8080).meta({ description: "the master's web UI", unit: 'TCP port' }),
  SPARK_MASTER_WEBUI_URL: optionalUrl.meta({
    description:
      "the master's web UI as the worker process reaches it, for start_spark's check of the ALIVE workers",
    unit: 'URL',
    defaultText: 'http://<master>:<SPARK_MASTER_WEBUI_PORT>',
  }),
  SPARK_MASTER_HOST: optionalString.meta({
    description: 'the host name the master advertises in spark:// URLs',
    unit: 'host name or IP address',
    defaultText: "the master's private IP",
  }),
  SPARK_EXECUTOR_MEMORY: sparkMemory('4g').meta({
    description: "run_stage*: spark-submit's --executor-memory",
    unit: 'Spark memory size: a whole number and k, m, g or t',
  }),
  SPARK_EXECUTOR_CORES: positiveInt(2).meta({
    description: "run_stage*: spark-submit's --executor-cores",
    unit: 'cores',
  }),
  SPARK_TOTAL_EXECUTOR_CORES: positiveInt(8).meta({
    description: "run_stage*: spark-submit's --total-executor-cores",
    unit: 'cores',
  }),
  SPARK_DRIVER_MEMORY: sparkMemory('2g').meta({
    description: "run_stage*: spark-submit's --driver-memory (the driver JVM's -Xmx)",
    unit: 'Spark memory size: a whole number and k, m, g or t',
  }),
  SPARK_PACKAGES: list()
    .transform((v) => (v.join() === 'none' ? [] : v))
    .meta({
      description:
        "run_stage*: spark-submit's --packages, e.g. the hadoop-aws of the cluster's Hadoop version when SPARK_HOME/jars lacks it (see Spark jobs of another layout); none: no --packages",
      unit: 'comma list of Maven coordinates',
    }),
  SPARK_EXTRA_CONF: list().meta({
    description: 'run_stage*: extra --conf entries (e.g. the S3A endpoint of an S3-compatible store)',
    unit: 'comma list of key=value',
  }),
  SPARK_PYTHON_PACKAGES: list(['pyarrow']).meta({
    description: 'install_deps: the Python packages installed on the master and every worker',
    unit: 'comma list of pip packages',
  }),
  SPARK_PYTHON: withDefault('python3').meta({
    description: 'install_deps: the Python the packages are installed for',
    unit: 'command',
  }),
  SPARK_STAGE_TIMEOUT_MINUTES: positiveInt(120).meta({
    description:
      "run_stage*: time from the driver's start after which it is killed and the step fails (SparkStageTimeout); each attempt's activity timeout is this plus 10 minutes",
    unit: 'minutes',
  }),
  SPARK_WORKER_LOSS_TIMEOUT_SECONDS: positiveInt(180).meta({
    description:
      'run_stage*: time with fewer workers ALIVE (as the master reports them) after which the driver is killed and the step fails, naming the lost workers; a master status page that does not answer is reported, never acted on',
    unit: 'seconds',
  }),
  SPARK_HISTORY_SERVER: flag(true).meta({
    description: "start_spark, stop_spark: run Spark's history server during the cluster session",
    unit: 'true/false, yes/no, on/off or 1/0',
  }),
  ...sparkStageFields,
});

const clusterSchema = z
  .object({
    MASTER_INSTANCE_ID: optionalString.meta({
      description: "the master's EC2 instance (start_cluster, stop_cluster)",
      unit: 'instance ID',
      defaultText: 'required unless CLUSTER_NAME',
    }),
    WORKER1_INSTANCE_ID: optionalString.meta({
      description: "the first worker's EC2 instance (start_cluster, start_spark)",
      unit: 'instance ID',
      defaultText: 'required unless WORKER_INSTANCE_IDS or CLUSTER_NAME',
    }),
    WORKER2_INSTANCE_ID: optionalString.meta({
      description: "the second worker's EC2 instance",
      unit: 'instance ID',
    }),
    WORKER3_INSTANCE_ID: optionalString.meta({
      description: "the third worker's EC2 instance",
      unit: 'instance ID',
    }),
    WORKER4_INSTANCE_ID: optionalString.meta({
      description: "the fourth worker's EC2 instance",
      unit: 'instance ID',
    }),
    WORKER_INSTANCE_IDS: list().meta({
      description: 'workers besides WORKER1..4_INSTANCE_ID, any number',
      unit: 'comma list of instance IDs',
    }),
    CLUSTER_NAME: optionalString.meta({
      description:
        'instead of instance IDs: the instances tagged pothole:cluster=<name> and pothole:role=master or worker',
      unit: 'name',
      example: 'pothole',
    }),
    EXPECTED_WORKER_COUNT: positiveInt(0).meta({
      description:
        'how many workers must come up (start_spark); a mismatch with the configured IDs is an error',
      unit: 'workers',
      defaultText: 'the number of worker IDs (by tag: as many as found)',
    }),
    MASTER_PRIVATE_IP: optionalString.meta({
      description: "the original env.sh's master IP, accepted for compatibility; DescribeInstances is used",
      unit: 'IP address',
      defaultText: 'read from EC2',
    }),
    WORKER1_PRIVATE_IP: optionalString.meta({
      description: 'accepted for compatibility, as MASTER_PRIVATE_IP',
      unit: 'IP address',
      defaultText: 'read from EC2',
    }),
    WORKER2_PRIVATE_IP: optionalString.meta({
      description: 'accepted for compatibility, as MASTER_PRIVATE_IP',
      unit: 'IP address',
      defaultText: 'read from EC2',
    }),
    WORKER3_PRIVATE_IP: optionalString.meta({
      description: 'accepted for compatibility, as MASTER_PRIVATE_IP',
      unit: 'IP address',
      defaultText: 'read from EC2',
    }),
    WORKER4_PRIVATE_IP: optionalString.meta({
      description: 'accepted for compatibility, as MASTER_PRIVATE_IP',
      unit: 'IP address',
      defaultText: 'read from EC2',
    }),
    CLUSTER_MASTER_HOURLY_USD: nonNegativeNumber(0.236).meta({
      description:
        "each run's cost: the master's on-demand price (m5.xlarge, Linux, ap-northeast-2, AWS's list price: an assumption, set your own), read by the worker that runs the workflows when each run starts",
      unit: 'USD per hour',
    }),
    CLUSTER_WORKER_HOURLY_USD: nonNegativeNumber(0.608).meta({
      description:
        'the same for one worker (r5.2xlarge, Linux, ap-northeast-2); the prices are settings, never looked up',
      unit: 'USD per hour',
    }),
  })
  .transform((v) => {
    const workerIds = [
      ...[v.WORKER1_INSTANCE_ID, v.WORKER2_INSTANCE_ID, v.WORKER3_INSTANCE_ID, v.WORKER4_INSTANCE_ID].filter(
        (id): id is string => !!id,
      ),
      ...v.WORKER_INSTANCE_IDS,
    ];
    const ips = [v.WORKER1_PRIVATE_IP, v.WORKER2_PRIVATE_IP, v.WORKER3_PRIVATE_IP, v.WORKER4_PRIVATE_IP];
    return {
      masterInstanceId: v.MASTER_INSTANCE_ID,
      workerInstanceIds: workerIds,
      clusterName: v.CLUSTER_NAME,
      /** undefined: as many as found by tag. */
      expectedWorkers: v.EXPECTED_WORKER_COUNT || (v.CLUSTER_NAME ? undefined : workerIds.length),
      /** Hand-kept IPs of the original env.sh; only a fallback, DescribeInstances is the source of truth. */
      masterPrivateIp: v.MASTER_PRIVATE_IP,
      workerPrivateIps: ips.filter((ip): ip is string => !!ip),
      prices: { masterHourlyUsd: v.CLUSTER_MASTER_HOURLY_USD, workerHourlyUsd: v.CLUSTER_WORKER_HOURLY_USD },
    };
  });

/**
 * maintenance_work_mem of load_to_rdb's index builds. 1GB kept the 4M-row sorts in memory but made the load's
 * index phase slower (24–30 s against 15–21 s with 256MB, same benchmark, same hour).
 */
export const DEFAULT_LOAD_MAINTENANCE_WORK_MEM = '256MB';

const postgresSchema = z
  .object({
    DATABASE_URL: optionalUrl.meta({
      description: 'a connection URL instead of the POSTGRES_* settings (it holds the password)',
      unit: 'postgres:// URL',
      secret: true,
    }),
    POSTGRES_HOST: withDefault('localhost').meta({
      description: 'the serving database: the serving steps, db migrate, the dashboard',
      unit: 'host name or IP address',
      example: 'db.internal',
    }),
    POSTGRES_PORT: port(5432).meta({ description: "the database's port", unit: 'TCP port', example: '5432' }),
    POSTGRES_USER: withDefault('pothole_user').meta({
      description: 'the user the pipeline logs in as',
      unit: 'user name',
      example: 'pothole_user',
    }),
    POSTGRES_PASSWORD: optionalSecret.meta({
      description: "the user's password",
      unit: 'text',
      secret: true,
      defaultText: 'required unless DATABASE_URL',
      example: 'change-me',
    }),
    POSTGRES_DB: withDefault('road_safety').meta({
      description: 'the database',
      unit: 'name',
      example: 'road_safety',
    }),
    POSTGRES_LOAD_MAINTENANCE_WORK_MEM: postgresMemory(DEFAULT_LOAD_MAINTENANCE_WORK_MEM).meta({
      description:
        'load_to_rdb: maintenance_work_mem of its index builds; see the load benchmark before raising it',
      unit: 'PostgreSQL memory size: a number and B, kB, MB, GB or TB',
    }),
    REPAIR_CHECK_DAYS: positiveInt(14).meta({
      description:
        'refresh_views: a repair (보수완료) is judged on this many days after it against as many days before it',
      unit: 'days',
    }),
    REPAIR_CHECK_MIN_TRAFFIC: positiveInt(200).meta({
      description:
        'refresh_views: passes over the segment after a repair before it is judged (until then 확인중)',
      unit: 'vehicle passes',
    }),
    REPAIR_EFFECT_MIN_DROP: percent(70).meta({
      description:
        'refresh_views: a repair holds (효과 확인) when the impact rate fell by at least this much; otherwise 재발',
      unit: 'per cent',
      example: '70%',
    }),
    SERVING_KEEP_DAYS: positiveInt(400).meta({
      description:
        'refresh_views: day partitions older than this (counted back from the latest loaded day, never later than today) are dropped once their month is rolled up; the Stage2 output in S3 stays the archive',
      unit: 'days',
    }),
  })
  .transform((v) => ({
    connectionString: v.DATABASE_URL ? new Secret(v.DATABASE_URL) : undefined,
    host: v.POSTGRES_HOST,
    port: v.POSTGRES_PORT,
    user: v.POSTGRES_USER,
    password: v.POSTGRES_PASSWORD,
    database: v.POSTGRES_DB,
    loadMaintenanceWorkMem: v.POSTGRES_LOAD_MAINTENANCE_WORK_MEM,
    history: {
      keepDays: v.SERVING_KEEP_DAYS,
      repairCheckDays: v.REPAIR_CHECK_DAYS,
      repairCheckMinTraffic: v.REPAIR_CHECK_MIN_TRAFFIC,
      repairEffectMinDropPercent: v.REPAIR_EFFECT_MIN_DROP,
    },
  }));

const smtpSecurity = z.enum(['starttls', 'tls', 'none'], { error: 'must be one of starttls, tls, none' });

const emailSchema = z
  .object({
    GMAIL_ADDRESS: optionalString.meta({
      description: "send_email_report's sender and SMTP login (the original settings' name)",
      unit: 'e-mail address',
      defaultText: 'required for Gmail (or REPORT_FROM and SMTP_USER)',
    }),
    GMAIL_PASSWORD: optionalSecret.meta({
      description: 'the Gmail app password',
      unit: 'text',
      secret: true,
      defaultText: 'required for Gmail',
    }),
    REPORT_EMAIL: list().meta({
      description: "the daily report's recipients",
      unit: 'comma list of e-mail addresses',
      defaultText: 'required',
      example: 'road-team@example.com',
    }),
    REPORT_FROM: optionalString.meta({
      description: "the report's sender, when not GMAIL_ADDRESS",
      unit: 'e-mail address',
      defaultText: 'GMAIL_ADDRESS',
      example: 'road-safety@example.com',
    }),
    SMTP_HOST: withDefault('smtp.gmail.com').meta({
      description: 'the SMTP server the report is sent through',
      unit: 'host name',
      example: 'smtp.gmail.com',
    }),
    SMTP_PORT: port(587).meta({ description: "the SMTP server's port", unit: 'TCP port', example: '587' }),
    SMTP_SECURITY: withDefault('starttls')
      .pipe(smtpSecurity)
      .meta({ description: 'how the SMTP connection is secured', unit: 'starttls, tls or none' }),
    SMTP_USER: optionalString.meta({
      description: 'the SMTP login, when not GMAIL_ADDRESS',
      unit: 'user name',
      defaultText: 'GMAIL_ADDRESS',
      example: 'road-safety@example.com',
    }),
    SMTP_PASSWORD: optionalSecret.meta({
      description: 'the SMTP password, when not GMAIL_PASSWORD',
      unit: 'text',
      secret: true,
      defaultText: 'GMAIL_PASSWORD',
      example: 'change-me',
    }),
  })
  .transform((v) => ({
    from: v.REPORT_FROM ?? v.GMAIL_ADDRESS ?? '',
    to: v.REPORT_EMAIL,
    smtp: {
      host: v.SMTP_HOST,
      port: v.SMTP_PORT,
      security: v.SMTP_SECURITY,
      user: v.SMTP_USER ?? v.GMAIL_ADDRESS,
      password: v.SMTP_PASSWORD ?? v.GMAIL_PASSWORD,
    },
  }));

const slackSchema = z.object({
  SLACK_WEBHOOK_URL: optionalUrl
    .transform((v) => (v ? new Secret(v) : undefined))
    .meta({
      description: 'the incoming webhook of the failure, success and watchdog messages',
      unit: 'URL',
      secret: true,
      defaultText: '(no Slack)',
      hint: 'https://hooks.slack.com/services/...',
    }),
});

const kakaoSchema = z.object({
  KAKAO_REST_API_KEY: optionalSecret.meta({
    description: "load_to_rdb's reverse geocoding of new segments (Kakao's REST API key)",
    unit: 'text',
    secret: true,
    defaultText: '(no geocoding)',
  }),
  KAKAO_API_URL: withDefault('https://dapi.kakao.com').meta({ description: "Kakao's API", unit: 'URL' }),
  KAKAO_CONCURRENCY: positiveInt(4).meta({
    description: 'geocoding requests in flight at once',
    unit: 'requests',
  }),
});

const watchdogSchema = z.object({
  WATCHDOG_INTERVAL_SECONDS: positiveInt(300).meta({
    description:
      'how often the watchdog looks for a cluster left running (the schedule pothole-watchdog, set by schedule create and update)',
    unit: 'seconds',
  }),
  WATCHDOG_GRACE_SECONDS: positiveInt(600).meta({
    description:
      'how long instances may run with no run holding the cluster lock before the watchdog stops them',
    unit: 'seconds',
  }),
  WATCHDOG_KEEP_TAG: withDefault('pothole:keep').meta({
    description: 'instances with this tag (any value but false) are reported, never stopped',
    unit: 'EC2 tag key',
  }),
});

/** ACRC's complaints big-data API (data.go.kr dataset 15128648, 2024 edition): pothole complaints' positions. */
const DEFAULT_COMPLAINTS_API_URL = 'https://apis.data.go.kr/1140100/minAnalsInfoView7/minPotholeLatLonInfo';

const complaintsSchema = z.object({
  COMPLAINTS_API_KEY: optionalSecret.meta({
    description:
      'complaints load and load_complaints: the data.go.kr service key (the Encoding or the Decoding one)',
    unit: 'text',
    secret: true,
    defaultText: '(no complaints)',
  }),
  COMPLAINTS_API_URL: optionalUrl
    .transform((v) => v ?? DEFAULT_COMPLAINTS_API_URL)
    .meta({ description: "the portal's minPotholeLatLonInfo operation", unit: 'URL' }),
  COMPLAINTS_MAX_DISTANCE_M: positiveInt(500).meta({
    description:
      'a complaint farther than this from every segment centroid is not on the network and is not stored',
    unit: 'metres',
  }),
  COMPLAINTS_NIGHTLY: flag(false).meta({
    description: 'the nightly run loads the complaints after load_to_rdb (needs COMPLAINTS_API_KEY)',
    unit: 'true/false, yes/no, on/off or 1/0',
  }),
  COMPLAINTS_LOOKBACK_DAYS: positiveInt(7).meta({
    description: 'the nightly load covers this many days ending on the batch date: complaints arrive late',
    unit: 'days',
  }),
});

/**
 * Checks across variables. They run on the raw environment, whatever else is wrong, so that one start
 * reports every problem.
 */
export const crossChecks: Partial<Record<string, (env: Env) => string[]>> = {
  temporal: temporalTlsProblems,
  cluster(env) {
    const set = (k: string) => !!env[k]?.trim();
    const out: string[] = [];
    const numbered = [1, 2, 3, 4].map((n) => set(`WORKER${n}_INSTANCE_ID`));
    const last = numbered.lastIndexOf(true);
    numbered.forEach((isSet, i) => {
      if (!isSet && i < last)
        out.push(`WORKER${i + 1}_INSTANCE_ID is missing while WORKER${last + 1}_INSTANCE_ID is set`);
    });
    const byTag = set('CLUSTER_NAME');
    const listed = (env.WORKER_INSTANCE_IDS ?? '').split(',').filter((s) => s.trim()).length;
    const workers = numbered.filter(Boolean).length + listed;
    if (!byTag && !set('MASTER_INSTANCE_ID')) {
      out.push('MASTER_INSTANCE_ID is required (or set CLUSTER_NAME to find the instances by tag)');
    }
    if (!byTag && workers === 0) {
      out.push(
        'WORKER1_INSTANCE_ID is required: set WORKER1_INSTANCE_ID.. or WORKER_INSTANCE_IDS (or CLUSTER_NAME)',
      );
    }
    const expected = Number(env.EXPECTED_WORKER_COUNT);
    if (!byTag && set('EXPECTED_WORKER_COUNT') && Number.isInteger(expected) && expected !== workers) {
      out.push(`EXPECTED_WORKER_COUNT is ${expected} but ${workers} worker instance IDs are configured`);
    }
    return out;
  },
  postgres(env) {
    return env.DATABASE_URL?.trim() || env.POSTGRES_PASSWORD?.trim()
      ? []
      : ['POSTGRES_PASSWORD is required (or set DATABASE_URL)'];
  },
  email(env) {
    const out: string[] = [];
    const get = (k: string) => env[k]?.trim() || undefined;
    const to = (get('REPORT_EMAIL') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (to.length === 0) out.push('REPORT_EMAIL is required (comma-separated recipients)');
    for (const addr of to) {
      if (!/^[^\s@<>]+@[^\s@<>]+$/.test(addr)) out.push(`REPORT_EMAIL "${addr}" is not an email address`);
    }
    if (!get('REPORT_FROM') && !get('GMAIL_ADDRESS'))
      out.push('GMAIL_ADDRESS is required (or set REPORT_FROM)');
    const host = get('SMTP_HOST') ?? 'smtp.gmail.com';
    const password = get('SMTP_PASSWORD') ?? get('GMAIL_PASSWORD');
    if (host === 'smtp.gmail.com' && !password) out.push('GMAIL_PASSWORD is required to send through Gmail');
    if (password && !get('SMTP_USER') && !get('GMAIL_ADDRESS')) {
      out.push('GMAIL_ADDRESS is required when a password is set (or set SMTP_USER)');
    }
    return out;
  },
  complaints(env) {
    const nightly = parseBoolean(env.COMPLAINTS_NIGHTLY ?? '') === true;
    return nightly && !env.COMPLAINTS_API_KEY?.trim()
      ? ['COMPLAINTS_API_KEY is required when COMPLAINTS_NIGHTLY is true']
      : [];
  },
  dashboard(env) {
    const user = !!env.DASHBOARD_USER?.trim();
    const password = !!env.DASHBOARD_PASSWORD?.trim();
    if (user && !password) return ['DASHBOARD_PASSWORD is required when DASHBOARD_USER is set'];
    if (password && !user) return ['DASHBOARD_USER is required when DASHBOARD_PASSWORD is set'];
    const host = env.DASHBOARD_HOST?.trim() || '127.0.0.1';
    const anonymous = parseBoolean(env.DASHBOARD_ALLOW_ANONYMOUS_CHANGES ?? '') === true;
    if (!user && !anonymous && !isLoopbackHost(host)) {
      return [
        `DASHBOARD_USER is required when DASHBOARD_HOST (${host}) is beyond loopback: without a login anyone ` +
          'who reaches the dashboard can change repair statuses; set DASHBOARD_USER and DASHBOARD_PASSWORD, ' +
          'or DASHBOARD_ALLOW_ANONYMOUS_CHANGES=true to allow that',
      ];
    }
    return [];
  },
};

const DEFAULT_TILE_URL = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';

const dashboardSchema = z.object({
  DASHBOARD_PORT: port(8501).meta({
    description: "the dashboard's port (8501: the original Streamlit dashboard's, so bookmarks keep working)",
    unit: 'TCP port',
  }),
  DASHBOARD_HOST: withDefault('127.0.0.1').meta({
    description:
      'the address the dashboard listens on (0.0.0.0: every interface); beyond loopback it refuses to start without DASHBOARD_USER, unless DASHBOARD_ALLOW_ANONYMOUS_CHANGES',
    unit: 'IP address',
  }),
  DASHBOARD_TILE_URL: withDefault(DEFAULT_TILE_URL)
    .refine(
      (v) => v === 'none' || (URL.canParse(v) && ['{z}', '{x}', '{y}'].every((p) => v.includes(p))),
      'must be "none" or a tile URL template with {z}, {x} and {y}',
    )
    .meta({
      description: "the map's tiles; none draws the segments on a plain background (offline)",
      unit: 'URL template with {z}, {x} and {y}',
    }),
  DASHBOARD_USER: optionalString.meta({
    description:
      'with DASHBOARD_PASSWORD: the login for repair-status changes (viewing stays open); both or neither',
    unit: 'user name',
    defaultText: '(no login)',
    example: 'road-manager',
  }),
  DASHBOARD_PASSWORD: optionalSecret.meta({
    description: "the login's password",
    unit: 'text',
    secret: true,
    example: 'change-me',
  }),
  DASHBOARD_PUBLIC_URL: optionalUrl
    .refine(
      (v) => v === undefined || !URL.canParse(v) || /^https?:$/.test(new URL(v).protocol),
      'must be an http:// or https:// URL',
    )
    .meta({
      description:
        'the URL people open the dashboard at (by a name, behind a proxy); a status change from any other origin is refused (403)',
      unit: 'http:// or https:// URL',
      defaultText: 'the bind address at its port (http://127.0.0.1:8501)',
      hint: 'http://dashboard.example.internal:8501',
    }),
  DASHBOARD_ALLOW_ANONYMOUS_CHANGES: flag(false).meta({
    description:
      'status changes without a login on a dashboard bound beyond loopback (false: without DASHBOARD_USER it refuses to start)',
    unit: 'true/false, yes/no, on/off or 1/0',
  }),
});

export const sections = {
  temporal: temporalSchema,
  watchdog: watchdogSchema,
  aws: awsSchema,
  s3: s3Schema,
  ssh: sshSchema,
  spark: sparkSchema,
  cluster: clusterSchema,
  postgres: postgresSchema,
  email: emailSchema,
  slack: slackSchema,
  kakao: kakaoSchema,
  complaints: complaintsSchema,
  dashboard: dashboardSchema,
} as const;
