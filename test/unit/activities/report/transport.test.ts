import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Secret, type EmailConfig } from '../../../../src/config';
import { createTransportFromConfig } from '../../../../src/activities/report';

const email = (smtp: Partial<EmailConfig['smtp']>): EmailConfig => ({
  from: 'pipeline@example.com',
  to: ['a@example.com'],
  smtp: {
    host: 'smtp.gmail.com',
    port: 587,
    security: 'starttls',
    user: undefined,
    password: undefined,
    ...smtp,
  },
});

const optionsOf = (config: EmailConfig) =>
  (createTransportFromConfig(config) as unknown as { options: Record<string, unknown> }).options;

test('starttls (the Gmail default) requires the upgrade on a plain connection', () => {
  const o = optionsOf(email({ user: 'me@gmail.com', password: new Secret('app-password') }));
  assert.equal(o.secure, false);
  assert.equal(o.requireTLS, true);
  assert.deepEqual(o.auth, { user: 'me@gmail.com', pass: 'app-password' });
});

test('tls connects over TLS from the start', () => {
  const o = optionsOf(email({ port: 465, security: 'tls' }));
  assert.equal(o.secure, true);
  assert.equal(o.requireTLS, false);
});

test('none neither requires nor attempts TLS, and logs in only with both user and password', () => {
  const o = optionsOf(email({ host: '127.0.0.1', port: 2525, security: 'none', user: 'only-user' }));
  assert.equal(o.secure, false);
  assert.equal(o.ignoreTLS, true);
  assert.equal(o.auth, undefined);
});
