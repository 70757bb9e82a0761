/**
 * send_email_report: the daily report about the batch date, sent over SMTP (Gmail by default).
 * renderReport is the same content without sending (`pothole report preview`).
 */
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import nodemailer, { type Transporter } from 'nodemailer';
import type pg from 'pg';
import type { EmailConfig } from '../../config';
import { validateBatchDate } from '../../steps';
import type { EmailReportInput, EmailReportResult, QualityFindings } from '../../types';
import { loadReportData } from './queries';
import { renderReportContent, type RenderedReport } from './render';

export { escapeHtml, renderReportContent, reportSubject, type RenderedReport } from './render';
export { loadReportData, type ReportData } from './queries';

export async function renderReport(
  pool: pg.Pool,
  batchDate: string,
  quality?: QualityFindings,
): Promise<RenderedReport> {
  return renderReportContent(await loadReportData(pool, batchDate), quality);
}

/**
 * The same for every attempt of one run and date, so a retried send is recognisable as the same
 * message (mail clients and archives de-duplicate on it).
 */
export function reportMessageId(batchDate: string, runId: string): string {
  const run = runId.replace(/[^A-Za-z0-9-]/g, '') || 'manual';
  return `<pothole-report-${batchDate}-${run}@pothole-pipeline>`;
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

export interface ReportDeps {
  pool: pg.Pool;
  config: { email: EmailConfig };
  /** For tests or a shared transport; built from config.email when absent. */
  transport?: Transporter;
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
    const report = await renderReport(pool, batchDate, input.quality);
    const messageId = reportMessageId(batchDate, input.runId);
    transport ??= createTransportFromConfig(config.email);
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
      const accepted = ((info.accepted ?? []) as unknown[]).map(address);
      const rejected = ((info.rejected ?? []) as unknown[]).map(address);
      if (rejected.length > 0) {
        log.warn('some report recipients were refused', { batchDate, rejected });
      }
      log.info('daily report sent', { batchDate, messageId, recipients: accepted });
      return { messageId, recipients: accepted, sent: true };
    } catch (err) {
      const e = err as { code?: string; responseCode?: number; message: string };
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
  }

  return { send_email_report };
}
