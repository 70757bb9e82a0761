/**
 * The stages' job settings (SPARK_STAGEn_ENTRY, _PY_FILES, _CONF, _ARGS): the reference layout by default,
 * placeholders filled per stage and date, and a clear configuration error for a placeholder that does not
 * exist or a file outside the stage folder.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config';
import { isReferenceLayout, stageJob, stageJobFiles, stageSetting } from '../../../src/config/spark-stages';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(['spark'], env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be rejected');
}

describe('the job settings of the Spark stages', () => {
  it('default to the reference jobs: main.py with common.py, --env <stage> --batch-date <date>, no --packages', () => {
    const { spark } = loadConfig(['spark'], {});
    assert.deepEqual(spark.SPARK_PACKAGES, []);
    for (const stage of ['stage1', 'stage2'] as const) {
      assert.deepEqual(stageJob(spark, stage, '2026-02-12'), {
        entry: 'main.py',
        pyFiles: ['common.py'],
        conf: [],
        args: ['--env', stage, '--batch-date', '2026-02-12'],
      });
      assert.equal(isReferenceLayout(spark, stage), true);
    }
  });

  it('fill {stage} and {batchDate} in the entry, --py-files, confs and arguments', () => {
    const { spark } = loadConfig(['spark'], {
      SPARK_STAGE2_ENTRY: '{stage}_spatial_clustering.py',
      SPARK_STAGE2_PY_FILES: 'connection_{stage}.py,./lib/geo.py',
      SPARK_STAGE2_CONF: 'spark.team.tag={stage}@{batchDate}',
      SPARK_STAGE2_ARGS: '--env {stage} --batch-date {batchDate} --dry-run',
    });
    assert.deepEqual(stageJob(spark, 'stage2', '2026-03-01'), {
      entry: 'stage2_spatial_clustering.py',
      pyFiles: ['connection_stage2.py', 'lib/geo.py'],
      conf: ['spark.team.tag=stage2@2026-03-01'],
      args: ['--env', 'stage2', '--batch-date', '2026-03-01', '--dry-run'],
    });
    assert.equal(isReferenceLayout(spark, 'stage2'), false);
    assert.equal(isReferenceLayout(spark, 'stage1'), true);
    assert.equal(stageSetting('stage2', 'ENTRY'), 'SPARK_STAGE2_ENTRY');
  });

  it('"none" means no --py-files and no arguments', () => {
    const { spark } = loadConfig(['spark'], { SPARK_STAGE1_PY_FILES: 'none', SPARK_STAGE1_ARGS: 'none' });
    const job = stageJob(spark, 'stage1', '2026-02-12');
    assert.deepEqual([job.pyFiles, job.args], [[], []]);
  });

  it('name the files a stage needs, with their settings; date-dependent names only once the date is known', () => {
    const { spark } = loadConfig(['spark'], {
      SPARK_STAGE1_ENTRY: 'stage1_anomaly_detection.py',
      SPARK_STAGE1_PY_FILES: 'connection_stage1.py,daily/{batchDate}.py',
    });
    assert.deepEqual(stageJobFiles(spark, 'stage1'), [
      { file: 'stage1_anomaly_detection.py', setting: 'SPARK_STAGE1_ENTRY' },
      { file: 'connection_stage1.py', setting: 'SPARK_STAGE1_PY_FILES' },
    ]);
    assert.deepEqual(
      stageJobFiles(spark, 'stage1', '2026-02-12').map((f) => f.file),
      ['stage1_anomaly_detection.py', 'connection_stage1.py', 'daily/2026-02-12.py'],
    );
  });

  it('refuse an unknown placeholder, naming the setting and the placeholder, every problem at once', () => {
    assert.deepEqual(
      problems({
        SPARK_STAGE1_ARGS: '--env {stage} --batch-date {date}',
        SPARK_STAGE2_CONF: 'spark.a={Stage}',
        SPARK_STAGE2_ENTRY: 'job_{env}.py',
      }),
      [
        'SPARK_STAGE1_ARGS has an unknown placeholder {date} in "--env {stage} --batch-date {date}": use {stage} or {batchDate}',
        'SPARK_STAGE2_CONF has an unknown placeholder {Stage} in "spark.a={Stage}": use {stage} or {batchDate}',
        'SPARK_STAGE2_ENTRY has an unknown placeholder {env} in "job_{env}.py": use {stage} or {batchDate}',
      ],
    );
  });

  it('refuse an entry or --py-file outside the stage folder', () => {
    assert.deepEqual(
      problems({
        SPARK_STAGE1_ENTRY: '../stage2/main.py',
        SPARK_STAGE1_PY_FILES: 'common.py,/opt/jobs/connection.py',
        SPARK_STAGE2_PY_FILES: 'lib/../../secrets.py',
      }),
      [
        'SPARK_STAGE1_ENTRY must be a path inside the stage folder, got "../stage2/main.py" (.. leaves it)',
        'SPARK_STAGE1_PY_FILES must be a path inside the stage folder, got the absolute path "/opt/jobs/connection.py"',
        'SPARK_STAGE2_PY_FILES must be a path inside the stage folder, got "lib/../../secrets.py" (.. leaves it)',
      ],
    );
  });

  it('refuse a stage conf that is not key=value', () => {
    assert.deepEqual(problems({ SPARK_STAGE1_CONF: 'spark.a=1,spark.b' }), [
      'SPARK_STAGE1_CONF must be key=value entries, got "spark.b"',
    ]);
  });
});
