/**
 * The local stack's SMTP endpoint: accepts every message (no TLS, any or no credentials) and keeps it
 * as <timestamp>-<id>.eml in MAIL_DIR, so tests and people can read what the pipeline sent.
 * Started by stack/up.sh; settings from SMTP_SINK_HOST / SMTP_SINK_PORT / MAIL_DIR. With SMTP_SINK_USER and
 * SMTP_SINK_PASSWORD set, it demands that login instead and refuses any other (535), as a real server does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { SMTPServer } from 'smtp-server';

const host = process.env.SMTP_SINK_HOST ?? '127.0.0.1';
const port = Number(process.env.SMTP_SINK_PORT ?? 2525);
const mailDir = path.resolve(process.env.MAIL_DIR ?? '.stack/mail');
const maxBytes = 50 * 1024 * 1024;
const requiredLogin =
  process.env.SMTP_SINK_USER && process.env.SMTP_SINK_PASSWORD
    ? { user: process.env.SMTP_SINK_USER, password: process.env.SMTP_SINK_PASSWORD }
    : undefined;

fs.mkdirSync(mailDir, { recursive: true });

function fileNameFor(id: string): string {
  // Sortable by arrival: 2026-11-26T11-20-03-123Z-<id>.eml
  return `${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.eml`;
}

const server = new SMTPServer({
  name: 'pothole-smtp-sink',
  banner: 'local SMTP sink: every message is kept as an .eml file',
  size: maxBytes,
  authOptional: !requiredLogin,
  allowInsecureAuth: true,
  // Plain SMTP only: advertising STARTTLS would make clients upgrade to a self-signed certificate.
  disabledCommands: ['STARTTLS'],
  onAuth(auth, _session, callback) {
    if (requiredLogin && (auth.username !== requiredLogin.user || auth.password !== requiredLogin.password)) {
      callback(new Error('Invalid username or password'));
      return;
    }
    callback(null, { user: auth.username ?? 'anonymous' });
  },
  onData(stream, session, callback) {
    const id = randomUUID().slice(0, 8);
    const final = path.join(mailDir, fileNameFor(id));
    // Written under a dot name and renamed when complete, so readers never see half a message.
    const partial = path.join(mailDir, `.${id}.partial`);
    const out = fs.createWriteStream(partial);
    stream.pipe(out);
    out.on('error', (err) => callback(err));
    out.on('finish', () => {
      if (stream.sizeExceeded) {
        fs.rmSync(partial, { force: true });
        const err: Error & { responseCode?: number } = new Error(`message exceeds ${maxBytes} bytes`);
        err.responseCode = 552;
        callback(err);
        return;
      }
      fs.renameSync(partial, final);
      const to = session.envelope.rcptTo.map((r) => r.address).join(', ');
      console.log(`${new Date().toISOString()} stored ${path.basename(final)} for ${to}`);
      callback(null, `queued as ${id}`);
    });
  },
});

server.on('error', (err) => console.error(`${new Date().toISOString()} ${err.message}`));
server.listen(port, host, () => console.log(`SMTP sink on ${host}:${port}, writing to ${mailDir}`));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  });
}
