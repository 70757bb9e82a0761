/** Building blocks of the configuration: a secret that never prints, the error listing every problem, and
 * the zod field helpers every section is written with (empty strings count as unset). */
import { z } from 'zod';

/** A secret value that never prints itself: not in logs, JSON, inspect or template strings. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret(***)';
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/**
 * What the README's settings table and deploy/pothole.env.example say of a setting, kept on its field with
 * `.meta()` (scripts/docs.ts writes both files from them).
 */
export interface SettingDoc {
  /** One line: what it is for. */
  description: string;
  /** What the value is measured or written in: seconds, a URL, a comma list of … */
  unit: string;
  secret?: boolean;
  /** The default in words, when the field's own default does not say it (required, derived from others). */
  defaultText?: string;
  /** deploy/pothole.env.example sets it to this. */
  example?: string;
  /** deploy/pothole.env.example shows it commented out with this value. */
  hint?: string;
}

declare module 'zod/v4/core' {
  interface GlobalMeta {
    unit?: string;
    secret?: boolean;
    defaultText?: string;
    example?: string;
    hint?: string;
  }
}

// ---- small field helpers: empty strings count as unset -------------------------------------------------

export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
export const requiredString = z
  .string({ error: 'is required' })
  .transform((v) => v.trim())
  .refine((v) => v !== '', 'is required');
export const withDefault = (def: string) => optionalString.transform((v) => v ?? def);
/** A port that may be left unset (the feature it serves is then off). */
export const optionalPort = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    ctx.addIssue({ code: 'custom', message: `must be a port number (1-65535), got "${v}"` });
    return z.NEVER;
  }
  return n;
});
export const port = (def: number) => optionalPort.transform((v) => v ?? def);
export const positiveInt = (def: number) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: `must be a positive integer, got "${v}"` });
      return z.NEVER;
    }
    return n;
  });
/** A price or other decimal that may be 0, e.g. 0.236. */
export const nonNegativeNumber = (def: number) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) {
      ctx.addIssue({ code: 'custom', message: `must be a number of 0 or more, got "${v}"` });
      return z.NEVER;
    }
    return n;
  });
/** A share in per cent, e.g. 70 or 70% (more than 0, at most 100). */
export const percent = (def: number) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return def;
    const n = Number(v.replace(/\s*%$/, ''));
    if (!/\d/.test(v) || !Number.isFinite(n) || n <= 0 || n > 100) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a percentage above 0 and at most 100 (e.g. 70 or 70%), got "${v}"`,
      });
      return z.NEVER;
    }
    return n;
  });
export const optionalUrl = optionalString.refine((v) => v === undefined || URL.canParse(v), 'must be a URL');
export const optionalSecret = optionalString.transform((v) => (v === undefined ? undefined : new Secret(v)));
export const list = (def: string[] = []) =>
  optionalString.transform((v) =>
    v === undefined
      ? def
      : v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
  );

const TRUE_WORDS = ['true', 'yes', 'on', '1'];
const FALSE_WORDS = ['false', 'no', 'off', '0'];

/** A switch's value: true/false, yes/no, on/off, 1/0 in any case; undefined for anything else. */
export function parseBoolean(value: string): boolean | undefined {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

/** Every switch reads its value here: anything but the words above is an error, never silently on or off. */
export const optionalFlag = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const on = parseBoolean(v);
  if (on === undefined) {
    ctx.addIssue({ code: 'custom', message: `must be true or false (yes/no, on/off, 1/0), got "${v}"` });
    return z.NEVER;
  }
  return on;
});
export const flag = (def: boolean) => optionalFlag.transform((v) => v ?? def);

/**
 * A memory size as Spark documents it for spark.driver.memory and spark.executor.memory: a JVM memory string, a
 * whole number and a unit k, m, g or t (512m, 2g). The driver's goes to the JVM's -Xmx as written, so Spark's
 * longer suffixes (2gb) and a number without a unit (bytes to the JVM, MiB to Spark) are refused.
 */
export const sparkMemory = (def: string) =>
  withDefault(def).refine((v) => /^[1-9][0-9]*[kmgt]$/i.test(v), {
    error: (issue) =>
      `must be a Spark memory size, a whole number and a unit k, m, g or t (e.g. 512m, 2g), got "${String(issue.input)}"`,
  });

/** PostgreSQL's memory units (case-sensitive, as PostgreSQL reads them), in kB. */
const PG_UNITS_KB: Record<string, number> = { B: 1 / 1024, kB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3 };

/**
 * A memory size in PostgreSQL's own syntax: a number and a unit B, kB, MB, GB or TB (no unit: kB), within
 * maintenance_work_mem's range, 1MB to 2147483647kB. It is written into a SET statement, so nothing else passes.
 */
export const postgresMemory = (def: string) =>
  withDefault(def).refine(
    (v) => {
      const m = /^([0-9]+(?:\.[0-9]+)?) ?(B|kB|MB|GB|TB)?$/.exec(v);
      if (!m) return false;
      const kb = Number(m[1]) * PG_UNITS_KB[m[2] ?? 'kB']!;
      return kb >= 1024 && kb <= 2147483647;
    },
    {
      error: (issue) =>
        'must be a PostgreSQL memory size from 1MB to 2TB, a number and a unit B, kB, MB, GB or TB ' +
        `(e.g. 512MB, 1GB), got "${String(issue.input)}"`,
    },
  );

export const prefix = (def: string) => withDefault(def).transform((v) => v.replace(/^\/+|\/+$/g, ''));
