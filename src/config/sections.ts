/** The configuration's sections: one zod schema per part of the system, and the checks across variables. */
import { z } from 'zod';
import { isLoopbackHost } from '../dashboard/address';
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
  TEMPORAL_ADDRESS: withDefault('localhost:7233'),
  TEMPORAL_NAMESPACE: withDefault('default'),
  TEMPORAL_TASK_QUEUE: withDefault('pothole-pipeline'),
  SERVING_TASK_QUEUE: optionalString,
  TEMPORAL_UI_URL: withDefault('http://localhost:8233'),
  /** Failed stop_cluster attempts before Slack hears that the instances may be running (retries go on). */
  CLEANUP_ALERT_AFTER_FAILURES: positiveInt(3),
  /** The longest wait between two stop_cluster attempts. */
  CLEANUP_RETRY_MAX_INTERVAL_SECONDS: positiveInt(120),
  /**
   * How long each serving step (load_to_rdb, refresh_views, send_email_report) keeps retrying through an
   * outage of PostgreSQL or SMTP; the cluster is already stopped, so waiting costs nothing.
   */
  SERVING_RETRY_WINDOW_SECONDS: positiveInt(1800),
  /** Dates per cluster session of a backfill (one cluster start and stop, then the next chunk continues as new). */
  BACKFILL_DATES_PER_SESSION: positiveInt(31),
  /** The longest range of dates the CLI takes (backfill, cost, complaints load); 3660 days is ten years. */
  MAX_RANGE_DAYS: positiveInt(3660),
  /** The worker's Prometheus endpoint (/metrics on this port); unset: no endpoint. */
  METRICS_PORT: optionalPort,
  /** Every interface by default: Prometheus scrapes the worker from another host. */
  METRICS_HOST: withDefault('0.0.0.0'),
  /** The worker's log: the lowest level written (one JSON object a line). */
  LOG_LEVEL: optionalString.transform((v, ctx) => {
    const level = (v ?? 'INFO').toUpperCase();
    const known = LOG_LEVELS.find((l) => l === level);
    if (known) return known;
    ctx.addIssue({ code: 'custom', message: `must be one of ${LOG_LEVELS.join(', ')}, got "${v}"` });
    return z.NEVER;
  }),
  ...temporalTlsFields,
});

const awsSchema = z.object({
  AWS_REGION: withDefault('ap-northeast-2'),
  AWS_ENDPOINT_URL: optionalUrl,
  /** Optional: without them the SDK's default chain applies (instance profile, ~/.aws, SSO). */
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalSecret,
  AWS_SESSION_TOKEN: optionalSecret,
});

const s3Schema = z.object({
  S3_BUCKET: requiredString,
  S3_CODE_PREFIX: prefix('spark-job-code'),
  S3_RAW_DATA_PREFIX: prefix('raw-sensor-data'),
  S3_STAGE1_OUTPUT_PREFIX: prefix('stage1_anomaly_detected'),
  S3_STAGE2_OUTPUT_PREFIX: prefix('stage2_spatial_clustering'),
});

const sshSchema = z.object({
  SSH_USER: withDefault('ubuntu'),
  SSH_PORT: port(22),
  SSH_PRIVATE_KEY_PATH: requiredString,
  SSH_KNOWN_HOSTS_PATH: requiredString,
  /**
   * When set, every cluster node is reached over SSH at this address instead of its private IP
   * (single-host clusters such as the local stack, or a forwarded port). Unset on EC2.
   */
  SSH_HOST: optionalString,
});

const sparkSchema = z.object({
  SPARK_HOME: withDefault('/opt/spark'),
  SPARK_JOB_DIR: withDefault('/home/ubuntu/spark-job'),
  SPARK_MASTER_PORT: port(7077),
  SPARK_MASTER_WEBUI_PORT: port(8080),
  /** Base URL of the master's web UI as seen from the worker process; defaults to http://<master>:<webui port>. */
  SPARK_MASTER_WEBUI_URL: optionalUrl,
  /** Host name the master advertises in spark:// URLs; defaults to the master's private IP. */
  SPARK_MASTER_HOST: optionalString,
  SPARK_EXECUTOR_MEMORY: sparkMemory('4g'),
  SPARK_EXECUTOR_CORES: positiveInt(2),
  SPARK_TOTAL_EXECUTOR_CORES: positiveInt(8),
  SPARK_DRIVER_MEMORY: sparkMemory('2g'),
  /**
   * --packages for spark-submit, e.g. the hadoop-aws of the cluster's Hadoop version when SPARK_HOME/jars
   * lacks it; unset (or "none") passes no --packages.
   */
  SPARK_PACKAGES: list().transform((v) => (v.join() === 'none' ? [] : v)),
  /** Extra --conf entries, comma separated key=value (e.g. S3A endpoint for S3-compatible stores). */
  SPARK_EXTRA_CONF: list(),
  SPARK_PYTHON_PACKAGES: list(['pyarrow']),
  SPARK_PYTHON: withDefault('python3'),
  SPARK_STAGE_TIMEOUT_MINUTES: positiveInt(120),
  /** A running stage fails (its driver killed) once fewer than the expected workers are ALIVE for this long. */
  SPARK_WORKER_LOSS_TIMEOUT_SECONDS: positiveInt(180),
  SPARK_HISTORY_SERVER: flag(true),
  /** Each stage's entry file, --py-files, own --conf and arguments (spark-stages.ts). */
  ...sparkStageFields,
});

const clusterSchema = z
  .object({
    MASTER_INSTANCE_ID: optionalString,
    WORKER1_INSTANCE_ID: optionalString,
    WORKER2_INSTANCE_ID: optionalString,
    WORKER3_INSTANCE_ID: optionalString,
    WORKER4_INSTANCE_ID: optionalString,
    WORKER_INSTANCE_IDS: list(),
    /** Alternative to instance IDs: instances tagged pothole:cluster=<name> and pothole:role=master|worker. */
    CLUSTER_NAME: optionalString,
    /** How many workers must come up; a mismatch with the configured IDs is an error. */
    EXPECTED_WORKER_COUNT: positiveInt(0),
    MASTER_PRIVATE_IP: optionalString,
    WORKER1_PRIVATE_IP: optionalString,
    WORKER2_PRIVATE_IP: optionalString,
    WORKER3_PRIVATE_IP: optionalString,
    WORKER4_PRIVATE_IP: optionalString,
    /**
     * On-demand hourly prices of the master's and a worker's instance type, for each run's cost (never looked up).
     * Defaults: m5.xlarge and r5.2xlarge, Linux, ap-northeast-2.
     */
    CLUSTER_MASTER_HOURLY_USD: nonNegativeNumber(0.236),
    CLUSTER_WORKER_HOURLY_USD: nonNegativeNumber(0.608),
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
    DATABASE_URL: optionalUrl,
    POSTGRES_HOST: withDefault('localhost'),
    POSTGRES_PORT: port(5432),
    POSTGRES_USER: withDefault('pothole_user'),
    POSTGRES_PASSWORD: optionalSecret,
    POSTGRES_DB: withDefault('road_safety'),
    POSTGRES_LOAD_MAINTENANCE_WORK_MEM: postgresMemory(DEFAULT_LOAD_MAINTENANCE_WORK_MEM),
  })
  .transform((v) => ({
    connectionString: v.DATABASE_URL ? new Secret(v.DATABASE_URL) : undefined,
    host: v.POSTGRES_HOST,
    port: v.POSTGRES_PORT,
    user: v.POSTGRES_USER,
    password: v.POSTGRES_PASSWORD,
    database: v.POSTGRES_DB,
    loadMaintenanceWorkMem: v.POSTGRES_LOAD_MAINTENANCE_WORK_MEM,
  }));

const smtpSecurity = z.enum(['starttls', 'tls', 'none'], { error: 'must be one of starttls, tls, none' });

const emailSchema = z
  .object({
    GMAIL_ADDRESS: optionalString,
    GMAIL_PASSWORD: optionalSecret,
    REPORT_EMAIL: list(),
    REPORT_FROM: optionalString,
    SMTP_HOST: withDefault('smtp.gmail.com'),
    SMTP_PORT: port(587),
    SMTP_SECURITY: withDefault('starttls').pipe(smtpSecurity),
    SMTP_USER: optionalString,
    SMTP_PASSWORD: optionalSecret,
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
  SLACK_WEBHOOK_URL: optionalUrl.transform((v) => (v ? new Secret(v) : undefined)),
});

const kakaoSchema = z.object({
  KAKAO_REST_API_KEY: optionalSecret,
  KAKAO_API_URL: withDefault('https://dapi.kakao.com'),
  KAKAO_CONCURRENCY: positiveInt(4),
});

const watchdogSchema = z.object({
  /** How often the watchdog looks for a cluster left running (the Schedule pothole-watchdog). */
  WATCHDOG_INTERVAL_SECONDS: positiveInt(300),
  /** How long running instances may stay without a run holding the cluster lock before they are stopped. */
  WATCHDOG_GRACE_SECONDS: positiveInt(600),
  /** Instances with this tag (any value but "false") are reported, never stopped. */
  WATCHDOG_KEEP_TAG: withDefault('pothole:keep'),
});

/** ACRC's complaints big-data API (data.go.kr dataset 15128648, 2024 edition): pothole complaints' positions. */
export const DEFAULT_COMPLAINTS_API_URL =
  'https://apis.data.go.kr/1140100/minAnalsInfoView7/minPotholeLatLonInfo';

const complaintsSchema = z.object({
  /** The data.go.kr service key (the Encoding or the Decoding one). */
  COMPLAINTS_API_KEY: optionalSecret,
  COMPLAINTS_API_URL: optionalUrl.transform((v) => v ?? DEFAULT_COMPLAINTS_API_URL),
  /** A complaint farther than this from every segment centroid is not on the network and is not stored. */
  COMPLAINTS_MAX_DISTANCE_M: positiveInt(500),
  /** Load the complaints after load_to_rdb every night (off unless true). */
  COMPLAINTS_NIGHTLY: flag(false),
  /** The nightly load covers this many days ending on the batch date: complaints arrive late. */
  COMPLAINTS_LOOKBACK_DAYS: positiveInt(7),
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
  /** 8501: the original (Streamlit) dashboard's port, so bookmarks keep working. */
  DASHBOARD_PORT: port(8501),
  /** Loopback by default: status changes are open to whoever reaches the page unless a login is set. */
  DASHBOARD_HOST: withDefault('127.0.0.1'),
  /** Map tiles as a {z}/{x}/{y} URL template; "none" draws the segments on a plain background (offline). */
  DASHBOARD_TILE_URL: withDefault(DEFAULT_TILE_URL).refine(
    (v) => v === 'none' || (URL.canParse(v) && ['{z}', '{x}', '{y}'].every((p) => v.includes(p))),
    'must be "none" or a tile URL template with {z}, {x} and {y}',
  ),
  /** With DASHBOARD_PASSWORD: basic auth for repair-status changes (viewing stays open). */
  DASHBOARD_USER: optionalString,
  DASHBOARD_PASSWORD: optionalSecret,
  /** The URL people open the dashboard at; status changes from any other origin are refused. Default: the bind address. */
  DASHBOARD_PUBLIC_URL: optionalUrl.refine(
    (v) => v === undefined || !URL.canParse(v) || /^https?:$/.test(new URL(v).protocol),
    'must be an http:// or https:// URL',
  ),
  /** Status changes without a login on a dashboard bound beyond loopback (false: refuse to start so). */
  DASHBOARD_ALLOW_ANONYMOUS_CHANGES: flag(false),
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
