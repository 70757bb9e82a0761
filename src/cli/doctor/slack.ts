/**
 * Check 9: the Slack webhook URL is well formed, and, with --send-test, a test message is delivered. The URL is
 * a secret: only its scheme and host are ever shown.
 */
import os from 'node:os';
import { postToSlack } from '../../activities/slack';
import { ok, problem, skipped, type Check, type CheckResult } from './check';

const NAME = 'slack';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const SLACK_PATHS = /^\/(services|workflows|triggers)\//;
const URL_FIX =
  'set SLACK_WEBHOOK_URL to the https://hooks.slack.com/services/… URL of the channel’s incoming webhook';

/**
 * Slack's webhooks are https://hooks.slack.com/services|workflows|triggers/…; another https host is accepted (a
 * relay); plain http only to this machine (a local test sink), since the URL itself is the credential.
 */
export function judgeWebhookUrl(raw: string): CheckResult {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return problem(NAME, 'SLACK_WEBHOOK_URL is not a URL', URL_FIX);
  }
  const shown = `${url.protocol}//${url.host}/…`;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) {
    return ok(NAME, `webhook ${shown} on this machine (a local sink)`);
  }
  if (url.protocol !== 'https:') {
    return problem(
      NAME,
      `webhook ${shown} is not https: the URL, which is the credential, would cross the network in clear`,
      URL_FIX,
    );
  }
  if (url.hostname !== 'hooks.slack.com') {
    return ok(NAME, `webhook ${shown} (not hooks.slack.com: a relay?)`);
  }
  if (!SLACK_PATHS.test(url.pathname)) {
    return problem(NAME, `webhook ${shown} has no /services/, /workflows/ or /triggers/ path`, URL_FIX);
  }
  return ok(NAME, `webhook ${shown} well formed`);
}

export const slackCheck: Check = {
  name: NAME,
  needs: ['slack'],
  unreachableFix: 'check that this machine reaches the webhook’s host (proxy, firewall)',
  async run(ctx, signal) {
    const webhook = ctx.section('slack').SLACK_WEBHOOK_URL;
    if (!webhook) return [skipped(NAME, 'SLACK_WEBHOOK_URL is not set: no Slack messages')];
    const shape = judgeWebhookUrl(webhook.reveal());
    if (shape.status !== 'ok' || !ctx.options.sendTest) return [shape];
    const sent = await postToSlack(
      webhook,
      {
        text: `:stethoscope: pothole doctor on ${os.hostname()}: test message, Slack notifications arrive here`,
      },
      { timeoutMs: ctx.options.timeoutMs, signal },
    );
    return [
      sent.sent
        ? ok(NAME, `${shape.detail}; test message delivered`)
        : problem(
            NAME,
            `test message not delivered: ${sent.reason}`,
            'check the webhook in the Slack app’s Incoming Webhooks settings (a revoked webhook answers 403/404)',
          ),
    ];
  },
};
