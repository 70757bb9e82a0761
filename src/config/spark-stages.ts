/**
 * How each Spark stage is laid out and called: its entry file, the --py-files it ships, its own --conf
 * entries and its application arguments. The defaults are the reference jobs (spark/): `stageN/main.py`
 * with `stageN/common.py`, called with `--env stageN --batch-date <date>`; a team with another layout
 * changes only these settings.
 *
 * Values may hold the placeholders {stage} and {batchDate}; anything else in braces is a mistake
 * (a `{date}` would otherwise reach the job as literal text), and so is a file outside the stage folder.
 */
import path from 'node:path';
import { z } from 'zod';
import { optionalString } from './fields';

export const SPARK_STAGES = ['stage1', 'stage2'] as const;
export type SparkStage = (typeof SPARK_STAGES)[number];

const PLACEHOLDERS = ['stage', 'batchDate'] as const;
const DEFAULT_ARGS = '--env {stage} --batch-date {batchDate}';

/** Every {name} of a value that is not a known placeholder, as problems. */
function placeholderProblems(value: string): string[] {
  const unknown = [...value.matchAll(/\{([^{}]*)\}/g)]
    .map((m) => m[1]!)
    .filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name));
  return [...new Set(unknown)].map(
    (name) => `has an unknown placeholder {${name}} in "${value}": use {stage} or {batchDate}`,
  );
}

/** Problems of a file path that must stay inside the stage folder. */
function pathProblems(file: string): string[] {
  if (file.startsWith('/') || /^[A-Za-z]:/.test(file)) {
    return [`must be a path inside the stage folder, got the absolute path "${file}"`];
  }
  if (file.split(/[\\/]/).some((segment) => segment === '..')) {
    return [`must be a path inside the stage folder, got "${file}" (.. leaves it)`];
  }
  return [];
}

/** A comma list (or "none" for an empty one) whose items pass `check`; every problem is reported. */
const checkedList = (def: string[], check: (item: string) => string[], tidy = (item: string) => item) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return def;
    if (v === 'none') return [];
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const problems = items.flatMap(check);
    for (const message of problems) ctx.addIssue({ code: 'custom', message });
    return problems.length ? z.NEVER : items.map(tidy);
  });

const entryFile = optionalString.transform((v, ctx) => {
  const file = v ?? 'main.py';
  const problems = [...placeholderProblems(file), ...pathProblems(file)];
  for (const message of problems) ctx.addIssue({ code: 'custom', message });
  return problems.length ? z.NEVER : path.posix.normalize(file);
});

const pyFiles = checkedList(
  ['common.py'],
  (f) => [...placeholderProblems(f), ...pathProblems(f)],
  (f) => path.posix.normalize(f),
);

const stageConf = checkedList([], (c) => [
  ...placeholderProblems(c),
  ...(/^[^=\s]+=/.test(c) ? [] : [`must be key=value entries, got "${c}"`]),
]);

/** Whitespace-separated arguments; "none" for no arguments at all. */
const stageArgs = optionalString.transform((v, ctx) => {
  const text = v ?? DEFAULT_ARGS;
  if (text === 'none') return [];
  const problems = placeholderProblems(text);
  for (const message of problems) ctx.addIssue({ code: 'custom', message });
  return problems.length ? z.NEVER : text.split(/\s+/).filter(Boolean);
});

/** What each of a stage's four settings says of itself in the README and the deploy example. */
const docs = {
  entry: (stage: SparkStage) => ({
    description: `the file spark-submit runs for ${stage}, relative to its stage folder (run_stage*, download_code, deploy-code)`,
    unit: 'file path; {stage} and {batchDate} are filled in',
  }),
  pyFiles: (stage: SparkStage) => ({
    description: `${stage}'s --py-files, relative to its stage folder; none: no --py-files`,
    unit: 'comma list of file paths',
  }),
  conf: (stage: SparkStage) => ({
    description: `${stage}'s own --conf entries, after SPARK_EXTRA_CONF`,
    unit: 'comma list of key=value',
  }),
  args: (stage: SparkStage) => ({
    description: `${stage}'s application arguments; none: no arguments`,
    unit: 'arguments split on whitespace; {stage} and {batchDate} are filled in',
    defaultText: DEFAULT_ARGS,
  }),
};

/** The fields of the spark section that describe the stages' jobs. */
export const sparkStageFields = {
  SPARK_STAGE1_ENTRY: entryFile.meta(docs.entry('stage1')),
  SPARK_STAGE2_ENTRY: entryFile.meta(docs.entry('stage2')),
  SPARK_STAGE1_PY_FILES: pyFiles.meta(docs.pyFiles('stage1')),
  SPARK_STAGE2_PY_FILES: pyFiles.meta(docs.pyFiles('stage2')),
  SPARK_STAGE1_CONF: stageConf.meta(docs.conf('stage1')),
  SPARK_STAGE2_CONF: stageConf.meta(docs.conf('stage2')),
  SPARK_STAGE1_ARGS: stageArgs.meta(docs.args('stage1')),
  SPARK_STAGE2_ARGS: stageArgs.meta(docs.args('stage2')),
};

export type SparkStageSettings = {
  [K in keyof typeof sparkStageFields]: z.output<(typeof sparkStageFields)[K]>;
};

type Part = 'ENTRY' | 'PY_FILES' | 'CONF' | 'ARGS';
/** The setting that holds a part of a stage's job, e.g. SPARK_STAGE1_ENTRY. */
export const stageSetting = <P extends Part>(stage: SparkStage, part: P) =>
  `SPARK_${stage.toUpperCase() as Uppercase<SparkStage>}_${part}` as const;

/** A stage's job with the placeholders filled in; file paths relative to the stage folder. */
export interface StageJob {
  entry: string;
  pyFiles: string[];
  conf: string[];
  args: string[];
}

const fill = (template: string, values: { stage: string; batchDate: string }) =>
  template.replace(/\{(stage|batchDate)\}/g, (_, name: 'stage' | 'batchDate') => values[name]);

export function stageJob(spark: SparkStageSettings, stage: SparkStage, batchDate: string): StageJob {
  const values = { stage, batchDate };
  const filled = (items: string[]) => items.map((t) => fill(t, values));
  return {
    entry: fill(spark[stageSetting(stage, 'ENTRY')], values),
    pyFiles: filled(spark[stageSetting(stage, 'PY_FILES')]),
    conf: filled(spark[stageSetting(stage, 'CONF')]),
    args: filled(spark[stageSetting(stage, 'ARGS')]),
  };
}

/** A file a stage's job needs in its folder, and the setting that names it. */
export interface StageJobFile {
  file: string;
  setting: string;
}

/**
 * The entry and --py-files of a stage. Without a batch date (deploying, downloading) the files whose name
 * depends on the date are left out: they can only be checked when a date's stage runs.
 */
export function stageJobFiles(
  spark: SparkStageSettings,
  stage: SparkStage,
  batchDate?: string,
): StageJobFile[] {
  const entry = stageSetting(stage, 'ENTRY');
  const py = stageSetting(stage, 'PY_FILES');
  const templates = [
    { template: spark[entry], setting: entry },
    ...spark[py].map((template) => ({ template, setting: py })),
  ];
  return templates
    .filter((t) => batchDate !== undefined || !t.template.includes('{batchDate}'))
    .map((t) => ({ file: fill(t.template, { stage, batchDate: batchDate ?? '' }), setting: t.setting }));
}

/** The reference jobs' layout (main.py + common.py): the deploy then also applies their own rules. */
export const isReferenceLayout = (spark: SparkStageSettings, stage: SparkStage): boolean =>
  spark[stageSetting(stage, 'ENTRY')] === 'main.py' &&
  spark[stageSetting(stage, 'PY_FILES')].join() === 'common.py';

/** The defaults: what a stage is when nothing is configured. */
export const DEFAULT_STAGE_SETTINGS: SparkStageSettings = z.object(sparkStageFields).parse({});
