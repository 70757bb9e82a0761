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
/** A yes/no setting: true/false, yes/no, on/off or 1/0 in any case; anything else is an error, not silently off. */
export const booleanSetting = (def: boolean) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return def;
    const word = v.toLowerCase();
    if (TRUE_WORDS.includes(word)) return true;
    if (FALSE_WORDS.includes(word)) return false;
    ctx.addIssue({ code: 'custom', message: `must be true or false (yes/no, on/off, 1/0), got "${v}"` });
    return z.NEVER;
  });
export const prefix = (def: string) => withDefault(def).transform((v) => v.replace(/^\/+|\/+$/g, ''));
