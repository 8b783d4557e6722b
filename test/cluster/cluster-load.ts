import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { encodeBatch } from '../../src/codec/index.js';
import { loadConfig } from '../../src/config/load-config.js';
import { counts, emptyExpected, makeEvent } from '../ingest/materializer/helpers.js';
import type { Counts, Expected } from '../ingest/materializer/helpers.js';

/** Tenants of the cluster tests: one per test, so the tests share one cluster and never count each other's rows. */
export const TENANTS = ['mig', 'same', 'rebalance', 'chkill', 'brokerkill', 'idem', 'bench1', 'bench2', 'failover'] as const;
export type Tenant = (typeof TENANTS)[number];
export const AUTH_TOKENS = TENANTS.map((t) => `tok-${t}=${t}`).join(',');

export interface LoadResult {
  expected: Expected;
  /** Requests answered 2xx, and failed attempts that were sent again. */
  acknowledged: number;
  retried: number;
  /** Produce latency of each acknowledged request (ms), in send order, with its send time. */
  latencies: Array<{ at: number; ms: number }>;
}

/**
 * Sends `batches` POST /v1/ssf requests of `perBatch` events (the materializer
 * tests' mix: spans, logs, samples, each row unique), alternating between the
 * gateways, `concurrency` at a time. A failed request (network error, 5xx)
 * is sent again, to the next gateway, until one answers 2xx: every event is
 * acknowledged in the end, so exactly-once means exactly `expected` rows.
 * `during` runs once `faultAfter` batches were acknowledged.
 */
export async function runLoad(o: {
  gateways: string[];
  tenant: Tenant;
  batches: number;
  perBatch: number;
  concurrency?: number;
  offset?: number;
  faultAfter?: number;
  during?: () => Promise<void>;
  headers?: (batch: number) => Record<string, string>;
}): Promise<LoadResult> {
  const expected = emptyExpected();
  const bodies: Buffer[] = [];
  const offset = o.offset ?? 0;
  for (let b = 0; b < o.batches; b++) {
    const events = Array.from({ length: o.perBatch }, (_, k) => makeEvent(offset + b * o.perBatch + k, expected));
    bodies.push(Buffer.from(encodeBatch(events)));
  }
  const result: LoadResult = { expected, acknowledged: 0, retried: 0, latencies: [] };
  let next = 0;
  let fault: Promise<void> | undefined;
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      const b = next++;
      if (b >= bodies.length) return;
      for (let attempt = 0; ; attempt++) {
        const url = o.gateways[(b + w + attempt) % o.gateways.length] as string;
        const started = performance.now();
        const ok = await fetch(`${url}/v1/ssf`, {
          method: 'POST',
          body: bodies[b] as Buffer,
          headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer tok-${o.tenant}`, ...o.headers?.(b) },
          signal: AbortSignal.timeout(30_000),
        }).then(
          async (res) => {
            await res.arrayBuffer();
            return res.ok;
          },
          () => false,
        );
        if (ok) {
          result.latencies.push({ at: Date.now(), ms: performance.now() - started });
          result.acknowledged++;
          if (o.during && fault === undefined && result.acknowledged >= (o.faultAfter ?? 0)) fault = o.during();
          break;
        }
        result.retried++;
        if (attempt > 200) throw new Error(`batch ${b} was refused 200 times`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, (_, w) => worker(w)));
  await fault;
  return result;
}

/** A client to one ClickHouse node of the cluster, for the counts. */
export function nodeClient(url: string, database = 'ssf'): Promise<ClickHouse> {
  return createClickHouse(loadConfig({ env: { SSF_CLICKHOUSE_URL: url, SSF_CLICKHOUSE_DATABASE: database } }).clickhouse);
}

/**
 * Waits until every expected row is there (distinct rows) and the counts
 * stop changing, or the deadline; returns the counts then.
 */
export async function settleTenant(ch: ClickHouse, tenant: Tenant, e: Expected, timeoutMs: number): Promise<Counts> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let stableSince = Date.now();
  for (;;) {
    const c = await counts(ch, tenant).catch(() => undefined);
    const now = JSON.stringify(c);
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    }
    const complete = c !== undefined && c.uniqSpans >= e.spans && c.uniqLogs >= e.logs && c.uniqSamples >= e.samples && c.hits1h >= e.hits * 2;
    if ((complete && Date.now() - stableSince > 3_000) || Date.now() > deadline) return c ?? counts(ch, tenant);
    await new Promise((r) => setTimeout(r, 500));
  }
}
