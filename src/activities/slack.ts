/**
 * notify_slack: a message to the team's Slack incoming webhook when a run fails (step, date, attempt,
 * error, link to the run in the Temporal UI), succeeds (date, duration, rows loaded, quality warnings) or is
 * cancelled, each with what became of the cluster; and an alert when stop_cluster keeps failing.
 *
 * Only when SLACK_WEBHOOK_URL is set. A Slack problem is logged and swallowed: a notification never fails
 * the pipeline. Suggested options: startToCloseTimeout 1 min, at most 2 attempts (it never throws for Slack
 * errors, so retries only cover a lost worker).
 */
import { log } from '@temporalio/activity';
import type { Secret, SlackConfig, TemporalConfig } from '../config';
import { describeCleanup } from '../shared/cleanup-outcome';
import { formatUsd } from '../cost/run-cost';
import type { NotifyInput, WatchdogReport } from '../shared/types';
import { currentContext, errorMessage } from './activity-support';

export interface SlackDeps {
  config: { slack: SlackConfig; temporal: TemporalConfig };
  fetch?: typeof fetch;
  /** Per-request timeout. */
  timeoutMs?: number;
}

export interface NotifyResult {
  sent: boolean;
  /** Why nothing was sent (not configured, or Slack's error). */
  reason?: string;
}

/** The run's page in the Temporal UI. */
export function runUrl(temporal: TemporalConfig, workflowId: string, runId: string): string {
  const base = temporal.TEMPORAL_UI_URL.replace(/\/+$/, '');
  return (
    `${base}/namespaces/${encodeURIComponent(temporal.TEMPORAL_NAMESPACE)}` +
    `/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`
  );
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h ? `${h}h ${m}m ${rest}s` : m ? `${m}m ${rest}s` : `${rest}s`;
}

/** Slack mrkdwn needs &, < and > escaped in text that is not a link. */
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The webhook payload: `text` (also the notification preview) in Slack mrkdwn. */
export function slackMessage(input: NotifyInput, temporal: TemporalConfig): { text: string } {
  const link = `<${runUrl(temporal, input.workflowId, input.runId)}|View the run in the Temporal UI>`;
  const cluster = [
    ...(input.cleanup ? [`*Cluster:* ${escape(describeCleanup(input.cleanup))}`] : []),
    ...(input.clusterUpSeconds !== undefined
      ? [
          `*Cluster up:* ${formatDuration(input.clusterUpSeconds)} · *Cost:* ${escape(formatUsd(input.clusterCostUsd))}`,
        ]
      : []),
  ];
  const code = (text: string) => {
    const shown = text.length > 2500 ? `${text.slice(0, 2500)}…` : text;
    return `\`\`\`${escape(shown).replace(/```/g, "'''")}\`\`\``;
  };
  if (input.kind === 'cleanup-failing') {
    const c = input.cleanup;
    const ids = c?.instances.length ? c.instances.join(', ') : 'the cluster instances';
    const lines = [
      `:rotating_light: *Instances ${ids} may be running* (run for ${input.batchDate})`,
      c?.status === 'left-to-watchdog'
        ? `stop_cluster failed with an error no retry can fix; the run gave the cluster up and the watchdog keeps ` +
          'trying and alerting. Fix the permissions, or stop the instances in the EC2 console.'
        : `stop_cluster failed ${c?.attempts ?? '?'} time(s); it keeps retrying. Check the instances in the EC2 console.`,
      `*Error:*\n${code((c?.lastError ?? input.error ?? 'unknown error').trim())}`,
      link,
    ];
    return { text: lines.join('\n') };
  }
  if (input.kind === 'cancelled') {
    const lines = [
      `:no_entry_sign: *Pothole pipeline cancelled* for ${input.batchDate}`,
      ...(input.durationSeconds !== undefined ? [`*Ran for:* ${formatDuration(input.durationSeconds)}`] : []),
      ...cluster,
      link,
    ];
    return { text: lines.join('\n') };
  }
  if (input.kind === 'watchdog') return { text: `${watchdogLines(input.watchdog)}\n${link}` };
  if (input.kind === 'failure') {
    const lines = [
      `:x: *Pothole pipeline failed* for ${input.batchDate}`,
      `*Step:* ${input.step ?? 'unknown'}${input.attempt ? ` (attempt ${input.attempt})` : ''}`,
      `*Error:*\n${code((input.error ?? 'unknown error').trim())}`,
      ...cluster,
      link,
    ];
    return { text: lines.join('\n') };
  }
  const warnings = input.quality?.warnings ?? [];
  const lines = [
    `:white_check_mark: *Pothole pipeline succeeded* for ${input.batchDate}`,
    ...(input.durationSeconds !== undefined ? [`*Duration:* ${formatDuration(input.durationSeconds)}`] : []),
    ...(input.rowsLoaded !== undefined ? [`*Rows loaded:* ${input.rowsLoaded.toLocaleString('en-US')}`] : []),
    ...(warnings.length
      ? [`*Quality warnings:*`, ...warnings.map((w) => `• ${escape(w)}`)]
      : input.quality
        ? ['*Quality:* no warnings']
        : []),
    ...(input.warnings?.length ? [`*Warnings:*`, ...input.warnings.map((w) => `• ${escape(w)}`)] : []),
    ...cluster,
    link,
  ];
  return { text: lines.join('\n') };
}

/** The watchdog stopped a cluster that no run was using: which instances, up since when, idle since when. */
function watchdogLines(report: WatchdogReport | undefined): string {
  const r = report ?? { stopped: [], kept: [], driversKilled: [] };
  const instance = (i: WatchdogReport['stopped'][number]) =>
    `• ${i.id} (${i.role})${i.launchTime ? `, running since ${i.launchTime}` : ''}`;
  return [
    `:rotating_light: *Watchdog stopped a cluster left running* (no run held it)`,
    ...(r.idleSince ? [`*Unused since:* ${r.idleSince}`] : []),
    ...(r.lastHeldBy
      ? [`*Last held by:* ${escape(r.lastHeldBy)}${r.lastHeldUntil ? ` until ${r.lastHeldUntil}` : ''}`]
      : []),
    `*Stopped:*`,
    ...r.stopped.map(instance),
    ...(r.driversKilled.length ? [`*Spark drivers killed:* ${r.driversKilled.map(escape).join(', ')}`] : []),
    ...(r.kept.length ? [`*Kept running (tagged to keep):*`, ...r.kept.map(instance)] : []),
  ].join('\n');
}

/**
 * Posts one message to the webhook. Slack's answer or the network error comes back as `reason`, with the URL
 * (a secret) blanked out of it; nothing here throws.
 */
export async function postToSlack(
  webhook: Secret,
  message: { text: string },
  options: { fetch?: typeof fetch; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<NotifyResult> {
  const fetchFn = options.fetch ?? fetch;
  try {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    const res = await fetchFn(webhook.reveal(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    });
    if (!res.ok) {
      const body = (await res.text().catch(() => '')).slice(0, 200);
      return { sent: false, reason: `Slack answered ${res.status}${body ? `: ${body}` : ''}` };
    }
    return { sent: true };
  } catch (err) {
    // The error may quote the URL, which is a secret: never log or return it.
    return { sent: false, reason: errorMessage(err).replace(webhook.reveal(), '<SLACK_WEBHOOK_URL>') };
  }
}

export function createSlackActivities(deps: SlackDeps) {
  async function notify_slack(input: NotifyInput): Promise<NotifyResult> {
    const webhook = deps.config.slack.SLACK_WEBHOOK_URL;
    if (!webhook) return { sent: false, reason: 'SLACK_WEBHOOK_URL is not set' };
    const result = await postToSlack(webhook, slackMessage(input, deps.config.temporal), {
      fetch: deps.fetch,
      timeoutMs: deps.timeoutMs,
      signal: currentContext()?.cancellationSignal,
    });
    if (result.sent) log.info(`Slack notified (${input.kind}) for ${input.batchDate}`);
    else log.warn(`Slack notification for ${input.batchDate} not delivered: ${result.reason}`);
    return result;
  }

  return { notify_slack };
}
