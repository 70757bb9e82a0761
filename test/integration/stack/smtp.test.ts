import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { findMailByMessageId, stackConfig, stackValue, uniqueName } from '../../support/stack';
import fs from 'node:fs';

test('a message sent with nodemailer is kept by the SMTP sink as an .eml file and parses back whole', async () => {
  const { email } = stackConfig(['email']);
  const mailDir = stackValue('MAIL_DIR');
  const transport = nodemailer.createTransport({
    host: email.smtp.host,
    port: email.smtp.port,
    secure: email.smtp.security === 'tls',
    ignoreTLS: email.smtp.security === 'none',
    connectionTimeout: 5_000,
  });
  const subject = `[pothole] ${uniqueName('smoke')} 도로 파손 보고`;
  const sentAt = Date.now();
  try {
    const info = await transport.sendMail({
      from: email.from,
      to: email.to,
      subject,
      text: 'plain body',
      html: '<p>html body</p>',
      attachments: [{ filename: 'top10.csv', content: 's_id,impact_count\na,3\n' }],
    });
    assert.match(info.response, /^250 /);
    assert.deepEqual(info.accepted, email.to);

    const file = await findMailByMessageId(mailDir, info.messageId, { sinceMs: sentAt });
    assert.match(file, /\/\d{4}-\d\d-\d\dT[\d-]+Z-[0-9a-f]{8}\.eml$/);
    const parsed = await simpleParser(fs.readFileSync(file));
    assert.equal(parsed.subject, subject);
    assert.equal(parsed.from?.value[0]?.address, email.from);
    assert.equal(parsed.text?.trim(), 'plain body');
    assert.equal(parsed.html, '<p>html body</p>');
    assert.deepEqual(
      parsed.attachments.map((a) => [a.filename, a.content.toString()]),
      [['top10.csv', 's_id,impact_count\na,3\n']],
    );
    fs.rmSync(file);
  } finally {
    transport.close();
  }
});
