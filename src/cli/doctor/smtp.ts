/** Check 8: the SMTP server answers and accepts the login, with the same transport the report is sent with. */
import { createTransportFromConfig } from '../../activities/report';
import { ok, problem, type Check } from './check';

const NAME = 'smtp';
/** nodemailer's codes for a server that cannot be reached or dropped the connection. */
const UNREACHABLE = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ECONNREFUSED']);
const UNREACHABLE_FIX = 'start the SMTP server, or fix SMTP_HOST / SMTP_PORT';

export const smtpCheck: Check = {
  name: NAME,
  needs: ['email'],
  unreachableFix: UNREACHABLE_FIX,
  async run(ctx) {
    const { smtp } = ctx.section('email');
    const server = `${smtp.host}:${smtp.port}`;
    const tls = smtp.security === 'none' ? 'no TLS' : smtp.security;
    const transport = createTransportFromConfig(ctx.section('email'));
    ctx.onClose(() => transport.close());
    try {
      await transport.verify();
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const message = e.message ?? String(err);
      if (e.code === 'EAUTH') {
        return [
          problem(
            NAME,
            `${server} refused the login of ${smtp.user}: ${message}`,
            'check SMTP_USER / SMTP_PASSWORD (or GMAIL_ADDRESS / GMAIL_PASSWORD; Gmail needs an app password)',
          ),
        ];
      }
      if (e.code === 'ETLS' || /TLS|SSL|certificate/i.test(message)) {
        return [
          problem(
            NAME,
            `${server}: ${message}`,
            'fix SMTP_SECURITY (starttls on 587, tls on 465, none only for a local server)',
          ),
        ];
      }
      if (UNREACHABLE.has(e.code ?? '')) {
        return [problem(NAME, `cannot reach ${server}: ${message}`, UNREACHABLE_FIX)];
      }
      return [problem(NAME, `${server}: ${message}`, UNREACHABLE_FIX)];
    }
    return [
      ok(
        NAME,
        smtp.user && smtp.password
          ? `${server} accepted the login of ${smtp.user} (${tls})`
          : `${server} answers (${tls}; no login configured)`,
      ),
    ];
  },
};
