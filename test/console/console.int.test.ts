import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../src/codec/index.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createHttpServer } from '../../src/http/create-http-server.js';
import { registerQueryApi } from '../../query/query-api.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { launchBrowser, looksDrawn, seriousAxeFindings } from './browser.js';
import type { TestBrowser } from './browser.js';
import { bigTrace, checkoutCriticalPath, checkoutTrace, indicatorSpans, KNOWN, knownMetric, MINUTE } from './console-data.js';
import { sendDemoTraffic } from './demo-traffic.js';
import { clickhouseUrl } from '../setup/services.js';

/**
 * The web console in headless Chromium, as a person uses it: pages load
 * from the query API of a real all-in-one pipeline (real ClickHouse), are
 * read, clicked and typed into, screenshot (.cache/console-screenshots/)
 * and checked with axe-core.
 */

const SHOTS = join(process.cwd(), '.cache', 'console-screenshots');
const ROOT = process.cwd();

let known: AllInOne;
let demo: AllInOne;
let browser: TestBrowser;
const DEMO_TOKEN = 'console-demo-token';

async function post(aio: AllInOne, spans: readonly SpanEvent[], token?: string): Promise<void> {
  for (let i = 0; i < spans.length; i += 2000) {
    const res = await aio.post(spans.slice(i, i + 2000), token);
    expect(res.status, await res.clone().text()).toBe(200);
  }
}

async function open(path: string, base = known.http, token?: string, colorScheme: 'light' | 'dark' = 'light'): Promise<{ page: Page; errors: string[] }> {
  const opened = await browser.page({ colorScheme });
  if (token) await opened.page.addInitScript({ content: `sessionStorage.setItem('ssf.console.token', ${JSON.stringify(token)})` });
  await opened.page.goto(`${base}${path}`);
  return opened;
}

/** Saves a screenshot of the page, checks it is not blank, runs axe, checks there were no console errors, closes it. */
async function finish({ page, errors }: { page: Page; errors: string[] }, name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  const png = await page.screenshot();
  writeFileSync(join(SHOTS, `${name}.png`), png);
  expect(looksDrawn(png), `${name}.png is blank`).toBe(true);
  expect(await seriousAxeFindings(page), `axe on ${name}`).toEqual([]);
  expect(errors, `console errors on ${name}`).toEqual([]);
  await page.context().close();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  execFileSync(process.execPath, [join(ROOT, 'query/console/build.mjs')], { stdio: 'pipe' });
  known = await startAllInOne('ssf_console');
  demo = await startAllInOne('ssf_console_demo', { SSF_GATEWAY_AUTH_TOKENS: `${DEMO_TOKEN}=shop` });
  const now = Date.now();
  const minute = Math.floor(now / MINUTE) * MINUTE - 5 * MINUTE;
  await post(known, [...checkoutTrace(now - 4 * MINUTE), ...indicatorSpans(now - 3 * MINUTE), knownMetric(minute)]);
  await post(known, bigTrace(now - 2 * MINUTE));
  await sendDemoTraffic(demo.http, DEMO_TOKEN, 60);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await known?.close();
  await demo?.close();
});

describe('console: data of known shape', () => {
  it('serves index.html for deep links with a CSP, and keeps the API routes', async () => {
    for (const path of ['/', '/traces/abc', '/traces?service=web', '/logs?q=x', '/services', '/slo', '/sql']) {
      const res = await fetch(`${known.http}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    }
    const html = await (await fetch(`${known.http}/metrics`, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain('<div id="app">');
    const prom = await fetch(`${known.http}/metrics`);
    expect(await prom.text()).toContain('# TYPE');
    expect((await fetch(`${known.http}/openapi.json`)).headers.get('content-type')).toContain('application/json');
    expect((await fetch(`${known.http}/v1/traces/zz`)).status).toBe(400);
  });

  it('ssf query-api serves it too (the query API on its own server, standalone)', async () => {
    const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: known.query.context.runner.database } });
    const reader = await createClickHouse(config.clickhouse, { readonlyUser: true });
    const app = createHttpServer({ logLevel: false, bodyLimit: 1_048_576 });
    registerQueryApi(app, config, reader, { standalone: true });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const page = await fetch(`${url}/traces/${KNOWN.traceHex}`);
      expect(page.headers.get('content-type')).toContain('text/html');
      const asset = /src="(\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
      const js = await fetch(`${url}${asset ?? ''}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(js.status).toBe(200);
      expect(js.headers.get('cache-control')).toContain('immutable');
      expect(await (await fetch(`${url}/metrics`)).text()).toContain('ssf_query_requests_total');
      expect(await (await fetch(`${url}/metrics`, { headers: { accept: 'text/html,*/*' } })).text()).toContain('<div id="app">');
      expect((await fetch(`${url}/assets/..%2Fpackage.json`)).status).toBe(404);
    } finally {
      await app.close();
      await reader.close();
    }
  });

  it('GET /v1/logs/histogram counts what GET /v1/logs finds, per bucket, service and severity', async () => {
    const get = async (path: string): Promise<unknown> => (await fetch(`${known.http}${path}`)).json();
    const word = (await get(`/v1/logs/histogram?q=${KNOWN.word}&from=now-1h`)) as {
      total: number;
      step_ms: number;
      buckets: number[][];
      services: unknown[];
      severities: unknown[];
    };
    expect(word.total).toBe(1);
    expect(word.step_ms).toBe(30_000);
    expect(word.buckets).toHaveLength(1);
    expect(word.buckets[0]?.slice(1)).toEqual([1, 1]);
    expect(word.services).toEqual([{ service: 'api', count: 1 }]);
    expect(word.severities).toEqual([{ severity: 'error', count: 1 }]);
    const all = (await get(`/v1/logs/histogram?trace_id=0x${KNOWN.traceHex}&severity=warn`)) as { total: number; severities: unknown[] };
    const listed = (await get(`/v1/logs?trace_id=0x${KNOWN.traceHex}&severity=warn`)) as { logs: unknown[] };
    expect(all.total).toBe(listed.logs.length);
    expect(all.severities).toEqual([
      { severity: 'warn', count: 2 },
      { severity: 'error', count: 1 },
    ]);
    const bad = await fetch(`${known.http}/v1/logs/histogram?q=(oops`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('QUERY_ERR_BAD_REQUEST');
  });

  it('trace page: every span of the known trace, its critical path and its error', async () => {
    const opened = await open(`/traces/${KNOWN.traceHex}`);
    const { page } = opened;
    await page.locator('.wf-row').first().waitFor();
    const spans = await page.locator('.wf-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-span-id')));
    expect(spans).toHaveLength(9);
    const crit = await page.locator('.wf-row.crit').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-span-id')));
    expect(crit).toEqual(checkoutCriticalPath());
    const errors = await page.locator('.wf-row.error').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-span-id')));
    expect(errors).toEqual(['0000000000000006']);
    await expect.poll(() => page.locator('.trace-summary').textContent()).toContain('4 spans');
    // Keyboard: the span list takes focus, arrows move the selection, left folds.
    await page.locator('.wf-scroll').focus();
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowUp');
    expect(await page.locator('.wf-row.selected').getAttribute('data-span-id')).toBe('0000000000000003');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => page.locator('.wf-row').count()).toBe(4);
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.locator('.wf-row').count()).toBe(9);
    // The span's tags and log records; the trace's logs in time order.
    await page.locator('.wf-row', { hasText: 'charge' }).click();
    await expect.poll(() => page.locator('.span-detail').textContent()).toContain(`card declined ${KNOWN.word}`);
    await page.getByRole('tab', { name: /Trace logs/ }).click();
    const lines = await page.locator('.trace-logs li .body').allInnerTexts();
    expect(lines).toEqual(['checkout started', KNOWN.html, 'order created', `card declined ${KNOWN.word}`]);
    await finish(opened, 'trace');
  });

  it('dark colour scheme: the trace and logs pages pass axe too', async () => {
    const trace = await open(`/traces/${KNOWN.traceHex}`, known.http, undefined, 'dark');
    await trace.page.locator('.wf-row').first().waitFor();
    await finish(trace, 'trace-dark');
    const logs = await open(`/logs?q=${KNOWN.word}`, known.http, undefined, 'dark');
    await logs.page.locator('.log-line').first().waitFor();
    await finish(logs, 'logs-dark');
  });

  it('trace page: a 10,000-span trace renders only the rows in view and scrolls to the last span', async () => {
    const opened = await open(`/traces/${KNOWN.bigTraceHex}`);
    const { page } = opened;
    await page.locator('.wf-row').first().waitFor({ timeout: 60_000 });
    expect(await page.locator('.trace-summary').textContent()).toContain('10000');
    const inDom = await page.locator('.wf-row').count();
    expect(inDom).toBeGreaterThan(10);
    expect(inDom).toBeLessThan(200);
    await page.locator('.wf-scroll').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await expect.poll(() => page.locator('.wf-row').last().textContent()).toContain('query 99');
    await finish(opened, 'trace-10k');
  });

  it('logs: a search finds the known line, highlighted, and its trace link opens the trace', async () => {
    const opened = await open('/logs');
    const { page } = opened;
    await page.getByLabel('Log search').fill(KNOWN.word);
    await page.getByLabel('Log search').press('Enter');
    const line = page.locator('.log-line', { hasText: KNOWN.word });
    await line.waitFor();
    await expect.poll(() => page.locator('.log-line').count()).toBe(1);
    expect(await line.locator('mark').textContent()).toBe(KNOWN.word);
    expect(page.url()).toContain(`q=${KNOWN.word}`);
    await expect.poll(() => page.locator('.result-count').textContent()).toContain('1 matching');
    await finish(opened, 'logs-search');
    // The link, in a fresh page (the first was closed by finish).
    const again = await open(`/logs?q=${KNOWN.word}`);
    await again.page.locator('.log-line .trace-link').click();
    await again.page.waitForURL(`**/traces/${KNOWN.traceHex}`);
    await again.page.locator('.wf-row').first().waitFor();
    expect(await again.page.locator('h1').textContent()).toContain('GET /checkout');
    // And back: from the trace to its logs.
    await again.page.getByRole('link', { name: /Logs of this trace/ }).click();
    await again.page.locator('.log-line').first().waitFor();
    expect(await again.page.locator('.log-line .body').allInnerTexts()).toEqual([
      'checkout started',
      KNOWN.html,
      'order created',
      `card declined ${KNOWN.word}`,
    ]);
    await again.page.context().close();
  });

  it('logs: a body that is HTML is shown as text, never run', async () => {
    const opened = await open('/logs?q=onerror');
    const { page } = opened;
    let dialog = false;
    page.on('dialog', (d) => {
      dialog = true;
      void d.dismiss();
    });
    const body = page.locator('.log-line .body').first();
    await body.waitFor();
    expect(await body.textContent()).toBe(KNOWN.html);
    expect(await page.locator('.log-list img').count()).toBe(0);
    await page.waitForTimeout(300);
    expect(dialog).toBe(false);
    await finish(opened, 'logs-html');
  });

  it('metrics: the chart draws the two known series', async () => {
    const opened = await open(`/metrics?name=${KNOWN.metric}&agg=sum&step=1m&group_by=route&from=now-15m`);
    const { page } = opened;
    await page.locator('.chart canvas').first().waitFor();
    expect(await page.getByTestId('metric-info').textContent()).toMatch(/sum per 60 s · source metrics_1m · 2 series · 3 points/);
    const legend = await page.locator('.u-legend .u-series .u-label').allInnerTexts();
    expect(legend).toEqual(expect.arrayContaining(['route=/a', 'route=/b']));
    await finish(opened, 'metrics');
  });

  it('services: the graph has the known edges, the RED table links to traces', async () => {
    const opened = await open('/services');
    const { page } = opened;
    await page.locator('.graph .edge').first().waitFor();
    const edges = await page.locator('.graph .edge').evaluateAll((es) => es.map((e) => e.getAttribute('data-edge')).sort());
    expect(edges).toEqual([...KNOWN.edges].sort());
    const link = page.locator('table.grid a', { hasText: 'db' }).first();
    expect(await link.getAttribute('href')).toBe('/traces?service=db');
    await finish(opened, 'services');
  });

  it('SLOs: the page shows the budget GET /v1/slo answers', async () => {
    const api = (await (await fetch(`${known.http}/v1/slo`)).json()) as {
      services: Array<{ service: string; windows: Array<{ budget_remaining: number | null }> }>;
    };
    const web = api.services.find((s) => s.service === 'web');
    const budget = web?.windows[web.windows.length - 1]?.budget_remaining;
    expect(typeof budget).toBe('number');
    const opened = await open('/slo');
    const { page } = opened;
    const cell = page.locator('tr[data-service="web"] [data-testid="budget"]');
    await cell.waitFor();
    expect(await cell.textContent()).toBe(`${((budget as number) * 100).toFixed(1)}%`);
    expect(await page.locator('tr[data-service="web"] .badge.alert').count()).toBeGreaterThan(0);
    await finish(opened, 'slo');
  });

  it('SQL: runs a query into a grid', async () => {
    const opened = await open('/sql');
    const { page } = opened;
    await page
      .getByLabel('SQL query')
      .fill(
        `SELECT service, count() AS spans FROM spans WHERE trace_id = ${BigInt.asIntN(64, BigInt(`0x${KNOWN.traceHex}`))} GROUP BY service ORDER BY service`,
      );
    await page.getByLabel('SQL query').press('Control+Enter');
    await page.locator('.result-grid tbody tr').first().waitFor();
    expect(await page.locator('.result-grid tbody tr').allInnerTexts()).toEqual(['api\t2', 'cache\t1', 'db\t3', 'web\t3']);
    await finish(opened, 'sql');
  });

  it('traces: search by service and errors only, sortable', async () => {
    const opened = await open('/traces?service=api&error=true');
    const { page } = opened;
    await page.locator('table.grid tbody tr').first().waitFor();
    const ids = await page.locator('table.grid tbody tr td:last-child').allInnerTexts();
    expect(ids).toEqual([KNOWN.traceHex]);
    await page.getByRole('button', { name: 'Duration' }).click();
    expect(page.url()).toContain('sort=duration');
    await finish(opened, 'traces');
  });

  it('keyboard: a skip link first, then the sections in order', async () => {
    const { page } = await open('/');
    await page.locator('.card').first().waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      order.push(String(await page.evaluate("document.activeElement?.textContent ?? ''")));
    }
    expect(order).toEqual(['ssfconsole', 'Overview', 'Traces', 'Logs', 'Metrics', 'Services', 'SLOs', 'SQL']);
    expect(await page.locator('h1').count()).toBe(1);
    await page.context().close();
  });
});

describe('console: demo data', () => {
  it('asks for a token, keeps it for the tab, then shows the data', async () => {
    const opened = await open('/services', demo.http);
    const { page } = opened;
    await page.getByRole('dialog').waitFor();
    await page.getByLabel('Token', { exact: true }).fill(DEMO_TOKEN);
    await page.getByLabel('Token', { exact: true }).press('Enter');
    await page.locator('.graph .edge').first().waitFor();
    expect(await page.evaluate("sessionStorage.getItem('ssf.console.token')")).toBe(DEMO_TOKEN);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    // The 401s before the token are the console's own question, not errors of the page.
    opened.errors.length = 0;
    await finish(opened, 'demo-services');
  });

  for (const [name, path, ready] of [
    ['demo-overview', '/', '.card li'],
    ['demo-traces', '/traces', 'table.grid tbody tr'],
    ['demo-logs', '/logs', '.log-line'],
    ['demo-metrics', '/metrics?name=http.requests&group_by=route', '.chart canvas'],
    ['demo-slo', '/slo', 'table.slo-table tbody tr'],
    [
      'demo-sql',
      '/sql?q=SELECT%20service%2C%20count()%20AS%20spans%20FROM%20spans%20GROUP%20BY%20service%20ORDER%20BY%20spans%20DESC',
      '.result-grid tbody tr',
    ],
  ] as const) {
    it(`${path} loads with no console errors`, async () => {
      const opened = await open(path, demo.http, DEMO_TOKEN);
      await opened.page.locator(ready).first().waitFor();
      await finish(opened, name);
    });
  }

  it('a demo trace with an error opens from the traces page', async () => {
    const opened = await open('/traces?error=true', demo.http, DEMO_TOKEN);
    const { page } = opened;
    await page.locator('table.grid tbody tr a.trace-link').first().click();
    await page.locator('.wf-row.crit').first().waitFor();
    expect(await page.locator('.wf-row.error').count()).toBeGreaterThan(0);
    await finish(opened, 'demo-trace');
  });
});

describe('console: a trace sent over OTLP, with a 128-bit id', () => {
  it('is listed, linked and shown by its 32 hex digits, the id its sender printed', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const start = BigInt(Date.now() - MINUTE) * 1_000_000n;
    const span = {
      traceId: trace,
      spanId: '00f067aa0ba902b7',
      name: 'GET /otel',
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + 7_000_000n),
    };
    const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'otel-web' } }] };
    const res = await fetch(`${known.where['otlp_http'] as string}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ spans: [span] }] }] }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const opened = await open('/traces?service=otel-web&from=now-1h');
    const { page } = opened;
    const row = page.locator('table.grid tbody tr').first();
    await row.waitFor();
    expect(await row.locator('code').textContent()).toBe(trace);
    await row.locator('a.trace-link').click();
    await page.locator('.wf-row').first().waitFor();
    expect(new URL(page.url()).pathname).toBe(`/traces/${trace}`);
    expect(await page.locator('.trace-summary code').first().textContent()).toBe(trace);
    await finish(opened, 'trace-otlp-128');
  });
});
