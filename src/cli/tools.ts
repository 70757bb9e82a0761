/**
 * The rest of the toolbox: worker, db migrate, db retire, deploy-code, report preview, demo-data.
 * Each validates only the configuration it needs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { ConfigError, loadConfig, type Env } from '../config';
import { createS3Client } from '../activities/aws-clients';
import { renderReport } from '../activities/report';
import { migrate } from '../db/migrate';
import { planRetirement, retireOldDays, type RetirePlan } from '../db/retire';
import { createPool } from '../db/pool';
import { collectSparkCode } from '../demo/spark-code';
import { uploadDemoData, uploadSparkCode } from '../demo/upload';
import { logLine, startWorker } from '../worker';
import { parseDate, UsageError, type Out } from './runs';

export function registerToolCommands(
  program: Command,
  output: (json: boolean) => Out,
  readEnv: () => Env,
): void {
  const json = () => new Option('--json', 'machine-readable output');

  program
    .command('worker')
    .description('run a worker (npm start); SIGINT/SIGTERM shut it down gracefully')
    .addOption(
      new Option('--role <role>', 'which steps this worker serves')
        .choices(['all', 'cluster', 'serving'])
        .default('all'),
    )
    .action(async (opts: { role: 'all' | 'cluster' | 'serving' }) => {
      const worker = await startWorker({ role: opts.role }).catch((err: unknown) => {
        if (!(err instanceof ConfigError)) throw err;
        // The worker's log is JSON lines from the first on, its refusal to start included.
        logLine('ERROR', err.message, { problems: err.problems });
        process.exitCode = 2;
      });
      if (!worker) return;
      const fields = { role: opts.role, taskQueues: worker.taskQueues, pid: process.pid };
      worker.logger.info(`worker (${opts.role}) serving ${worker.taskQueues.join(', ')}`, fields);
      await worker.done;
      worker.logger.info(`worker (${opts.role}) stopped`, fields);
    });

  const db = program.command('db').description('the serving database');
  db.command('migrate')
    .description('apply the schema migrations (idempotent)')
    .addOption(json())
    .action(async (opts: { json?: boolean }) => {
      const { postgres } = loadConfig(['postgres'], readEnv());

      const pool = createPool(postgres, { max: 1 });
      try {
        const result = await migrate(pool);
        output(!!opts.json).print(
          result.applied.length
            ? `applied ${result.applied.length} migration(s): ${result.applied.join(', ')}`
            : 'schema is up to date',
          result,
        );
      } finally {
        await pool.end();
      }
    });

  db.command('retire')
    .description(
      'drop day partitions older than SERVING_KEEP_DAYS after rolling up their month (the nightly refresh_views ' +
        'does this too); the Stage2 output in S3 stays the archive: `pothole run DATE --from load_to_rdb` reloads a day',
    )
    .option('--dry-run', 'list what would go, change nothing')
    .addOption(json())
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      const { postgres } = loadConfig(['postgres'], readEnv());
      const keepDays = postgres.history.keepDays;
      const pool = createPool(postgres, { max: 2 });
      try {
        const out = output(!!opts.json);
        if (opts.dryRun) {
          const plan = await planRetirement(pool, keepDays);
          out.print(describePlan(plan, 'would retire'), plan);
          return;
        }
        const result = await retireOldDays(pool, keepDays);
        const lines = [describePlan(result, 'retired')];
        if (result.leftForNextTime.length > 0)
          lines.push(`left for next time (a reader held them): ${result.leftForNextTime.join(', ')}`);
        out.print(lines.join('\n'), result);
      } finally {
        await pool.end();
      }
    });

  program
    .command('deploy-code')
    .description(
      'upload the Spark job code (DIR/stage1, DIR/stage2) to s3://<bucket>/<S3_CODE_PREFIX>/; each stage ' +
        'folder must hold the entry file and --py-files its SPARK_STAGEn_* settings name',
    )
    .argument('<dir>', 'folder holding stage1/ and stage2/ (e.g. spark)')
    .addOption(json())
    .action(async (dir: string, opts: { json?: boolean }) => {
      const env = readEnv();
      const { spark } = loadConfig(['spark'], env);
      try {
        // Checked before any setting of S3 is needed: a wrong folder is the likelier mistake.
        collectSparkCode(dir, spark);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const { aws, s3 } = loadConfig(['aws', 's3'], env);
      const client = createS3Client(aws);
      try {
        const uploaded = await uploadSparkCode({
          s3: client,
          bucket: s3.S3_BUCKET,
          codePrefix: s3.S3_CODE_PREFIX,
          dir,
          layout: spark,
        });
        output(!!opts.json).print(
          `uploaded ${uploaded.length} files to s3://${s3.S3_BUCKET}/${s3.S3_CODE_PREFIX}/`,
          { uploaded },
        );
      } finally {
        client.destroy();
      }
    });

  program
    .command('demo-data')
    .description(
      'generate a day of synthetic sensor data with known potholes and upload it with the road network',
    )
    .argument('<date>', 'batch date YYYY-MM-DD')
    .addOption(json())
    .action(async (date: string, opts: { json?: boolean }) => {
      const batchDate = parseDate(date);
      const { aws, s3 } = loadConfig(['aws', 's3'], readEnv());
      const client = createS3Client(aws);
      try {
        const result = await uploadDemoData({
          s3: client,
          bucket: s3.S3_BUCKET,
          rawPrefix: s3.S3_RAW_DATA_PREFIX,
          date: batchDate,
        });
        output(!!opts.json).print(
          `uploaded ${result.readings} readings for ${batchDate}; potholes injected at ${result.potholeSegmentIds.join(', ')}`,
          result,
        );
      } finally {
        client.destroy();
      }
    });

  const report = program.command('report').description('the daily repair-priority report');
  report
    .command('preview')
    .description('render the report for DATE without sending it')
    .argument('<date>', 'batch date YYYY-MM-DD')
    .option('--out <file>', 'write the HTML there', 'report.html')
    .action(async (date: string, opts: { out: string }) => {
      const batchDate = parseDate(date);
      const { postgres } = loadConfig(['postgres'], readEnv());

      const pool = createPool(postgres, { max: 2 });
      try {
        const rendered = await renderReport(pool, batchDate);
        fs.writeFileSync(opts.out, rendered.html);
        console.log(`${rendered.subject}\nwritten to ${path.resolve(opts.out)}`);
      } finally {
        await pool.end();
      }
    });
}

function describePlan(plan: RetirePlan, verb: string): string {
  if (!plan.latestDay) return 'no day is loaded: nothing to retire';
  const head = `SERVING_KEEP_DAYS=${plan.keepDays}: the latest loaded day is ${plan.latestDay}; days up to ${plan.retireThrough} go`;
  if (plan.candidates.length === 0) return `${head}\nnothing to retire`;
  const rows = plan.candidates.map(
    (c) =>
      `  ${c.day}  ${c.table}  ~${c.estimatedRows.toLocaleString('en-US')} rows  ${c.state}` +
      (c.rolledUp ? '  (month rolled up)' : '  (month rolled up first)'),
  );
  return [head, `${verb} ${plan.candidates.length} day(s):`, ...rows].join('\n');
}
