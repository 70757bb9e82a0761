import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  changeText,
  escapeHtml,
  renderReportContent,
  reportSubject,
} from '../../../../src/activities/report/render';
import type { ReportData } from '../../../../src/activities/report/queries';
import { reportMessageId } from '../../../../src/activities/report';

const EVIL = `<img src=x onerror="alert('x')">&`;

function data(over: Partial<ReportData> = {}): ReportData {
  return {
    batchDate: '2026-02-12',
    kpis: {
      segments: 1200,
      totalImpacts: 345,
      activeSegments: 87,
      totalTraffic: 98765,
      previousDate: '2026-02-11',
      previousTotalImpacts: 300,
      previousActiveSegments: null,
    },
    topPriority: [
      {
        rank: 1,
        sId: `S${EVIL}`,
        roadName: EVIL,
        district: EVIL,
        lat: 37.56651,
        lon: 126.97801,
        score: 1234,
        impacts: 1000,
        complaints: 4,
        recurred: false,
      },
      {
        rank: 2,
        sId: 'S2',
        roadName: null,
        district: null,
        lat: null,
        lon: null,
        score: 30,
        impacts: 0,
        complaints: 0,
        recurred: true,
      },
    ],
    worsening: [
      { sId: 'W1', roadName: EVIL, district: '중구', impacts: 30, previousAverage: 10, ratio: 3 },
      { sId: 'W2', roadName: '종로', district: '종로구', impacts: 5, previousAverage: 0, ratio: Infinity },
    ],
    trend: [
      { date: '2026-02-06', impacts: 0, segments: 0 },
      { date: '2026-02-07', impacts: 100, segments: 10 },
      { date: '2026-02-08', impacts: 200, segments: 10 },
      { date: '2026-02-09', impacts: 300, segments: 10 },
      { date: '2026-02-10', impacts: 400, segments: 10 },
      { date: '2026-02-11', impacts: 300, segments: 10 },
      { date: '2026-02-12', impacts: 345, segments: 10 },
    ],
    repairVerdicts: [
      {
        sId: 'R1',
        roadName: EVIL,
        district: '중구',
        verdict: '재발',
        repairedOn: '2026-01-20',
        decidedOn: '2026-02-10',
        before: { days: 14, traffic: 700, impacts: 140, rate: 20 },
        after: { days: 14, traffic: 700, impacts: 126, rate: 18 },
      },
      {
        sId: 'R2',
        roadName: '종로',
        district: '종로구',
        verdict: '효과 확인',
        repairedOn: '2026-02-01',
        decidedOn: '2026-02-12',
        before: { days: 13, traffic: 650, impacts: 130, rate: 20 },
        after: { days: 5, traffic: 250, impacts: 0, rate: 0 },
      },
    ],
    ...over,
  };
}

const quality = {
  impactExceedsTotal: 1,
  emptySegmentId: 0,
  previousRowCount: 10,
  rowCountChange: 0.1,
  warnings: [`경고 ${EVIL}`],
};

describe('report rendering', () => {
  test('the subject is the original Korean one with the batch date', () => {
    assert.equal(reportSubject('2026-02-12'), '[포트홀 탐지] 일일 리포트 - 2026-02-12');
    assert.equal(renderReportContent(data()).subject, '[포트홀 탐지] 일일 리포트 - 2026-02-12');
  });

  test('escapeHtml escapes the five HTML metacharacters', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(escapeHtml(null), '');
  });

  test('every value from the database or the findings is escaped in the HTML', () => {
    const { html } = renderReportContent(data(), quality);
    assert.ok(!html.includes('<img'), 'no injected tag');
    assert.ok(!html.includes(`onerror="`), 'no injected attribute');
    const escaped = escapeHtml(EVIL);
    // road name, district, s_id of the top row, the worsening row, the repair verdict, the quality warning
    assert.ok(html.split(escaped).length - 1 >= 6, 'each occurrence is escaped');
  });

  test('the HTML part uses no images or external resources, and draws the trend with sized cells', () => {
    const { html } = renderReportContent(data(), quality);
    assert.ok(!/<img|url\(|https?:\/\/|<link|<script/i.test(html));
    const widths = [...html.matchAll(/width:(\d+)%;background:#(?:0969da|cf222e)/g)].map((m) => Number(m[1]));
    assert.deepEqual(widths, [25, 50, 75, 100, 75, 86], 'bars proportional to the largest day; none for 0');
  });

  test('the plain-text part carries the KPIs, the top 5, the worsening segments and the findings', () => {
    const { text } = renderReportContent(data(), quality);
    assert.match(text, /총 충격 감지: 345건 \(전일 대비 \+45 \(\+15\.0%\)\)/);
    assert.match(text, /충격 감지 구간: 87개 \/ 전체 1,200개 \(전일 대비 전일 데이터 없음\)/);
    assert.match(text, /^1\. .* \(37\.56651, 126\.97801\) .* - 점수 1,234, 충격 1,000, 민원 4/m);
    assert.match(text, /^2\. - \(-, -\) - - 점수 30/m);
    assert.match(text, /- W1 .*: 오늘 30, 평균 10\.0 \(3\.0배\)/);
    assert.match(text, /- W2 종로 종로구: 오늘 5, 평균 0\.0 \(신규 발생\)/);
    assert.match(text, /^- 경고 /m);
  });

  test('repairs judged in the last 7 days, 재발 marked in the top 5, the same in both parts', () => {
    const { html, text } = renderReportContent(data());
    assert.match(text, /^2\. - .* \[S2\] · 재발$/m, 'the recurred segment is marked, at its rank');
    assert.doesNotMatch(text, /^1\. .* · 재발$/m);
    assert.match(
      text,
      /^- 재발: .* 중구 \[R1\] 보수일 2026-01-20, 보수 전 14일 20\.0% \(충격 140 \/ 통행 700\) → 보수 후 14일 18\.0% \(충격 126 \/ 통행 700\), 판정 2026-02-10$/m,
    );
    assert.match(
      text,
      /^- 효과 확인: 종로 종로구 \[R2\] .* 보수 후 5일 0\.0% \(충격 0 \/ 통행 250\), 판정 2026-02-12$/m,
    );
    assert.ok(html.includes('보수 효과 판정 (최근 7일)'));
    for (const figure of [
      '14일 20.0% (충격 140 / 통행 700)',
      '14일 18.0% (충격 126 / 통행 700)',
      '5일 0.0% (충격 0 / 통행 250)',
    ])
      assert.ok(html.includes(figure), figure);
    const none = renderReportContent(data({ repairVerdicts: [] }));
    assert.match(none.text, /\[보수 효과 판정 \(최근 7일\)\]\n최근 7일 동안 새로 판정된 보수가 없습니다\./);
    assert.match(none.html, /최근 7일 동안 새로 판정된 보수가 없습니다\./);
  });

  test('without quality findings the report says they were not provided; with none, 이상 없음', () => {
    assert.match(renderReportContent(data()).text, /적재 품질 점검 결과가 전달되지 않았습니다/);
    const clean = { ...quality, warnings: [] };
    assert.match(renderReportContent(data(), clean).text, /\[데이터 품질 점검\]\n- 이상 없음/);
  });

  test('an empty day renders without rows', () => {
    const empty = data({
      topPriority: [],
      worsening: [],
      trend: data().trend.map((d) => ({ ...d, impacts: 0 })),
    });
    const { html, text } = renderReportContent(empty);
    assert.match(html, /해당 날짜에 적재된 구간이 없습니다/);
    assert.match(text, /해당 구간 없음/);
  });

  test('changeText shows the signed difference and percentage', () => {
    assert.equal(changeText(120, 100), '+20 (+20.0%)');
    assert.equal(changeText(80, 100), '-20 (-20.0%)');
    assert.equal(changeText(5, 0), '+5');
    assert.equal(changeText(5, null), '전일 데이터 없음');
  });

  test('the Message-ID is the same for the same date and content, whatever the run', () => {
    const report = { subject: 's', html: '<p>h</p>', text: 't' };
    const id = reportMessageId('2026-02-12', report);
    assert.match(id, /^<pothole-report-2026-02-12-[0-9a-f]{24}@pothole-pipeline>$/);
    assert.equal(reportMessageId('2026-02-12', { ...report }), id);
    assert.notEqual(reportMessageId('2026-02-13', report), id);
    assert.notEqual(reportMessageId('2026-02-12', { ...report, text: 't2' }), id);
    assert.notEqual(reportMessageId('2026-02-12', { ...report, html: '<p>h2</p>' }), id);
  });
});

describe("the report's cost footer", () => {
  const run = { clusterUpSeconds: 5415, clusterCostUsd: 4.0125, workers: 4, batchDate: '2026-02-12' };
  const monthToDate = {
    month: '2026-02',
    total: { clusterUpSeconds: 40_000, clusterCostUsd: 29.6, runs: 12, unknown: 1 },
  };

  test("says how long this run's cluster was up, what it cost, and this month's total so far", () => {
    const r = renderReportContent(data(), undefined, { run, monthToDate });
    for (const part of [r.text, r.html]) {
      assert.match(part, /이번 실행 클러스터 가동 1시간 30분 15초, 비용 \$4\.01, 마스터 1대 \+ 워커 4대/);
      assert.match(
        part,
        /2026-02 누계: \$29\.60, 클러스터 가동 11시간 6분 40초 \(실행 12회, 비용 미상 1회 제외\)/,
      );
    }
  });

  test('says so when the run started no cluster, or when the total could not be read', () => {
    const r = renderReportContent(data(), undefined, {
      run: { clusterUpSeconds: 0, clusterCostUsd: 0 },
      monthToDate: { error: 'cannot reach the Temporal server at t:7233 <x>' },
    });
    assert.match(r.text, /이번 실행은 클러스터를 켜지 않았습니다 \(비용 \$0\.00\)/);
    assert.match(
      r.text,
      /이번 달 누계: 집계하지 못했습니다 \(cannot reach the Temporal server at t:7233 <x>\)/,
    );
    assert.match(r.html, /t:7233 &lt;x&gt;/);
  });

  test('an unknown cost shows as "-", and a backfill says its figure is the whole session', () => {
    const r = renderReportContent(data(), undefined, {
      run: { clusterUpSeconds: 65, clusterCostUsd: null, from: '2026-02-01', to: '2026-02-12' },
    });
    assert.match(r.text, /가동 1분 5초, 비용 - \(백필 2026-02-01\.\.2026-02-12 세션 전체\)/);
  });

  test('is absent from a preview', () => {
    const preview = renderReportContent(data());
    assert.doesNotMatch(preview.text, /클러스터 비용|누계/);
    assert.doesNotMatch(preview.html, /클러스터 가동/);
  });
});
