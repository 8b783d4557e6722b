import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_HTML_HEADERS } from '../../query/analytics/report-routes.js';
import { availabilityGeometry, budgetGeometry, COLOURS, LAYOUT, p99Geometry } from '../../query/analytics/slo-report-html.js';
import type { SloReportData } from '../../query/analytics/slo-report.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { clickhouseUrl } from '../setup/services.js';
import { runCli } from '../cli/run-cli.js';
import { HOUR_MS, pastHour, postAll, traffic } from './analytics-data.js';
import type { Endpoint } from './analytics-data.js';
import { countColour, decodePng, pixel } from './png-decode.js';
import type { Image } from './png-decode.js';

/**
 * `ssf analytics slo-report` over traffic that went through the real
 * gateway: the text and JSON numbers against a reference computed here from
 * the generated spans, and the HTML page rendered by headless Chromium, its
 * screenshot decoded to check that the charts' marks are where they belong
 * (and absent from the page of a tenant without data).
 */

const H0 = pastHour(3);
const OBJECTIVE = 0.95;
const PER_ENDPOINT = 200;
const ENDPOINTS: Endpoint[] = [
  { service: 'web', name: 'GET /', indicator: true, failEvery: 10, durationsMs: [4, 6, 9, 30] },
  { service: 'web', name: 'GET /static', indicator: false, failEvery: 0, durationsMs: [1.5, 2.5] },
  { service: 'api', name: 'POST /pay', indicator: false, failEvery: 4, durationsMs: [40, 60, 250] },
  { service: 'api', name: 'GET /status', indicator: false, failEvery: 50, durationsMs: [3, 5] },
  { service: 'api', name: 'GET /orders', indicator: false, failEvery: 8, durationsMs: [15, 20, 120] },
  { service: 'cache', name: 'get', indicator: false, failEvery: 40, durationsMs: [1.2, 1.4] },
  { service: 'db', name: 'query', indicator: false, failEvery: 0, durationsMs: [7, 11, 80] },
];

let aio: AllInOne;
let work: string;
let spans: SpanEvent[];

const cli = (args: string[]) => runCli(['analytics', 'slo-report', ...args, '--clickhouse-url', clickhouseUrl(), '--database', aio.ch.database], {}, 60_000);
const range = () => ['--from', new Date(H0).toISOString(), '--to', new Date(H0 + 2 * HOUR_MS).toISOString()];

// --- the reference ------------------------------------------------------------

const durationMs = (s: SpanEvent): number => Number(s.endTimestamp - s.startTimestamp) / 1e6;
/** ClickHouse's quantileDD picks the value of rank floor(q * (n - 1)); the sketch answers it within 1 %. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

interface Reference {
  service: string;
  sli: 'indicator' | 'spans';
  total: number;
  bad: number;
  availability: number;
  budgetRemaining: number;
  burnRate: number;
  p50: number;
  p99: number;
  worstByErrors: string[];
  worstByP99: string[];
}

function reference(): Reference[] {
  const services = [...new Set(spans.map((s) => s.service))].sort();
  return services.map((service) => {
    const own = spans.filter((s) => s.service === service);
    const indicator = own.filter((s) => s.indicator);
    const counted = indicator.length > 0 ? indicator : own;
    const total = counted.length;
    const bad = counted.filter((s) => s.error).length;
    const endpoints = [...new Set(own.map((s) => s.name))].map((name) => {
      const of = own.filter((s) => s.name === name);
      return { name, errorRate: of.filter((s) => s.error).length / of.length, p99: quantile(of.map(durationMs), 0.99) };
    });
    return {
      service,
      sli: indicator.length > 0 ? 'indicator' : 'spans',
      total,
      bad,
      availability: (total - bad) / total,
      budgetRemaining: 1 - bad / ((1 - OBJECTIVE) * total),
      burnRate: bad / total / (1 - OBJECTIVE),
      p50: quantile(own.map(durationMs), 0.5),
      p99: quantile(own.map(durationMs), 0.99),
      worstByErrors: endpoints
        .filter((e) => e.errorRate > 0)
        .sort((a, b) => b.errorRate - a.errorRate)
        .map((e) => e.name),
      worstByP99: endpoints.sort((a, b) => b.p99 - a.p99).map((e) => e.name),
    };
  });
}

// --- the screenshot -----------------------------------------------------------

function screenshot(html: string, png: string): Image {
  const r = spawnSync(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      '--force-device-scale-factor=1',
      `--screenshot=${png}`,
      `--window-size=${LAYOUT.pageWidth},1600`,
      `file://${html}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr}`);
  return decodePng(readFileSync(png));
}

beforeAll(async () => {
  aio = await startAllInOne('analytics_slo', { SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokB=globex' });
  work = mkdtempSync(join(tmpdir(), 'ssf-slo-'));
  spans = traffic(ENDPOINTS, H0, H0 + 2 * HOUR_MS, PER_ENDPOINT, 5);
  await postAll(aio.post, spans, 'tokA');
  // Another tenant's failures must not show in acme's report.
  await postAll(
    aio.post,
    traffic([{ service: 'web', name: 'GET /', indicator: true, failEvery: 1, durationsMs: [500] }], H0, H0 + 2 * HOUR_MS, 100, 6),
    'tokB',
  );
});

afterAll(async () => {
  await aio?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('ssf analytics slo-report', () => {
  let report: SloReportData;

  it('answers per service the numbers of a reference computed from the spans sent (JSON)', async () => {
    const r = await cli([...range(), '--objective', String(OBJECTIVE), '--tenant', 'acme', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    report = JSON.parse(r.stdout) as SloReportData;
    expect(report).toMatchObject({
      tenant: 'acme',
      objective: OBJECTIVE,
      from: new Date(H0).toISOString().replace('.000', ''),
      to: new Date(H0 + 2 * HOUR_MS).toISOString().replace('.000', ''),
    });
    const ref = reference();
    expect(report.services.map((s) => s.service)).toEqual(ref.map((s) => s.service));
    for (const want of ref) {
      const got = report.services.find((s) => s.service === want.service);
      expect(got).toMatchObject({ sli: want.sli, total: want.total, bad: want.bad, meets_objective: want.availability >= OBJECTIVE });
      expect(got?.availability).toBeCloseTo(want.availability, 12);
      expect(got?.error_budget).toBeCloseTo((1 - OBJECTIVE) * want.total, 9);
      expect(got?.budget_remaining).toBeCloseTo(want.budgetRemaining, 9);
      expect(got?.burn_rate).toBeCloseTo(want.burnRate, 9);
      expect(Math.abs((got?.p50_ms ?? 0) / want.p50 - 1)).toBeLessThanOrEqual(0.0101);
      expect(Math.abs((got?.p99_ms ?? 0) / want.p99 - 1)).toBeLessThanOrEqual(0.0101);
      expect(got?.worst_by_error_rate.map((e) => e.name)).toEqual(want.worstByErrors);
      expect(got?.worst_by_p99.map((e) => e.name)).toEqual(want.worstByP99);
    }
    // p99 over time: every service has points, and the slowest service's line stays near its p99.
    expect(report.p99_series.series.map((s) => s.service).sort()).toEqual(ref.map((s) => s.service));
    for (const s of report.p99_series.series) {
      expect(s.points.length).toBeGreaterThan(20);
      for (const [t] of s.points) expect(t).toBeGreaterThanOrEqual(H0);
    }
  });

  it('prints the same numbers as text', async () => {
    const r = await cli([...range(), '--objective', String(OBJECTIVE), '--tenant', 'acme']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`SLO report, tenant acme: ${new Date(H0).toISOString().replace('.000', '')}`);
    for (const want of reference()) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`${want.service} `));
      const cells = (line ?? '').trim().split(/\s{2,}/);
      expect(cells.slice(0, 5)).toEqual([want.service, want.sli, String(want.total), String(want.bad), `${(want.availability * 100).toFixed(3)}%`]);
      expect(cells[10]).toBe(want.availability >= OBJECTIVE ? 'met' : 'MISSED');
      expect(r.stdout).toContain(`${want.service}: worst endpoints`);
    }
  });

  it('draws the charts of a self-contained HTML page, as Chromium renders it', async () => {
    const file = join(work, 'report.html');
    const r = await cli([...range(), '--objective', String(OBJECTIVE), '--tenant', 'acme', '--format', 'html', '--out', file]);
    expect(r.code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html.match(/<script|<link|@import|url\(|https?:\/\//i)).toBeNull();
    expect((html.match(/<svg /g) ?? []).length).toBe(3);

    const img = screenshot(file, join(work, 'report.png'));
    if (process.env['KEEP_SCREENSHOT']) writeFileSync(process.env['KEEP_SCREENSHOT'], readFileSync(join(work, 'report.png')));
    expect([img.width, img.height]).toEqual([LAYOUT.pageWidth, 1600]);
    const ref = reference();
    const at =
      (top: number) =>
      (x: number, y: number): string =>
        pixel(img, LAYOUT.left + x, top + y);

    // Availability: one bar per service, green when it meets the objective, red when not; the objective line across.
    const availability = availabilityGeometry(report);
    expect(availability.bars.map((b) => b.service)).toEqual(ref.map((s) => s.service));
    for (const bar of availability.bars) {
      const want = ref.find((s) => s.service === bar.service) as Reference;
      const colour = want.availability >= OBJECTIVE ? COLOURS.met : COLOURS.missed;
      expect(at(LAYOUT.availabilityTop)(bar.x + bar.width / 2, bar.y + bar.height * 0.75), bar.service).toBe(colour);
    }
    const lineY = LAYOUT.availabilityTop + availability.objectiveY;
    const plotWidth = LAYOUT.chartWidth - LAYOUT.plot.left - LAYOUT.plot.right;
    expect(
      countColour(img, COLOURS.objective, LAYOUT.left + LAYOUT.plot.left, lineY - 2, LAYOUT.left + LAYOUT.plot.left + plotWidth, lineY + 3),
    ).toBeGreaterThan(plotWidth * 1.5);
    expect(countColour(img, COLOURS.met, 0, 0, img.width, LAYOUT.availabilityTop)).toBe(0);
    expect(countColour(img, COLOURS.met, 0, LAYOUT.availabilityTop + LAYOUT.chartHeight, img.width, img.height)).toBe(0);

    // p99 over time: each service's line passes through its points (where no line drawn after it covers them), inside the chart only.
    const p99 = p99Geometry(report);
    for (const [i, line] of p99.lines.entries()) {
      const later = p99.lines.slice(i + 1).flatMap((l) => l.points);
      const visible = line.points.filter(([x, y]) => !later.some(([lx, ly]) => Math.abs(lx - x) < 10 && Math.abs(ly - y) < 10));
      expect(visible.length, line.service).toBeGreaterThanOrEqual(5);
      const hits = visible.filter(([x, y]) => at(LAYOUT.p99Top)(x, y) === line.colour).length;
      expect(hits / visible.length, line.service).toBeGreaterThan(0.9);
      expect(countColour(img, line.colour, 0, 0, img.width, LAYOUT.p99Top)).toBe(0);
      expect(countColour(img, line.colour, 0, LAYOUT.p99Top + LAYOUT.chartHeight, img.width, img.height)).toBe(0);
    }

    // Error budget left: blue to the right of zero when some is left, orange to the left when overspent.
    const budget = budgetGeometry(report);
    for (const bar of budget.bars) {
      const want = ref.find((s) => s.service === bar.service) as Reference;
      const colour = want.budgetRemaining >= 0 ? COLOURS.budgetLeft : COLOURS.budgetOverspent;
      const middle = at(LAYOUT.budgetTop)(bar.x + bar.width / 2, bar.y + bar.height / 2);
      expect(middle, bar.service).toBe(colour);
      // The bar's length: from the zero line to the share of the budget left (clamped to 100 %).
      const reach = (Math.max(-1, Math.min(1, want.budgetRemaining)) * plotWidth) / 2;
      const inside = budget.zeroX + reach * 0.9;
      const outside = budget.zeroX + reach + Math.sign(reach || 1) * 6;
      expect(at(LAYOUT.budgetTop)(inside, bar.y + bar.height / 2), bar.service).toBe(colour);
      if (Math.abs(want.budgetRemaining) < 0.95) expect(at(LAYOUT.budgetTop)(outside, bar.y + bar.height / 2), bar.service).not.toBe(colour);
    }
    expect(countColour(img, COLOURS.budgetOverspent, 0, 0, img.width, LAYOUT.budgetTop)).toBe(0);
    expect(countColour(img, COLOURS.budgetLeft, 0, LAYOUT.budgetTop, img.width, LAYOUT.budgetTop + LAYOUT.chartHeight)).toBeGreaterThan(1000);
  });

  it('serves the HTML page from the API with a policy that runs no script, frames nothing and sniffs nothing', async () => {
    const [, from, , to] = range();
    const res = await fetch(`${aio.http}/v1/reports/slo?${new URLSearchParams({ format: 'html', from: from as string, to: to as string })}`, {
      headers: { authorization: 'Bearer tokA' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(REPORT_HTML_HEADERS['content-security-policy']);
    expect(res.headers.get('content-security-policy')).not.toMatch(/script-src/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(await res.text()).toContain('<svg ');
  });

  it('draws none of those marks for a tenant without data (the blank control)', async () => {
    const file = join(work, 'blank.html');
    const r = await cli([...range(), '--objective', String(OBJECTIVE), '--tenant', 'nobody', '--format', 'html', '--out', file]);
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('No spans in this range.');
    const img = screenshot(file, join(work, 'blank.png'));
    for (const colour of [COLOURS.met, COLOURS.missed, COLOURS.objective, COLOURS.budgetLeft, COLOURS.budgetOverspent, ...COLOURS.series]) {
      expect(countColour(img, colour), colour).toBe(0);
    }
    // Something was rendered: the header's text is there (dark pixels).
    expect(countColour(img, '#ffffff')).toBeLessThan(img.width * img.height);
  });

  it.each([
    [['--from', 'now-1h'], /--to is required/],
    [['--from', 'now-1h', '--to', 'now', '--objective', '1.5'], /--objective must be in \(0, 1\)/],
    [['--from', 'now-1h', '--to', 'now', '--format', 'pdf'], /--format is text, json or html/],
    [['--from', 'yesterday', '--to', 'now'], /--from "yesterday" is not a time/],
    [['--from', 'now-1h', '--to', 'now', 'extra'], /unexpected argument "extra"/],
  ])('refuses bad arguments with exit 2: %j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
