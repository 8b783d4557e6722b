import type { LogRecord, MetricSample, SpanEvent } from '../../src/codec/index.js';
import { spanEvent } from '../../src/codec/span-event.js';

/**
 * Data of known shape for the console tests: one checkout trace (an error
 * on the critical path, a fire-and-forget span after the root ended), log
 * lines with a word found nowhere else and a body that is HTML, a counter
 * with two series, indicator spans for an SLO, and a 10,000-span trace.
 */

const NS = 1_000_000n;
export const MINUTE = 60_000;

export const KNOWN = {
  traceHex: '5c0f3e8a91d2b746',
  bigTraceHex: '7b1d00c0ffee0042',
  word: 'zebrafish7781',
  html: '<img src=x onerror=alert(1)>',
  metric: 'console.requests',
  edges: ['web->api', 'api->cache', 'api->db'],
  bigSpans: 10_000,
} as const;

const traceId = (hex: string): bigint => BigInt.asIntN(64, BigInt(`0x${hex}`));

function span(fields: {
  traceId: bigint;
  id: bigint;
  parentId: bigint;
  service: string;
  name: string;
  startMs: number;
  durationMs: number;
  error?: boolean;
  indicator?: boolean;
  logs?: LogRecord[];
  tags?: Record<string, string>;
}): SpanEvent {
  const start = BigInt(Math.round(fields.startMs * 1000)) * 1000n;
  return spanEvent({
    traceId: fields.traceId,
    id: fields.id,
    parentId: fields.parentId,
    startTimestamp: start,
    endTimestamp: start + BigInt(Math.round(fields.durationMs * 1e6)),
    error: fields.error ?? false,
    service: fields.service,
    name: fields.name,
    indicator: fields.indicator ?? false,
    tags: fields.tags ?? {},
    isTrace: true,
    logs: fields.logs ?? [],
  });
}

function log(atMs: number, severity: LogRecord['severity'], body: string): LogRecord {
  const severityNumber = { unspecified: 0, trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 }[severity];
  return { timestamp: BigInt(Math.round(atMs)) * NS, severity, severityNumber, body, attributes: { region: 'eu' } };
}

/** The checkout trace: [offset ms, duration ms] as in docs/query/traces.md's text example. */
export function checkoutTrace(t0: number): SpanEvent[] {
  const tid = traceId(KNOWN.traceHex);
  const s = (id: number, parent: number, service: string, name: string, at: number, dur: number, extra: Partial<Parameters<typeof span>[0]> = {}): SpanEvent =>
    span({
      traceId: tid,
      id: id === 1 ? tid : BigInt(id),
      parentId: parent === 0 ? 0n : parent === 1 ? tid : BigInt(parent),
      service,
      name,
      startMs: t0 + at,
      durationMs: dur,
      ...extra,
    });
  return [
    s(1, 0, 'web', 'GET /checkout', 0, 100, {
      logs: [log(t0 + 1, 'info', 'checkout started'), log(t0 + 3, 'warn', KNOWN.html)],
      tags: { 'http.route': '/checkout' },
    }),
    s(2, 1, 'web', 'auth', 2, 10),
    s(3, 1, 'api', 'POST /orders', 10, 80, { logs: [log(t0 + 12, 'warn', 'order created')] }),
    s(4, 3, 'db', 'SELECT orders', 15, 20),
    s(5, 3, 'cache', 'GET order', 20, 5),
    s(6, 3, 'api', 'charge', 40, 48, { error: true, logs: [log(t0 + 80, 'error', `card declined ${KNOWN.word}`)] }),
    s(7, 6, 'db', 'INSERT payment', 45, 15),
    s(8, 6, 'db', 'UPDATE stock', 55, 32),
    s(9, 1, 'web', 'audit', 105, 25),
  ];
}

/** Span ids (hex) of the checkout trace's critical path: root, POST /orders, charge, UPDATE stock. */
export function checkoutCriticalPath(): string[] {
  return [KNOWN.traceHex, '0000000000000003', '0000000000000006', '0000000000000008'];
}

/** `console.requests`: route=/a 3 then 7, route=/b 5, in two whole minutes. */
export function knownMetric(minute: number): SpanEvent {
  const sample = (atMs: number, value: number, route: string): MetricSample => ({
    type: 'counter',
    name: KNOWN.metric,
    value,
    timestamp: BigInt(atMs) * NS,
    message: '',
    status: 'ok',
    sampleRate: 1,
    tags: { route },
    unit: '',
    scope: 'default',
  });
  return spanEvent({
    service: 'web',
    isTrace: false,
    metrics: [sample(minute + 1000, 3, '/a'), sample(minute + MINUTE + 1000, 7, '/a'), sample(minute + 2000, 5, '/b')],
  });
}

/** 40 indicator spans of web, 4 failed. */
export function indicatorSpans(t0: number): SpanEvent[] {
  const out: SpanEvent[] = [];
  for (let i = 0; i < 40; i++) {
    const id = 0x1000n + BigInt(i);
    out.push(
      span({
        traceId: id,
        id,
        parentId: 0n,
        service: 'web',
        name: 'GET /home',
        startMs: t0 + i * 500,
        durationMs: 20 + i,
        indicator: true,
        error: i % 10 === 3,
      }),
    );
  }
  return out;
}

/** A trace of exactly `KNOWN.bigSpans` spans: a root, 99 children, each with 100 children of its own (the last with 1 fewer). */
export function bigTrace(t0: number): SpanEvent[] {
  const tid = traceId(KNOWN.bigTraceHex);
  const out: SpanEvent[] = [span({ traceId: tid, id: tid, parentId: 0n, service: 'web', name: 'GET /report', startMs: t0, durationMs: 5000 })];
  let next = 0x20000n;
  for (let c = 0; c < 99 && out.length < KNOWN.bigSpans; c++) {
    const child = next++;
    out.push(span({ traceId: tid, id: child, parentId: tid, service: 'api', name: `batch ${c}`, startMs: t0 + c * 50, durationMs: 48 }));
    for (let g = 0; g < 100 && out.length < KNOWN.bigSpans; g++) {
      out.push(
        span({
          traceId: tid,
          id: next++,
          parentId: child,
          service: g % 3 === 0 ? 'cache' : 'db',
          name: `query ${g}`,
          startMs: t0 + c * 50 + g * 0.4,
          durationMs: 0.35,
        }),
      );
    }
  }
  return out;
}
