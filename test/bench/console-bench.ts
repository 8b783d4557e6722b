import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { encodeBatch } from '../../src/codec/index.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { createGateway } from '../../ingest/gateway/gateway.js';
import { ClickHouseSink } from '../../ingest/sink/clickhouse-sink.js';
import { registerQueryApi } from '../../query/query-api.js';
import { launchBrowser } from '../console/browser.js';
import { bigTrace, checkoutTrace, KNOWN, MINUTE } from '../console/console-data.js';
import { printTable } from './measure.js';
import { spanEvent } from '../../src/codec/span-event.js';

/** The console's first load must stay under this much compressed JavaScript (the budget). */
const BUDGET_KIB = 150;
const RUNS = 5;
const LOG_LINES = 1000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function logSpans(t0: number): SpanEvent[] {
  const out: SpanEvent[] = [];
  for (let i = 0; i < LOG_LINES / 10; i++) {
    const id = 0x900000n + BigInt(i);
    const start = BigInt(t0 + i * 100) * 1_000_000n;
    out.push(
      spanEvent({
        traceId: id,
        id,
        startTimestamp: start,
        endTimestamp: start + 5_000_000n,
        service: i % 2 ? 'api' : 'web',
        name: 'GET /bench',
        isTrace: true,
        logs: Array.from({ length: 10 }, (_, j) => ({
          timestamp: start + BigInt(j) * 100_000n,
          severity: j === 9 ? ('error' as const) : ('info' as const),
          severityNumber: j === 9 ? 17 : 9,
          body: `benchword request ${i} step ${j}: user_id=${i * 7 + j} took ${j * 3} ms`,
          attributes: { step: String(j) },
        })),
      }),
    );
  }
  return out;
}

/**
 * The web console in headless Chromium against a real ClickHouse: the
 * bundle's compressed size against its budget, and the time from navigation
 * to the first drawn rows of a trace (9 spans, 10,000 spans) and of a log
 * page of 1,000 lines, each beside the time the API alone takes to answer
 * the same question (the part of the wait the console cannot shorten).
 */
export async function consoleBench(): Promise<void> {
  const dir = join(process.cwd(), 'dist', 'console', 'assets');
  const sizes = readdirSync(dir)
    .filter((f) => /\.(js|css)$/.test(f))
    .map((f) => {
      const bytes = readFileSync(join(dir, f));
      return { file: f, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, brotli: brotliCompressSync(bytes).length };
    });
  const js = sizes.filter((s) => s.file.endsWith('.js')).reduce((n, s) => n + s.gzip, 0);
  printTable(`Console bundle (first load: one script, one stylesheet; budget ${BUDGET_KIB} KiB of compressed JavaScript)`, [
    ...sizes.map((s) => ({
      file: s.file,
      'raw KiB': (s.raw / 1024).toFixed(1),
      'gzip KiB': (s.gzip / 1024).toFixed(1),
      'brotli KiB': (s.brotli / 1024).toFixed(1),
    })),
    { file: 'JavaScript, gzip, of the budget', 'raw KiB': '', 'gzip KiB': `${((js / 1024 / BUDGET_KIB) * 100).toFixed(0)} %`, 'brotli KiB': '' },
  ]);

  const server = await startClickHouseServer({ log: () => {} });
  const config = loadConfig({
    env: {
      SSF_CLICKHOUSE_URL: server.url,
      SSF_CLICKHOUSE_DATABASE: 'ssf_console_bench',
      SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_UDP_LISTEN: '',
      SSF_GATEWAY_STATSD_LISTEN: '',
      SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
    },
  });
  const ch = await createClickHouse(config.clickhouse);
  await migrate(ch, config);
  const sink = new ClickHouseSink(ch, { batchRows: 20_000, lingerMs: 20, maxBufferedRows: 400_000, defaultTenant: 'default' });
  const gateway = createGateway(config, sink, { logLevel: false });
  const reader = await createClickHouse(config.clickhouse, { readonlyUser: true });
  registerQueryApi(gateway.app, config, reader, { auth: gateway.auth, standalone: false });
  const http = (await gateway.listen())['http'] as string;
  const browser = await launchBrowser();
  try {
    const now = Date.now();
    const spans = [...checkoutTrace(now - 4 * MINUTE), ...bigTrace(now - 3 * MINUTE), ...logSpans(now - 2 * MINUTE)];
    for (let i = 0; i < spans.length; i += 2000) {
      const res = await fetch(`${http}/v1/ssf`, {
        method: 'POST',
        body: Buffer.from(encodeBatch(spans.slice(i, i + 2000))),
        headers: { 'content-type': 'application/x-protobuf' },
      });
      if (!res.ok) throw new Error(`posting bench data: ${res.status} ${await res.text()}`);
    }

    const cases = [
      { name: 'baseline: the console shell, no data', path: '/sql', api: '/-/healthy', ready: 'header.top', count: 1 },
      { name: 'trace, 9 spans', path: `/traces/${KNOWN.traceHex}`, api: `/v1/traces/${KNOWN.traceHex}`, ready: '.wf-row', count: 1 },
      { name: 'trace, 10,000 spans', path: `/traces/${KNOWN.bigTraceHex}`, api: `/v1/traces/${KNOWN.bigTraceHex}`, ready: '.wf-row', count: 1 },
      {
        name: `logs, ${LOG_LINES} lines`,
        path: `/logs?q=benchword&limit=${LOG_LINES}`,
        api: `/v1/logs?q=benchword&limit=${LOG_LINES}`,
        ready: '.log-line',
        count: LOG_LINES,
      },
    ];
    const rows: Array<Record<string, string>> = [];
    let shellMs = 0;
    for (const c of cases) {
      const apiMs: number[] = [];
      const renderMs: number[] = [];
      const domRows: number[] = [];
      for (let r = 0; r < RUNS + 1; r++) {
        const t0 = performance.now();
        const res = await fetch(`${http}${c.api}`);
        await res.arrayBuffer();
        const api = performance.now() - t0;
        const { page } = await browser.page();
        const t1 = performance.now();
        await page.goto(`${http}${c.path}`);
        await page
          .locator(c.ready)
          .nth(c.count - 1)
          .waitFor({ timeout: 60_000 });
        const render = performance.now() - t1;
        const inDom = await page.locator(c.ready).count();
        await page.context().close();
        if (r === 0) continue; // warm-up: first compile of the bundle, ClickHouse caches
        apiMs.push(api);
        renderMs.push(render);
        domRows.push(inDom);
      }
      if (shellMs === 0) shellMs = median(renderMs);
      rows.push({
        page: c.name,
        'API alone ms (median)': median(apiMs).toFixed(0),
        'first render ms (median)': median(renderMs).toFixed(0),
        'render / shell': `${(median(renderMs) / shellMs).toFixed(1)}x`,
        'render / API': `${(median(renderMs) / median(apiMs)).toFixed(1)}x`,
        'rows in the DOM': String(median(domRows)),
      });
    }
    printTable(
      `Console in headless Chromium (navigation to the first drawn rows, fresh tab each run, median of ${RUNS} after a warm-up; 2 shared cores)`,
      rows,
    );

    // Scrolling the 10,000-span waterfall: 400 px (18 rows) per frame for 120 frames.
    const { page } = await browser.page();
    await page.goto(`${http}/traces/${KNOWN.bigTraceHex}`);
    await page.locator('.wf-row').first().waitFor({ timeout: 60_000 });
    const frames = (await page.evaluate(`new Promise((resolve) => {
      const el = document.querySelector('.wf-scroll');
      const gaps = [];
      let last = performance.now();
      const step = (now) => {
        gaps.push(now - last);
        last = now;
        el.scrollTop += 400;
        if (gaps.length < 120) requestAnimationFrame(step); else resolve(gaps.slice(1));
      };
      requestAnimationFrame(step);
    })`)) as number[];
    await page.context().close();
    const sorted = [...frames].sort((a, b) => a - b);
    const q = (f: number): number => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] as number;
    printTable('Scrolling the 10,000-span waterfall (frame intervals; the display frame is 16.7 ms)', [
      {
        frames: String(frames.length),
        'p50 ms': q(0.5).toFixed(1),
        'p95 ms': q(0.95).toFixed(1),
        'max ms': q(1).toFixed(1),
        'p50 / display frame': `${(q(0.5) / 16.7).toFixed(2)}x`,
      },
    ]);
  } finally {
    await browser.close();
    await gateway.close();
    await reader.close();
    await ch.close();
    await server.stop();
  }
}
