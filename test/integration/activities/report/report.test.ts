/**
 * send_email_report against the local PostgreSQL (throwaway database) and the stack's SMTP sink:
 * the message is read back from MAIL_DIR and parsed with mailparser.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { loadConfig, type Config } from '../../../../src/config';
import { createReportActivities, renderReport, reportMessageId } from '../../../../src/activities/report';
import type { QualityFindings } from '../../../../src/shared/types';
import {
  createThrowawayDatabase,
  insertSegments,
  runActivity,
  stackEnv,
  stepInput,
  type ThrowawayDatabase,
} from '../serving-support';
import { deliveredCopies } from '../../../support/stack';

/** Mail delivered before this file started (earlier runs of the suite) is not counted. */
const fileStarted = Date.now();

let db: ThrowawayDatabase;
let email: Config['email'];
let mailDir: string;

const BATCH = '2026-03-10';
const LATER = '2026-03-12';
const SCRIPT_ROAD = '<script>alert("x")</script>세종대로';

const dayBefore = (n: number) => {
  const d = new Date(`${BATCH}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
};

async function findMessage(messageId: string, timeoutMs = 15_000): Promise<ParsedMail> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<string>();
  while (Date.now() < deadline) {
    for (const file of fs.readdirSync(mailDir).filter((f) => f.endsWith('.eml') && !seen.has(f))) {
      const raw = fs.readFileSync(path.join(mailDir, file));
      if (!raw.includes(messageId)) continue;
      seen.add(file);
      const parsed = await simpleParser(raw);
      if (parsed.messageId === messageId) return parsed;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no message ${messageId} arrived in ${mailDir}`);
}

const addresses = (a: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((x) => x.value.map((v) => v.address));

before(async () => {
  const env = stackEnv();
  mailDir = env.MAIL_DIR ?? '';
  assert.ok(mailDir && fs.existsSync(mailDir), 'MAIL_DIR of the local stack exists');
  email = loadConfig(['email'], {
    ...env,
    REPORT_EMAIL: 'road-manager@localhost, chief-engineer@localhost',
  }).email;
  db = await createThrowawayDatabase('report');
  const rows: Parameters<typeof insertSegments>[1] = [];
  // History: SEG_C averages 2 impacts over its 7 previous days, SEG_D averages 10.
  for (let n = 1; n <= 7; n++) {
    rows.push({ s_id: 'SEG_C', date: dayBefore(n), impact_count: 2, total_count: 100 });
    rows.push({ s_id: 'SEG_D', date: dayBefore(n), impact_count: 10, total_count: 100 });
  }
  rows.push({ s_id: 'SEG_A', date: dayBefore(1), impact_count: 30, total_count: 200 });
  // The batch date.
  const today = [
    { s_id: 'SEG_A', impact: 40 }, // grade 5 → 40 + 50 = 90; road name with <script>
    { s_id: 'SEG_B', impact: 5 }, // 2 complaints, grade 3 → 5 + 100 + 30 = 135
    { s_id: 'SEG_C', impact: 9 }, // grade 1 → 9 + 10 = 19; worsening 9 vs 2
    { s_id: 'SEG_D', impact: 12 }, // grade unknown → 12 + 30 = 42; 12 vs 10: not worsening
    { s_id: 'SEG_E', impact: 0 }, // grade 4 → 40
    { s_id: 'SEG_F', impact: 1 }, // grade unknown → 31
  ];
  for (const t of today) rows.push({ s_id: t.s_id, date: BATCH, impact_count: t.impact, total_count: 120 });
  // A later date with a different leader: the report for BATCH must not show it.
  rows.push({ s_id: 'SEG_Z', date: LATER, impact_count: 999, total_count: 1000 });
  await insertSegments(db.pool, rows);
  await db.pool.query(
    `INSERT INTO segment_address (s_id, road_name, district, centroid_lon, centroid_lat) VALUES
    ('SEG_A', $1, '중구', 126.97, 37.56), ('SEG_B', '종로', '종로구', 126.98, 37.57),
    ('SEG_C', '을지로', '중구', 126.99, 37.566), ('SEG_Z', '테헤란로', '강남구', 127.03, 37.5)`,
    [SCRIPT_ROAD],
  );
  await db.pool.query(`INSERT INTO segment_road_grade (s_id, link_id, road_grade) VALUES
    ('SEG_A', 'L1', 5), ('SEG_B', 'L2', 3), ('SEG_C', 'L3', 1), ('SEG_E', 'L5', 4)`);
  await db.pool
    .query(`INSERT INTO pothole_complaints (create_dt, event_lat, event_lon, nearest_s_id, distance_m) VALUES
    ('2026-03-01', 37.57, 126.98, 'SEG_B', 4.2), ('2026-03-02', 37.5701, 126.9801, 'SEG_B', 6.0)`);
});

after(async () => {
  await db?.drop();
});

const quality: QualityFindings = {
  impactExceedsTotal: 3,
  emptySegmentId: 1,
  previousRowCount: 2,
  rowCountChange: 2,
  warnings: ['impact_count가 total_count보다 큰 행 3건', '행 수 급변: 6건 <b>+200%</b>'],
};

describe('send_email_report', () => {
  let mail: ParsedMail;
  let result: Awaited<ReturnType<ReturnType<typeof createReportActivities>['send_email_report']>>;
  const input = { ...stepInput(BATCH), quality };

  before(async () => {
    const { send_email_report } = createReportActivities({ pool: db.pool, config: { email } });
    result = await runActivity(send_email_report, input);
    mail = await findMessage(result.messageId);
  });

  test('the SMTP endpoint receives the Korean subject for the batch date', () => {
    assert.equal(mail.subject, `[포트홀 탐지] 일일 리포트 - ${BATCH}`);
    assert.equal(result.sent, true);
  });

  test('every configured recipient receives it, from the configured sender', () => {
    assert.deepEqual(addresses(mail.to).sort(), ['chief-engineer@localhost', 'road-manager@localhost']);
    assert.deepEqual(result.recipients.sort(), ['chief-engineer@localhost', 'road-manager@localhost']);
    assert.deepEqual(addresses(mail.from), [email.from]);
  });

  test('the Message-ID is derived from the date and the report content', async () => {
    const report = await renderReport(db.pool, BATCH, quality);
    assert.equal(mail.messageId, reportMessageId(BATCH, report));
  });

  test('the top 5 repair priorities of the batch date are listed in rank order, in both parts', () => {
    const html = String(mail.html);
    const order = ['SEG_B', 'SEG_A', 'SEG_D', 'SEG_E', 'SEG_F'];
    const positions = order.map((s) => html.indexOf(`${s} ·`));
    assert.ok(
      positions.every((p) => p > 0),
      `all of ${order.join(', ')} in the HTML`,
    );
    assert.deepEqual(
      [...positions].sort((a, b) => a - b),
      positions,
    );
    assert.ok(!html.includes('SEG_C ·'), 'the 6th segment is not in the top 5');
    assert.ok(!html.includes('SEG_Z'), 'a later date does not leak into the report');
    const text = mail.text ?? '';
    assert.match(text, /^1\. 종로 \(37\.50000, 127\.00000\) 종로구 - 점수 135, 충격 5, 민원 2 \[SEG_B\]$/m);
    assert.match(
      text,
      /^2\. <script>alert\("x"\)<\/script>세종대로 .* - 점수 90, 충격 40, 민원 0 \[SEG_A\]$/m,
    );
    assert.match(text, /^5\. - .* - 점수 31, 충격 1, 민원 0 \[SEG_F\]$/m);
  });

  test('a road name containing <script> is escaped in the HTML', () => {
    const html = String(mail.html);
    assert.ok(!html.includes('<script'), 'no raw <script> in the HTML part');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;세종대로'));
    assert.ok(html.includes('&lt;b&gt;+200%&lt;/b&gt;'), 'quality findings are escaped too');
  });

  test('KPIs, worsening segments, quality findings and the 7-day trend are in the report', () => {
    const text = mail.text ?? '';
    assert.match(text, /총 충격 감지: 67건 \(전일 대비 \+25 \(\+59\.5%\)\)/);
    assert.match(text, /충격 감지 구간: 5개 \/ 전체 6개/);
    assert.match(text, /- SEG_C 을지로 중구: 오늘 9, 평균 2\.0 \(4\.5배\)/);
    assert.ok(!/- SEG_D/.test(text), 'SEG_D (12 vs 10) is not worsening');
    assert.match(text, /impact_count가 total_count보다 큰 행 3건/);
    assert.match(text, new RegExp(`^${dayBefore(6)} .* 12건$`, 'm'));
    assert.match(text, new RegExp(`^${BATCH} #{30} 67건$`, 'm'));
    const html = String(mail.html);
    assert.ok(!/<img|https?:\/\//i.test(html), 'no images and no external resources');
    assert.match(html, /background:#cf222e/, 'the batch date has a drawn bar');
  });

  test('the same report for the date, from another run, is not delivered again; resend delivers it', async () => {
    // The rerun's cost footer (its cluster time, the month's total) differs: the report is still the same one.
    const { send_email_report } = createReportActivities({
      pool: db.pool,
      config: { email },
      monthToDate: async () => ({
        month: '2026-02',
        total: { clusterUpSeconds: 900, clusterCostUsd: 1.5, runs: 3, unknown: 0 },
      }),
    });
    const rerun = { ...stepInput(BATCH), quality, cost: { clusterUpSeconds: 600, clusterCostUsd: 0.5 } };
    const again = await runActivity(send_email_report, rerun);
    assert.equal(again.messageId, result.messageId);
    assert.equal(again.sent, false);
    assert.equal(again.alreadySent?.runId, input.runId);
    assert.deepEqual(again.alreadySent?.recipients.sort(), result.recipients.sort());
    const forced = await runActivity(send_email_report, { ...rerun, resend: true });
    assert.equal(forced.sent, true);
    assert.equal(deliveredCopies(mailDir, result.messageId, fileStarted), 2);
  });
});

describe('renderReport', () => {
  test('renders a date without data without failing', async () => {
    const r = await renderReport(db.pool, '2025-01-01');
    assert.equal(r.subject, '[포트홀 탐지] 일일 리포트 - 2025-01-01');
    assert.match(r.text, /해당 날짜에 적재된 구간이 없습니다/);
    assert.match(r.text, /적재 품질 점검 결과가 전달되지 않았습니다/);
  });
});
