/** Which Slack webhook URLs the doctor accepts; the URL itself (a secret) is never shown, only scheme and host. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeWebhookUrl } from '../../../../src/cli/doctor/slack';

describe('judgeWebhookUrl', () => {
  it('accepts a Slack incoming webhook and shows only its host', () => {
    const r = judgeWebhookUrl('https://hooks.slack.com/services/T000/B000/secretpart');
    assert.equal(r.status, 'ok');
    assert.equal(r.detail, 'webhook https://hooks.slack.com/… well formed');
  });

  it('accepts workflow webhooks and another https host (a relay), saying so', () => {
    assert.equal(judgeWebhookUrl('https://hooks.slack.com/triggers/T0/1/abc').status, 'ok');
    const relay = judgeWebhookUrl('https://relay.example.com/slack/abc');
    assert.equal(relay.status, 'ok');
    assert.match(relay.detail, /not hooks\.slack\.com/);
  });

  it('accepts plain http only on this machine (a local test sink)', () => {
    assert.equal(judgeWebhookUrl('http://127.0.0.1:4000/services/hook').status, 'ok');
    assert.equal(judgeWebhookUrl('http://localhost:4000/services/hook').status, 'ok');
    const clear = judgeWebhookUrl('http://hooks.slack.com/services/T/B/secretpart');
    assert.equal(clear.status, 'problem');
    assert.match(clear.detail, /not https/);
  });

  it('refuses a hooks.slack.com URL without a webhook path', () => {
    assert.equal(judgeWebhookUrl('https://hooks.slack.com/').status, 'problem');
  });

  it('never shows the path, where the secret is', () => {
    for (const url of [
      'https://hooks.slack.com/services/T/B/secretpart',
      'http://hooks.slack.com/services/T/B/secretpart',
      'https://hooks.slack.com/secretpart',
    ]) {
      const r = judgeWebhookUrl(url);
      assert.ok(!`${r.detail} ${r.fix ?? ''}`.includes('secretpart'), url);
    }
  });
});
