/**
 * send_email_report: the daily report about the batch date, sent over SMTP (Gmail by default).
 * renderReport is the same content without sending (`pothole report preview`).
 */
import crypto from 'node:crypto';
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import nodemailer, { type Transporter } from 'nodemailer';
import type pg from 'pg';
import type { EmailConfig } from '../../config';
import { validateBatchDate } from '../../shared/steps';
import type { EmailReportInput, EmailReportResult, QualityFindings } from '../../shared/types';
import type { RunCost } from '../../cost/run-cost';
import type { MonthToDate } from '../../cost/from-temporal';
import { errorMessage } from '../activity-support';
import type { ReportCost } from './cost';
import { loadReportData } from './queries';
import { renderReportContent, type RenderedReport } from './render';

export type { RenderedReport } from './render';

export async function renderReport(
  pool: pg.Pool,
  batchDate: string,
  quality?: QualityFindings,
): Promise<RenderedReport> {
  return renderReportContent(await loadReportData(pool, batchDate), quality);
}

/**
 * Derived from the date and the report's content: every attempt and every rerun that would send the same
 * report uses the same Message-ID (recorded once accepted, and what mail clients de-duplicate on), while a
 * report whose content changed (the date was reloaded with other data) is a new message.
 */
export function reportMessageId(batchDate: string, report: RenderedReport): string {
  const digest = crypto
    .createHash('sha256')
    .update(report.subject)
    .update('\0')
    .update(report.text)
    .update('\0')
    .update(report.html)
    .digest('hex')
    .slice(0, 24);
  return `<pothole-report-${batchDate}-${digest}@pothole-pipeline>`;
}

/** The earlier delivery of this report, if an SMTP server accepted it. */
async function findDelivery(
  pool: pg.Pool,
  batchDate: string,
  messageId: string,
): Promise<EmailReportResult['alreadySent']> {
  const { rows } = await pool.query<{
    accepted_at: Date;
    recipients: string[];
    workflow_id: string;
    run_id: string;
  }>(
    `SELECT accepted_at, recipients, workflow_id, run_id FROM report_deliveries
      WHERE batch_date = $1 AND message_id = $2`,
    [batchDate, messageId],
  );
  const r = rows[0];
  return r
    ? {
        acceptedAt: r.accepted_at.toISOString(),
        recipients: r.recipients,
        workflowId: r.workflow_id,
        runId: r.run_id,
      }
    : undefined;
}

export function createTransportFromConfig(email: EmailConfig): Transporter {
  const { smtp } = email;
  return nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    // Revealed here, at the edge: the password only ever lives in the SMTP client.
    auth: smtp.user && smtp.password ? { user: smtp.user, pass: smtp.password.reveal() } : undefined,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
}

/** nodemailer's codes for a server that cannot be reached or dropped the connection. */
const SMTP_UNAVAILABLE_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ECONNREFUSED']);

export interface ReportDeps {
  pool: pg.Pool;
  config: { email: EmailConfig };
  /** For tests or a shared transport; built from config.email when absent. */
  transport?: Transporter;
  /** This month's runs added up with the given run's figure (Temporal); without it the footer has no total. */
  monthToDate?: (current: { runId: string; cost: RunCost }) => Promise<MonthToDate>;
}

export function createReportActivities(deps: ReportDeps) {
  const { pool, config } = deps;
  let transport = deps.transport;

  async function send_email_report(input: EmailReportInput): Promise<EmailReportResult> {
    const batchDate = validateBatchDate(input.batchDate);
    if (typeof batchDate !== 'string') {
      throw ApplicationFailure.nonRetryable(batchDate.error, 'InvalidBatchDate');
    }
    const recipients = config.email.to;
    if (recipients.length === 0) {
      throw ApplicationFailure.nonRetryable('REPORT_EMAIL lists no recipient', 'BadConfiguration');
    }
    const data = await loadReportData(pool, batchDate);
    // The Message-ID comes from the report without its cost footer: a rerun or a retry that would send the same
    // report is still recognised when the month's total has moved on.
    const messageId = reportMessageId(batchDate, renderReportContent(data, input.quality));
    const earlier = await findDelivery(pool, batchDate, messageId);
    if (earlier && !input.resend) {
      log.info('this report was already accepted by the SMTP server; not sending it again', {
        batchDate,
        messageId,
        acceptedAt: earlier.acceptedAt,
      });
      return { messageId, recipients: earlier.recipients, sent: false, alreadySent: earlier };
    }
    const report = renderReportContent(data, input.quality, await reportCost(input));
    transport ??= createTransportFromConfig(config.email);
    let accepted: string[];
    try {
      const info = await transport.sendMail({
        from: config.email.from,
        to: recipients,
        subject: report.subject,
        html: report.html,
        text: report.text,
        messageId,
        headers: { 'X-Pothole-Batch-Date': batchDate, 'X-Pothole-Workflow-Id': input.workflowId },
      });
      const address = (a: unknown) => (typeof a === 'string' ? a : (a as { address: string }).address);
      accepted = ((info.accepted ?? []) as unknown[]).map(address);
      const rejected = ((info.rejected ?? []) as unknown[]).map(address);
      if (rejected.length > 0) {
        log.warn('some report recipients were refused', { batchDate, rejected });
      }
    } catch (err) {
      const e = err as { code?: string; responseCode?: number; message: string };
      const server = `${config.email.smtp.host}:${config.email.smtp.port}`;
      if (
        SMTP_UNAVAILABLE_CODES.has(e.code ?? '') ||
        (e.responseCode !== undefined && e.responseCode >= 400 && e.responseCode < 500)
      ) {
        throw ApplicationFailure.retryable(
          `SMTP server ${server} is unavailable: ${e.message}`,
          'SmtpUnavailable',
        );
      }
      if (e.code === 'EAUTH') {
        throw ApplicationFailure.nonRetryable(
          `SMTP login to ${config.email.smtp.host} refused (${e.message}); check GMAIL_ADDRESS/GMAIL_PASSWORD ` +
            `or SMTP_USER/SMTP_PASSWORD (Gmail needs an app password)`,
          'SmtpAuthFailed',
        );
      }
      if (
        e.code === 'EENVELOPE' ||
        (e.responseCode !== undefined && e.responseCode >= 550 && e.responseCode < 560)
      ) {
        throw ApplicationFailure.nonRetryable(
          `SMTP server refused the report (${e.message}); check REPORT_FROM and REPORT_EMAIL`,
          'SmtpRefused',
        );
      }
      throw err;
    }
    // Recorded once accepted: a rerun of the date finds it and does not deliver the report again.
    await pool.query(
      `INSERT INTO report_deliveries (batch_date, message_id, recipients, workflow_id, run_id)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (batch_date, message_id)
       DO UPDATE SET recipients = EXCLUDED.recipients, accepted_at = now(),
                     workflow_id = EXCLUDED.workflow_id, run_id = EXCLUDED.run_id`,
      [batchDate, messageId, accepted, input.workflowId, input.runId],
    );
    log.info('daily report sent', { batchDate, messageId, recipients: accepted });
    return { messageId, recipients: accepted, sent: true };
  }

  /** The footer's figures; a month-to-date total that cannot be read never holds the report up. */
  async function reportCost(input: EmailReportInput): Promise<ReportCost | undefined> {
    if (!input.cost) return undefined;
    if (!deps.monthToDate) return { run: input.cost };
    const current = { runId: input.runId, cost: input.cost };
    const monthToDate = await deps.monthToDate(current).catch((err: unknown) => {
      log.warn('the month-to-date cost could not be read', { error: errorMessage(err) });
      return { error: firstLine(errorMessage(err)) };
    });
    return { run: input.cost, monthToDate };
  }

  return { send_email_report };
}

const firstLine = (s: string) => (s.split('\n')[0] ?? '').slice(0, 200);
