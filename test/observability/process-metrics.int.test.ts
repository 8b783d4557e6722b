import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

// The process's own numbers on /metrics (src/observability/process-metrics.ts),
// checked against what the kernel says of this process.

/** The value of the series `name` (no labels) in a Prometheus text page; throws when it is missing. */
function value(page: string, name: string): number {
  const line = page.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} is not on /metrics`);
  return Number(line.slice(name.length + 1));
}

/** A field of /proc/self/status in bytes (VmRSS, VmHWM). */
function procStatusBytes(field: string): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number.parseInt((line ?? '').slice(field.length + 1), 10) * 1024;
}

describe('process metrics on /metrics', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_process_metrics');
  });
  afterAll(async () => aio?.close());

  const scrape = async (): Promise<string> => {
    const res = await aio.gateway.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    return res.body;
  };

  it("gives this process's CPU, memory, peak memory, heap and open files, each once (all-in-one: the gateway's page holds the query API's too)", async () => {
    const cpu0 = process.cpuUsage();
    const page = await scrape();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'ssf_query_requests_total']) {
      expect(page.match(new RegExp(`^# TYPE ${name} `, 'gm')), name).toHaveLength(1);
    }
    const cpu = value(page, 'process_cpu_seconds_total');
    expect(cpu).toBeCloseTo(value(page, 'process_cpu_user_seconds_total') + value(page, 'process_cpu_system_seconds_total'), 2);
    const cpu1 = process.cpuUsage();
    expect(cpu).toBeGreaterThanOrEqual((cpu0.user + cpu0.system) / 1e6);
    expect(cpu).toBeLessThanOrEqual((cpu1.user + cpu1.system) / 1e6);
    const rss = value(page, 'process_resident_memory_bytes');
    expect(Math.abs(rss - procStatusBytes('VmRSS'))).toBeLessThan(64 * 1_048_576);
    const peak = value(page, 'process_resident_memory_peak_bytes');
    expect(peak).toBeGreaterThanOrEqual(rss);
    expect(Math.abs(peak - procStatusBytes('VmHWM'))).toBeLessThan(64 * 1_048_576);
    expect(value(page, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(value(page, 'nodejs_heap_size_used_bytes')).toBeLessThanOrEqual(value(page, 'nodejs_heap_size_total_bytes'));
    expect(Math.abs(value(page, 'process_open_fds') - readdirSync('/proc/self/fd').length)).toBeLessThan(20);
    expect(Math.abs(value(page, 'process_start_time_seconds') - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
  });

  it("measures the event loop's delay since the last scrape: a blocked loop shows, then is forgotten", async () => {
    await scrape();
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // the main thread held for 300 ms
    }
    await new Promise((r) => setTimeout(r, 30));
    const blocked = await scrape();
    expect(value(blocked, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0.25);
    await new Promise((r) => setTimeout(r, 100));
    expect(value(await scrape(), 'nodejs_eventloop_lag_max_seconds')).toBeLessThan(0.25);
  });
});
