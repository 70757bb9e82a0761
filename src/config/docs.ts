/**
 * The README's settings table and deploy/pothole.env.example, written from the settings' schema: each field's
 * `.meta()` (description, unit, secret, example) and its default, which is what the field gives for an unset value.
 * `npm run docs` (scripts/docs.ts) writes the files; a unit test fails when either is out of date.
 */
import { z } from 'zod';
import { POTHOLE_ENV_FILE_DOC } from './env-files';
import type { SettingDoc } from './fields';
import { sections } from './sections';

export interface Setting {
  name: string;
  /** The configuration section that reads it. */
  section: string;
  field?: z.ZodType;
  doc: Partial<SettingDoc>;
  /** The default as the documentation shows it: in words, a value, or '' for none. */
  shownDefault: string;
  /** The default as a value of the setting, when it is one. */
  defaultValue?: string;
}

/** The section's object under any transform: its fields by name. */
function fieldsOf(schema: z.ZodType): Record<string, z.ZodType> {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodPipe) inner = inner.in as z.ZodType;
  return (inner as z.ZodObject).shape as Record<string, z.ZodType>;
}

/** What a field gives for an unset value, as text: undefined when it is required or has no default. */
function defaultOf(field: z.ZodType): { required: boolean; value?: string } {
  const parsed = field.safeParse(undefined);
  if (!parsed.success) return { required: true };
  const value: unknown = parsed.data;
  if (value === undefined) return { required: false };
  if (Array.isArray(value)) return { required: false, value: value.length ? value.join(',') : undefined };
  return { required: false, value: String(value) };
}

/** Every setting: POTHOLE_ENV_FILE, then each section's fields in the schema's order. */
export function settings(): Setting[] {
  const fromSections = Object.entries(sections).flatMap(([section, schema]) =>
    Object.entries(fieldsOf(schema)).map(([name, field]): Setting => {
      const doc = (field.meta() ?? {}) as Partial<SettingDoc>;
      const { required, value } = defaultOf(field);
      return {
        name,
        section,
        field,
        doc,
        shownDefault: doc.defaultText ?? (required ? 'required' : (value ?? '')),
        defaultValue: value,
      };
    }),
  );
  const envFile: Setting = {
    name: 'POTHOLE_ENV_FILE',
    section: 'files',
    doc: POTHOLE_ENV_FILE_DOC,
    shownDefault: POTHOLE_ENV_FILE_DOC.defaultText!,
  };
  return [envFile, ...fromSections];
}

/** A setting's description with its unit, as both files give it. */
const describe = (doc: Partial<SettingDoc>) => `${doc.description ?? ''}; unit: ${doc.unit ?? ''}`;

export const README_BEGIN =
  '<!-- settings table: written by `npm run docs` from the descriptions in src/config; edit them there -->';
export const README_END = '<!-- end of the settings table -->';

/** Markdown of a table cell: code-like words in backticks (they hold _ * < > { }), pipes escaped. */
function cell(text: string): string {
  return text
    .split(/(\s+)/)
    .map((word) => {
      const m = /^([(]?)(.*?)((?:'s)?[),;:.]*)$/.exec(word)!;
      const [, open, core, close] = m;
      const codeLike = /[_*<>{}\\]/.test(core!) || /^--\w/.test(core!);
      return codeLike ? `${open}\`${core}\`${close}` : word;
    })
    .join('')
    .replace(/` `/g, ' ') // neighbouring code words read as one: `--env {stage}`
    .replaceAll('|', '\\|');
}

/** The README's table of every setting. */
export function settingsTable(all: Setting[] = settings()): string {
  const rows = all.map(({ name, section, doc, shownDefault, defaultValue }) => {
    const shown =
      shownDefault === '' ? '' : shownDefault === defaultValue ? `\`${shownDefault}\`` : cell(shownDefault);
    const description = cell(describe(doc));
    return `| \`${name}\` | ${section} | ${shown} | ${doc.secret ? 'yes' : ''} | ${description} |`;
  });
  return ['| Name | Section | Default | Secret | Description |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The README with its settings table, between the two markers, replaced by `table`. */
export function withSettingsTable(readme: string, table: string): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin)
    throw new Error(`README.md lacks the markers ${README_BEGIN} … ${README_END}`);
  return `${readme.slice(0, begin + README_BEGIN.length)}\n\n${table}\n\n${readme.slice(end)}`;
}

const EXAMPLE_HEADER = `# The pipeline's settings for deploy/compose.yml (env_file) and the systemd units (EnvironmentFile): copy to
# pothole.env (/etc/pothole/pothole.env for systemd), fill in, chmod 600. Plain NAME=value lines (no quotes, no
# \`export\`): Docker and systemd both read them. Every setting is here, those not set commented out with their
# default; the workers validate theirs at start and name every problem at once, and \`pothole doctor\` checks them
# against the services. Written by \`npm run docs\` from the descriptions in src/config: edit them there.`;

const SECTION_TITLES: Record<string, string> = {
  temporal: "Temporal (outside): the connection, TLS, the task queues, retries, the worker's log and metrics",
  watchdog: 'The watchdog: a cluster left running',
  aws: 'AWS: credentials from the instance profile unless set here',
  s3: "S3: the data, the stages' outputs and the Spark jobs' code",
  ssh: 'SSH to the cluster (files mounted read-only under /etc/pothole)',
  spark: "Spark on the cluster, and the stages' jobs",
  cluster: "The cluster's EC2 instances and their prices",
  postgres: 'PostgreSQL (outside)',
  email: 'The daily report by e-mail',
  slack: 'Slack',
  kakao: 'Reverse geocoding of new segments (Kakao)',
  complaints: "Citizens' complaints (data.go.kr)",
  dashboard:
    'The dashboard (compose sets DASHBOARD_HOST and DASHBOARD_PORT for its container). Without DASHBOARD_USER it ' +
    "refuses to start, the container binding 0.0.0.0; status changes are taken only from DASHBOARD_PUBLIC_URL's origin.",
};

/** A value Docker, systemd and bash all read alike when written bare. */
const isPlainValue = (v: string) => /^[\w.,:/@%+={}-]*$/.test(v);

/** `text` as comment lines of at most `width` characters. */
function comment(text: string, width = 112): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(' ')) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  return [...lines, line];
}

/** deploy/pothole.env.example: every setting of the sections, set to its example or commented out. */
export function envExample(all: Setting[] = settings()): string {
  const out = [EXAMPLE_HEADER];
  let section = '';
  for (const s of all.filter((x) => x.field)) {
    if (s.section !== section) {
      section = s.section;
      out.push('', ...comment(`---- ${SECTION_TITLES[section] ?? section}`));
    }
    const notes = [describe(s.doc), s.shownDefault && `default: ${s.shownDefault}`, s.doc.secret && 'secret'];
    out.push('', ...comment(`${notes.filter(Boolean).join('; ')}.`));
    if (s.doc.example !== undefined) out.push(`${s.name}=${s.doc.example}`);
    else {
      const shown =
        s.doc.hint ?? (s.defaultValue !== undefined && isPlainValue(s.defaultValue) ? s.defaultValue : '');
      out.push(`# ${s.name}=${shown}`);
    }
  }
  return `${out.join('\n')}\n`;
}
