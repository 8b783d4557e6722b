import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../src/codec/index.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { spanEvent } from '../../src/codec/span-event.js';

/**
 * Hardening items 1 and 2: what one tenant can do to another through the
 * query API. Run on the local engine (`ssf serve`'s ClickHouse: chDB in a
 * child process, over HTTP) and on a ClickHouse server over HTTP.
 */

const NOW = BigInt(Date.now()) * 1_000_000n;
// Every byte tenant B owns carries this marker; tenant A must never see it.
const SECRET = 'zz-secret-of-b';

function spanOfB(i: number): SpanEvent {
  return spanEvent({
    traceId: BigInt(5000 + i),
    id: BigInt(i + 1),
    startTimestamp: NOW + BigInt(i) * 1_000n,
    endTimestamp: NOW + BigInt(i) * 1_000n + 3_000_000n,
    service: `svc-${SECRET}`,
    name: `op-${SECRET}`,
    tags: { owner: SECRET },
    isTrace: true,
    metrics: [
      {
        type: 'counter',
        name: `metric.${SECRET}`,
        value: 1,
        timestamp: 0n,
        message: '',
        status: 'ok',
        sampleRate: 1,
        tags: { owner: SECRET },
        unit: '',
        scope: 'default',
      },
    ],
    logs: [{ timestamp: 0n, severity: 'info', severityNumber: 9, body: `log ${SECRET}`, attributes: {} }],
  });
}

interface Answer {
  status: number;
  body: string;
  headers: Headers;
  ms: number;
}

async function call(http: string, path: string, token: string, body?: object): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${http}${path}`, {
    method: body ? 'POST' : 'GET',
    ...(body ? { body: JSON.stringify(body) } : {}),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    text = `(cut: ${String(err)})`;
  }
  return { status: res.status, body: text, headers: res.headers, ms: performance.now() - started };
}

// Streamed queries that send B's rows first, then fail: an error, a timeout, a memory limit, a recursion limit.
const FAILING_STREAMS = [
  'SELECT name, tags FROM spans UNION ALL SELECT toString(throwIf(number > 3)), map() FROM numbers(10)',
  'SELECT name, tags FROM spans UNION ALL SELECT toString(count()), map() FROM numbers(100000000000) WHERE number % 7 = 3',
  'SELECT name, tags FROM spans UNION ALL SELECT toString(length(groupArray(number))), map() FROM numbers(1000000000)',
  'SELECT name, tags FROM spans UNION ALL SELECT toString(x), map() FROM (WITH RECURSIVE r AS (SELECT 1 AS x UNION ALL SELECT x + 1 FROM r) SELECT x FROM r)',
];

const MODES = [
  { name: 'the local engine (ssf serve, no clickhouse.url)', local: true },
  { name: 'a ClickHouse server over HTTP', local: false },
] as const;

describe.each(MODES)('tenant isolation on $name', ({ local }) => {
  let aio: AllInOne;
  let dataPath = '';
  const LIMIT_S = 10;
  beforeAll(async () => {
    dataPath = mkdtempSync(join(tmpdir(), 'ssf-iso-'));
    aio = await startAllInOne('ssf_iso', {
      ...(local ? { SSF_CLICKHOUSE_URL: '', SSF_CLICKHOUSE_DATA_PATH: dataPath } : {}),
      SSF_GATEWAY_AUTH_TOKENS: 'tok-a=alpha,tok-b=beta',
      SSF_QUERY_MAX_EXECUTION_TIME_S: String(LIMIT_S),
      SSF_QUERY_MAX_MEMORY_USAGE: '100000000',
      SSF_QUERY_MAX_CONCURRENT_PER_TENANT: '2',
      SSF_QUERY_CANCEL_GRACE_MS: '1000',
    });
    expect((await aio.post([0, 1, 2, 3, 4].map(spanOfB), 'tok-b')).status).toBe(200);
  });
  afterAll(async () => {
    await aio?.close();
    rmSync(dataPath, { recursive: true, force: true });
  });

  it("never gives tenant A a byte of B's failed streamed queries (error, timeout, memory, recursion)", async () => {
    const until = Date.now() + 10_000;
    const bStatuses = new Map<string, number>();
    // The timeout variant (1) holds B for the whole limit: each attacker runs it last in its round.
    const order = [0, 2, 3, 1];
    const attacker = async (start: number): Promise<void> => {
      for (let i = start; Date.now() < until; i++) {
        const variant = order[i % order.length] as number;
        const answer = await call(aio.http, '/v1/sql', 'tok-b', { sql: FAILING_STREAMS[variant] as string, format: 'csv' });
        const key = `${variant}:${answer.status}`;
        bStatuses.set(key, (bStatuses.get(key) ?? 0) + 1);
      }
    };
    let polls = 0;
    const foreign: string[] = [];
    const victim = async (): Promise<void> => {
      while (Date.now() < until) {
        const one = await call(aio.http, '/v1/sql', 'tok-a', { sql: 'SELECT 1 AS one' });
        if (one.body.includes(SECRET)) foreign.push(one.body.slice(0, 300));
        expect(one.status, one.body).toBe(200);
        expect((JSON.parse(one.body) as { data: unknown }).data).toEqual([{ one: 1 }]);
        const metrics = await call(aio.http, '/v1/metrics', 'tok-a');
        if (metrics.body.includes(SECRET)) foreign.push(metrics.body.slice(0, 300));
        expect(metrics.status, metrics.body).toBe(200);
        polls += 2;
      }
    };
    await Promise.all([attacker(0), attacker(2), victim(), victim()]);
    expect(foreign).toEqual([]);
    expect(polls).toBeGreaterThan(20);
    // Every kind of failure was tried, and B's streams did fail (not one answered a whole 200 without its error).
    for (let v = 0; v < FAILING_STREAMS.length; v++) {
      expect(
        [...bStatuses.keys()].some((k) => k.startsWith(`${v}:`)),
        `variant ${v} ran: ${[...bStatuses.entries()].join(' ')}`,
      ).toBe(true);
    }
    // B still sees its own rows: the filter is the tenant's, not a blanket refusal.
    const own = await call(aio.http, '/v1/sql', 'tok-b', { sql: 'SELECT count() AS n FROM spans' });
    expect(own.body).toContain('"n": "5"');
  }, 60_000);

  it("keeps A's ingest and queries fast while B's heaviest query runs, and stops B's query at its limit", async () => {
    const heavy = 'SELECT count() FROM numbers(1000000000000) WHERE number % 7 = 3';
    const bStarted = performance.now();
    let bDone = false;
    const b = call(aio.http, '/v1/sql', 'tok-b', { sql: heavy }).finally(() => {
      bDone = true;
    });
    await new Promise((r) => setTimeout(r, 700));
    // B's second request is under its limit of 2; a third is refused with 429 and Retry-After.
    const b2 = call(aio.http, '/v1/sql', 'tok-b', { sql: heavy });
    await new Promise((r) => setTimeout(r, 300));
    const b3 = await call(aio.http, '/v1/sql', 'tok-b', { sql: 'SELECT 1' });
    expect(b3.status, b3.body).toBe(429);
    expect(b3.body).toContain('QUERY_ERR_TOO_MANY_QUERIES');
    expect(b3.headers.get('retry-after')).toBe('1');

    const ingestStarted = performance.now();
    const posted = await aio.post([{ ...spanOfB(100), service: 'svc-a', name: 'op-a', tags: {}, metrics: [], logs: [] }], 'tok-a');
    const ingest = { status: posted.status, ms: performance.now() - ingestStarted };
    expect(ingest.status).toBe(200);
    const one = await call(aio.http, '/v1/sql', 'tok-a', { sql: 'SELECT 1 AS one' });
    expect(one.status).toBe(200);
    const ready = await call(aio.http, '/-/ready', 'tok-a');
    expect(ready.status, ready.body).toBe(200);
    // A was answered while B's query still ran (no timing: the order is the claim), and loosely fast.
    expect(bDone).toBe(false);
    expect(ingest.ms).toBeLessThan(LIMIT_S * 1000);
    expect(one.ms).toBeLessThan(LIMIT_S * 1000);
    expect(ready.ms).toBeLessThan(LIMIT_S * 1000);

    const [bAnswer, b2Answer] = await Promise.all([b, b2]);
    const bMs = performance.now() - bStarted;
    for (const answer of [bAnswer, b2Answer]) {
      expect(answer.status, answer.body).toBe(422);
      expect(answer.body).toContain('QUERY_ERR_TIMEOUT');
    }
    expect(bMs).toBeLessThan(LIMIT_S * 1000 + 10_000);
    await expectGone(aio, 'numbers(1000000000000)');
  }, 60_000);

  it('stops a query that is costly per row near its limit, and lets it go in ClickHouse', async () => {
    const sql = "SELECT max(editDistance(repeat('a', 2000 + number % 2), repeat('b', 2000))) FROM numbers(100000)";
    const started = performance.now();
    const answer = await call(aio.http, '/v1/sql', 'tok-b', { sql });
    expect(answer.status, answer.body).toBe(422);
    expect(answer.body).toContain('QUERY_ERR_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(LIMIT_S * 1000 + 10_000);
    await expectGone(aio, 'editDistance');
    // The brief's constant form is answered (ClickHouse computes it once) or stopped, never left running.
    const constant = await call(aio.http, '/v1/sql', 'tok-b', {
      sql: "SELECT max(editDistance(repeat('a', 20000), repeat('b', 20000))) FROM numbers(100000)",
    });
    expect([200, 422]).toContain(constant.status);
    await expectGone(aio, 'editDistance');
  }, 60_000);
});

/** No query whose text contains `marker` runs any more, within a few seconds. */
async function expectGone(aio: AllInOne, marker: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let running = -1;
  while (Date.now() < deadline) {
    const result = await aio.ch.client.query({
      query: "SELECT count() AS n FROM system.processes WHERE position(query, {m:String}) > 0 AND query NOT ILIKE '%system.processes%'",
      query_params: { m: marker },
      format: 'JSONEachRow',
    });
    running = Number(((await result.json<{ n: string }>())[0] as { n: string }).n);
    if (running === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(running, `queries with ${marker} still in system.processes`).toBe(0);
}
