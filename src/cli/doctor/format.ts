/**
 * The doctor's report: one line per check (`ok`, `PROBLEM`, `skipped`), a problem's fix on the line below,
 * or a JSON array. Secret values are blanked out of everything printed, whatever a server's error quoted.
 */
import type { Env } from '../../config';
import type { CheckResult } from './check';

const LABELS: Record<CheckResult['status'], string> = { ok: 'ok', problem: 'PROBLEM', skipped: 'skipped' };

/** Details are one line: servers' multi-line errors are folded. */
const oneLine = (text: string) => text.replace(/\s*\r?\n\s*/g, ' ').trim();

export function formatResults(results: readonly CheckResult[]): string {
  return results
    .map((r) => {
      const line = `${LABELS[r.status].padEnd(8)}${r.name}: ${oneLine(r.detail)}`;
      return r.fix && r.status === 'problem' ? `${line}\n  fix: ${oneLine(r.fix)}` : line;
    })
    .join('\n');
}

export function formatJson(results: readonly CheckResult[]): string {
  return JSON.stringify(
    results.map((r) => ({
      name: r.name,
      status: r.status,
      detail: oneLine(r.detail),
      ...(r.fix && r.status === 'problem' ? { fix: oneLine(r.fix) } : {}),
    })),
    null,
    2,
  );
}

/** Non-zero when any check found a problem. */
export function exitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === 'problem') ? 1 : 0;
}

/** Settings whose values are secrets (passwords, keys, tokens, URLs that carry credentials). */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|API_KEY|WEBHOOK|DATABASE_URL|ADMIN_URL/;

/** The secret values among the settings, longest first (so a value containing another is blanked whole). */
export function secretValues(env: Env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value && value.trim().length >= 4)
    .map(([, value]) => value!.trim())
    .sort((a, b) => b.length - a.length);
}

/** The results with every occurrence of a secret value replaced by `***`. */
export function redact(results: readonly CheckResult[], secrets: readonly string[]): CheckResult[] {
  const blank = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text);
  return results.map((r) => ({
    ...r,
    detail: blank(r.detail),
    ...(r.fix !== undefined ? { fix: blank(r.fix) } : {}),
  }));
}
