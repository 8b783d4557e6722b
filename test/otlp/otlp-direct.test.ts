/**
 * The direct path (OTLP protobuf bytes -> validated SSF bytes, traces-direct.ts
 * and logs-direct.ts) against the general path (protobufjs decode,
 * tracesToSsf / logsToSsf, encodeSpan, the intake's validation): the same
 * bytes to the sink, the same answer (rejected count and message), the same
 * numbers on /metrics, on random requests (every AnyValue type, bad ids,
 * unknown enums, partial-bad batches) and on mutated ones. Requests the
 * direct path declines must be those it cannot be sure of, and it must take
 * the common ones.
 */
import { describe, expect, it } from 'vitest';
import { CardinalityGuard } from '../../ingest/gateway/cardinality-guard.js';
import type { EventWindow } from '../../ingest/gateway/event-window.js';
import { GatewayMetrics } from '../../ingest/gateway/gateway-metrics.js';
import { acceptedSpans, packOf, SpanIntake } from '../../ingest/gateway/span-intake.js';
import type { IntakeResult } from '../../ingest/gateway/span-intake.js';
import { packStart } from '../../ingest/sink/span-pack.js';
import type { Signal } from '../../ingest/otlp/otlp-decode.js';
import type { ExpansionLimits } from '../../ingest/otlp/expansion-budget.js';
import type { Admitted } from '../../ingest/otlp/otlp-export.js';
import { admitOtlp, admitOtlpInSlices } from '../../ingest/otlp/otlp-export.js';
import { OtlpError } from '../../ingest/otlp/otlp-errors.js';
import { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest } from '../../ingest/otlp/otlp-messages.js';
import { ExpansionBudget } from '../../ingest/otlp/expansion-budget.js';
import { metricsSteps, metricsToSsf, samplesOf } from '../../ingest/otlp/metrics-to-ssf.js';
import { severityOfText } from '../../ingest/otlp/logs-to-ssf.js';
import { gatewayFields } from '../../ingest/gateway/span-intake.js';
import { decodeSpan } from '../../src/codec/index.js';
import { EventRowBinary } from '../../src/clickhouse/event-row-binary.js';
import { appendSpanBytes } from '../../src/clickhouse/span-row-binary.js';
import { seededRandom } from '../setup/random.js';

const MS = 1_000_000n;
const RECEIVED = 1_765_000_000_000_000_000n;
/** Spans from 10 days before RECEIVED, logs from 5 days, up to an hour ahead. */
const WINDOW: EventWindow = {
  spansFrom: Number(RECEIVED) - 10 * 86_400e9,
  logsFrom: Number(RECEIVED) - 5 * 86_400e9,
  samplesFrom: Number(RECEIVED) - 86_400e9,
  to: Number(RECEIVED) + 3_600e9,
};
const TENANT = 'acme';

const rand = seededRandom(7);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
const chance = (p: number): boolean => rand() < p;

type Json = Record<string, unknown>;

const STRINGS = ['GET', '', 'Grüße', '日本語', 'a"quote\\back', 'line\nbreak', 'x'.repeat(300), '/api/orders', 'emoji 🎉', '\u0000nul'];
// "__proto__" is an ordinary key on both paths (src/codec/tag-map.ts).
const KEYS = ['http.method', 'http.route', 'k', '', 'db.statement', 'Grüße', 'peer.service', 'http.status_code', 'net.peer.port', 'thread.id', '__proto__'];
/** Keys the direct path leaves to the general path (JavaScript reorders or merges them). */
const ODD_KEYS = ['0', '42', 'otel.span_kind', 'otel.resource.host.name', 'otel.span_event', '7up'];

function anyValue(depth = 0): Json {
  switch (int(depth > 2 ? 7 : 10)) {
    case 0:
    case 1:
      return { stringValue: pick(STRINGS) };
    case 2:
      return { boolValue: chance(0.5) };
    case 3:
      return { intValue: pick(['0', '1', '-1', '200', '9007199254740993', '-9223372036854775808', '9223372036854775807', '4294967296']) };
    case 4:
      return { doubleValue: pick([0.25, 1e21, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2.5e-3, 1e-7, 123456789.5]) };
    case 5:
      return { bytesValue: bytes(int(6)) };
    case 6:
      return {};
    case 7:
      return { arrayValue: { values: Array.from({ length: int(4) }, () => anyValue(depth + 1)) } };
    case 8:
      return { kvlistValue: { values: Array.from({ length: int(4) }, () => keyValue(depth + 1)) } };
    default:
      return { stringValue: `v${int(1000)}` };
  }
}

function keyValue(depth = 0, odd = 0): Json {
  const key = chance(odd) ? pick(ODD_KEYS) : pick(KEYS);
  return chance(0.05) ? { key } : { key, value: anyValue(depth) };
}

function attributes(n: number, odd: number): Json[] {
  const out: Json[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const kv = keyValue(0, odd);
    // Repeated keys only sometimes (the direct path declines them).
    if (seen.has(kv['key'] as string) && !chance(odd)) continue;
    seen.add(kv['key'] as string);
    out.push(kv);
  }
  return out;
}

function resource(odd: number): Json {
  const attrs: Json[] = [];
  if (chance(0.9)) attrs.push({ key: 'service.name', value: { stringValue: pick(['checkout', 'cart', '', 'Grüße']) } });
  attrs.push(...attributes(int(4), odd));
  if (chance(0.1)) attrs.push({ key: 'host.name', value: { stringValue: 'again' } });
  return chance(0.9) ? { attributes: attrs, droppedAttributesCount: chance(0.1) ? 3 : 0 } : {};
}

function scope(odd: number): Json | undefined {
  if (chance(0.2)) return undefined;
  return { name: pick(['io.opentelemetry.http', '', 'bench']), version: pick(['1.0.0', '']), attributes: attributes(int(3), odd) };
}

const time = (offsetMs: number): string => String(RECEIVED + BigInt(Math.round(offsetMs)) * MS);

function traceId(odd: number): Buffer {
  if (!chance(odd)) return bytes(16);
  return pick([Buffer.alloc(0), bytes(8), Buffer.alloc(16), Buffer.concat([bytes(8), Buffer.alloc(8)]), bytes(17)]);
}

function spanId(odd: number, zeroOk: boolean): Buffer {
  if (!chance(odd)) return bytes(8);
  return pick(zeroOk ? [Buffer.alloc(0), Buffer.alloc(8), bytes(4)] : [Buffer.alloc(0), Buffer.alloc(8), bytes(9)]);
}

function span(odd: number): Json {
  const start = -int(1000) * 60_000;
  const s: Json = {
    traceId: traceId(odd),
    spanId: spanId(odd, false),
    parentSpanId: chance(0.5) ? spanId(odd, true) : Buffer.alloc(0),
    name: chance(odd) ? pick(['', 'x'.repeat(1100)]) : pick(['GET /api/orders', 'SELECT', 'Grüße']),
    kind: chance(odd) ? pick([9, 6, 255]) : int(6),
    startTimeUnixNano: time(start),
    endTimeUnixNano: time(start + (chance(odd) ? -5 : int(500))),
    attributes: attributes(int(6), odd),
  };
  if (chance(0.3)) s['status'] = { code: chance(odd) ? 7 : int(3), message: chance(0.5) ? pick(STRINGS) : '' };
  if (chance(0.2)) s['traceState'] = 'rojo=00f067aa0ba902b7';
  if (chance(0.2))
    s['events'] = Array.from({ length: 1 + int(3) }, () => ({
      timeUnixNano: chance(0.1) ? '0' : time(start + int(100)),
      name: pick(STRINGS),
      attributes: attributes(int(3), odd),
      droppedAttributesCount: chance(0.1) ? 1 : 0,
    }));
  if (chance(0.15))
    s['links'] = Array.from({ length: 1 + int(2) }, () => ({
      traceId: bytes(pick([16, 0, 3])),
      spanId: bytes(8),
      traceState: pick(['', 'a=b']),
      attributes: attributes(int(3), 0.3),
      flags: 1,
    }));
  if (chance(0.1)) s['droppedAttributesCount'] = 1 + int(5);
  if (chance(0.1)) s['droppedEventsCount'] = 2;
  if (chance(0.1)) s['droppedLinksCount'] = 3;
  if (chance(0.1)) s['flags'] = 0x101;
  if (chance(odd / 2)) s['startTimeUnixNano'] = pick(['0', time(-40 * 86_400_000), time(86_400_000)]);
  return s;
}

function logRecord(odd: number): Json {
  const r: Json = {
    timeUnixNano: chance(0.1) ? '0' : time(-int(1000) * 60_000),
    observedTimeUnixNano: chance(0.3) ? time(-int(100)) : '0',
    severityNumber: chance(odd) ? pick([25, -1, 100]) : int(25),
    // Level names give a record without a number its severity (severityOfText); the others do not.
    severityText: pick(['INFO', '', 'Warn', 'error', 'DEBUG3', 'warning', 'Critical', 'WARNING2', 'notice', 'constructor']),
    body: chance(0.1) ? undefined : anyValue(),
    attributes: attributes(int(5), odd),
    traceId: chance(0.3) ? Buffer.alloc(0) : pick([traceId(odd), traceId(0)]),
    spanId: chance(0.3) ? Buffer.alloc(0) : spanId(odd, true),
  };
  if (chance(0.1)) r['eventName'] = 'browser.click';
  if (chance(0.1)) r['flags'] = 1;
  if (chance(0.1)) r['droppedAttributesCount'] = 4;
  if (chance(odd / 2)) r['timeUnixNano'] = pick([time(-10 * 86_400_000), time(7_200_000)]);
  if (chance(odd / 2)) {
    r['body'] = undefined;
    r['attributes'] = [];
    r['severityText'] = '';
  }
  return r;
}

function tracesRequest(odd: number): Uint8Array {
  const resourceSpans = Array.from({ length: 1 + int(2) }, () => ({
    resource: resource(odd),
    scopeSpans: Array.from({ length: 1 + int(2) }, () => ({ scope: scope(odd), spans: Array.from({ length: int(6) }, () => span(odd)) })),
  }));
  return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({ resourceSpans })).finish();
}

function logsRequest(odd: number): Uint8Array {
  const resourceLogs = Array.from({ length: 1 + int(2) }, () => ({
    resource: resource(odd),
    scopeLogs: Array.from({ length: 1 + int(2) }, () => {
      // Runs of records with the same ids (one carrier), and more than a carrier holds.
      const shared = { traceId: bytes(16), spanId: bytes(8) };
      const n = chance(0.05) ? 150 : int(8);
      return { scope: scope(odd), logRecords: Array.from({ length: n }, () => (chance(0.5) ? { ...logRecord(odd), ...shared } : logRecord(odd))) };
    }),
  }));
  return ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject({ resourceLogs })).finish();
}

/** Some damage: a byte changed, the body cut short, a field appended. */
function mutate(body: Uint8Array): Uint8Array {
  const b = Buffer.from(body);
  switch (int(4)) {
    case 0:
      if (b.length > 0) b[int(b.length)] = pick([0x00, 0x01, 0x08, 0x0a, 0x12, 0x7f, 0x80, 0xff, 0x1b, 0x0b]);
      return b;
    case 1:
      return b.subarray(0, int(b.length + 1));
    case 2:
      return Buffer.concat([b, Buffer.from(pick([[0x10, 0x01], [0xf8, 0x01, 0x05], [0x1a, 0x00], [0x0b], [0x0a, 0x02, 0x08]]))]);
    default:
      if (b.length > 4) {
        const at = int(b.length);
        b[at] = (b[at] as number) ^ (1 << int(8));
      }
      return b;
  }
}

interface Side {
  intake: SpanIntake;
  metrics: GatewayMetrics;
  expansion: ExpansionLimits;
}

/** The gateway's defaults (gateway.otlpMaxEvents, gateway.otlpMaxOutputBytes) unless given. */
function side(limits: ExpansionLimits = { maxEvents: 1_000_000, maxBytes: 64 << 20 }, maxSpanBytes?: number): Side {
  const metrics = new GatewayMetrics();
  return {
    metrics,
    expansion: limits,
    intake: new SpanIntake(metrics, new CardinalityGuard(1000), () => WINDOW, maxSpanBytes === undefined ? {} : { maxSpanBytes }),
  };
}

/** Each span of what the sink is given (packOf: the direct path's pack, or the general path's spans packed): bytes with the stamp, trace id halves. */
function shippedSpans(result: IntakeResult): Array<{ bytes: Buffer; trace: [number, number] }> {
  const pack = packOf(result);
  return Array.from(pack.ends, (end, i) => ({
    bytes: Buffer.from(pack.data.subarray(packStart(pack, i), end)),
    trace: [pack.traces[2 * i] as number, pack.traces[2 * i + 1] as number],
  }));
}

/** A span's events (trace span, samples, log records), as the codec reads its bytes. */
function eventsOf(bytes: Uint8Array): number {
  const v = decodeSpan(bytes);
  return v.ok ? (v.span.isTrace ? 1 : 0) + v.span.metrics.length + v.span.logs.length : -1;
}

/** What reaches the sink and the client; an OtlpError as its code and reason. */
function outcome(s: Side, signal: Signal, body: Uint8Array, direct: boolean): { a?: Admitted; shipped?: unknown; error?: string } {
  try {
    const a = admitOtlp(s, 'otlp_http', signal, body, 'protobuf', TENANT, RECEIVED, direct);
    const spans = shippedSpans(a.result);
    const shipped = {
      spans: spans.map((x) => x.bytes.toString('hex')),
      events: spans.map((x) => eventsOf(x.bytes)),
      traces: spans.map((x) => x.trace),
      packEvents: packOf(a.result).events,
      total: a.total,
      rejected: a.rejected,
      message: a.message,
      ssfSpans: a.ssfSpans,
      unknownEnums: a.unknownEnums,
      allEvents: a.result.events,
    };
    return { a, shipped };
  } catch (err) {
    if (!(err instanceof OtlpError)) throw err;
    return { error: `${err.code}: ${err.reason}` };
  }
}

/** The RowBinary rows of one span's bytes (span-row-binary), with its checks for untrusted bytes or without. */
function rowsOf(bytes: Uint8Array, own: boolean): string[] {
  const out = new EventRowBinary('default');
  expect(appendSpanBytes(out, bytes, () => RECEIVED, own)).toBe(true);
  return [out.spans, out.logs, out.samples].map((w) => `${w.rows}:${Buffer.concat(w.chunks()).toString('hex')}`);
}

function compare(
  signal: Signal,
  requests: Uint8Array[],
  limits?: ExpansionLimits,
  maxSpanBytes?: number,
): { direct: number; declined: number; failed: number; refused: number } {
  const direct = side(limits, maxSpanBytes);
  const general = side(limits, maxSpanBytes);
  const tally = { direct: 0, declined: 0, failed: 0, refused: 0 };
  for (const body of requests) {
    const d = outcome(direct, signal, body, true);
    const g = outcome(general, signal, body, false);
    expect(d.error ?? d.shipped).toEqual(g.error ?? g.shipped);
    if (d.error !== undefined) tally.failed++;
    else if (d.a?.direct) {
      tally.direct++;
      tally.refused += d.a.rejected;
      // Every span the direct path made is one the codec accepts whole, and one whose rows
      // span-row-binary writes the same when told they are the gateway's own bytes (checks skipped).
      expect(packOf(d.a.result).own).toBe(true);
      for (const x of shippedSpans(d.a.result)) {
        const v = decodeSpan(x.bytes);
        expect(v.ok && v.rejections.length === 0).toBe(true);
        expect(rowsOf(x.bytes, true)).toEqual(rowsOf(x.bytes, false));
      }
    } else tally.declined++;
  }
  return tally;
}

async function sameMetrics(signal: Signal, requests: Uint8Array[]): Promise<void> {
  const direct = side();
  const general = side();
  for (const body of requests) {
    outcome(direct, signal, body, true);
    outcome(general, signal, body, false);
  }
  expect(await direct.metrics.registry.render()).toBe(await general.metrics.registry.render());
}

describe('OTLP direct path against the general path', () => {
  it('traces: the same bytes, answers and counts on random requests', async () => {
    const common = Array.from({ length: 400 }, () => tracesRequest(0));
    const odd = Array.from({ length: 1500 }, () => tracesRequest(0.08));
    const a = compare('traces', common);
    // The common requests all take the direct path.
    expect(a.direct).toBe(common.length);
    const b = compare('traces', odd);
    // Both kinds are exercised: taken (with refused spans among them) and declined.
    expect(b.direct).toBeGreaterThan(100);
    expect(b.declined).toBeGreaterThan(100);
    expect(b.refused).toBeGreaterThan(50);
    await sameMetrics('traces', [...common.slice(0, 50), ...odd.slice(0, 300)]);
  }, 120_000);

  it('logs: the same bytes, answers and counts on random requests', async () => {
    const common = Array.from({ length: 400 }, () => logsRequest(0));
    const odd = Array.from({ length: 1500 }, () => logsRequest(0.08));
    const a = compare('logs', common);
    expect(a.direct).toBeGreaterThan(common.length * 0.9);
    const b = compare('logs', odd);
    expect(b.direct).toBeGreaterThan(100);
    expect(b.declined).toBeGreaterThan(100);
    expect(b.refused).toBeGreaterThan(50);
    await sameMetrics('logs', [...common.slice(0, 50), ...odd.slice(0, 300)]);
  }, 120_000);

  it('spans over gateway.maxSpanBytes: refused alone, the rest shipped, the same on both paths', () => {
    for (const signal of ['traces', 'logs'] as const) {
      const requests = Array.from({ length: 300 }, () => (signal === 'traces' ? tracesRequest(0) : logsRequest(0)));
      // The median size of the SSF spans these requests become: about half of them are over it.
      const sizes = requests.flatMap((body) => {
        const d = outcome(side(), signal, body, true);
        return d.a ? shippedSpans(d.a.result).map((x) => x.bytes.length) : [];
      });
      sizes.sort((a, b) => a - b);
      const t = compare(signal, requests, undefined, sizes[Math.floor(sizes.length / 2)]);
      expect(t.direct).toBeGreaterThan(requests.length * 0.9);
      expect(t.refused).toBeGreaterThan(sizes.length / 4);
    }
  });

  it('the same answers on mutated requests (or the same 400)', () => {
    for (const signal of ['traces', 'logs'] as const) {
      const requests = Array.from({ length: 2000 }, () => mutate(signal === 'traces' ? tracesRequest(0.02) : logsRequest(0.02)));
      const t = compare(signal, requests);
      expect(t.failed).toBeGreaterThan(50);
      expect(t.direct).toBeGreaterThan(50);
    }
  }, 120_000);

  it('severity text, event name, status message and trace state copied as bytes: the same as decoded and encoded, valid UTF-8 or not', () => {
    // QQQQ in the encoded request becomes Q, an invalid byte pair, Q (the general path decodes it to U+FFFD).
    const patch = (body: Uint8Array, valid: boolean): Uint8Array => {
      const b = Buffer.from(body);
      for (let at = b.indexOf('QQQQ'); at >= 0; at = b.indexOf('QQQQ', at + 4)) if (!valid) b.set([0x51, 0xff, 0xfe, 0x51], at);
      return b;
    };
    const record = { timeUnixNano: time(-1000), severityNumber: 9, severityText: 'QQQQ', eventName: 'QQQQ', body: { stringValue: 'x' } };
    const logs = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] })).finish();
    const one = {
      traceId: traceId(0),
      spanId: spanId(0, false),
      name: 'op',
      startTimeUnixNano: time(-1000),
      endTimeUnixNano: time(-900),
      traceState: 'QQQQ',
      status: { code: 2, message: 'QQQQ' },
    };
    const traces = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [one] }] }] })).finish();
    for (const valid of [true, false]) {
      expect(compare('logs', [patch(logs, valid)]).direct).toBe(1);
      expect(compare('traces', [patch(traces, valid)]).direct).toBe(1);
    }
  });

  it('takes every AnyValue type, unknown enums and refused ids directly', () => {
    const every = [
      { key: 's', value: { stringValue: 'Grüße "x"' } },
      { key: 'b', value: { boolValue: false } },
      { key: 'i', value: { intValue: '-9223372036854775808' } },
      { key: 'd', value: { doubleValue: Number.NaN } },
      { key: 'y', value: { bytesValue: Buffer.from([0, 255, 7]) } },
      { key: 'a', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 2 }, {}, { doubleValue: Number.POSITIVE_INFINITY }] } } },
      {
        key: 'kv',
        value: { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'failed' } }, { key: 'n', value: { arrayValue: {} } }, { key: 'e' }] } },
      },
      { key: 'empty', value: {} },
      { key: 'none' },
    ];
    const start = time(-1000);
    const end = time(-900);
    const good = { traceId: bytes(16), spanId: bytes(8), name: 'op', kind: 9, startTimeUnixNano: start, endTimeUnixNano: end, attributes: every };
    const body = ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }, ...every] },
            scopeSpans: [
              {
                spans: [
                  { ...good, status: { code: 7, message: 'odd' } },
                  { ...good, traceId: bytes(3) },
                  { ...good, spanId: Buffer.alloc(8) },
                  { ...good, kind: 2, status: { code: 2 } },
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const d = outcome(side(), 'traces', body, true);
    const g = outcome(side(), 'traces', body, false);
    expect(d.a?.direct).toBe(true);
    expect(d.shipped).toEqual(g.shipped);
    expect(d.a?.rejected).toBe(2);
    expect(d.a?.unknownEnums).toBe(2);
    expect(d.a?.message).toMatch(
      /^OTLP_ERR_BAD_TRACE_ID: span "op": trace_id must be 16 bytes.*; OTLP_ERR_BAD_SPAN_ID: .*; 2 items kept with an undefined enum value$/,
    );
    const v = decodeSpan(d.a ? (shippedSpans(d.a.result)[0]?.bytes ?? new Uint8Array(0)) : new Uint8Array(0));
    expect(v.ok && v.span.tags).toMatchObject({
      'otel.resource.i': '-9223372036854775808',
      a: '["a",2,null,"Infinity"]',
      kv: '{"msg":"failed","n":[],"e":null}',
      y: 'AP8H',
      d: 'NaN',
      b: 'false',
      empty: '',
      none: '',
      'otel.span_kind': '9',
      'otel.status_code': '7',
    });
  });

  it('keeps a "__proto__" attribute as an ordinary tag on both paths: span, event, link, log record, scope', () => {
    const proto = [
      { key: 'a', value: { stringValue: '1' } },
      { key: '__proto__', value: { stringValue: 'kept' } },
      { key: 'z', value: { intValue: 2 } },
    ];
    const start = time(-1000);
    const end = time(-900);
    const traces = ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
            scopeSpans: [
              {
                scope: { name: 'lib', attributes: proto },
                spans: [
                  {
                    traceId: bytes(16),
                    spanId: bytes(8),
                    name: 'op',
                    startTimeUnixNano: start,
                    endTimeUnixNano: end,
                    attributes: proto,
                    events: [{ timeUnixNano: start, name: 'ev', attributes: proto }],
                    links: [{ traceId: bytes(16), spanId: bytes(8), attributes: proto }],
                  },
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const record = { timeUnixNano: start, body: { stringValue: 'hi' }, attributes: proto };
    const logs = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] })).finish();
    for (const [signal, body] of [
      ['traces', traces],
      ['logs', logs],
    ] as const) {
      const d = outcome(side(), signal, body, true);
      const g = outcome(side(), signal, body, false);
      expect(d.a?.direct).toBe(true);
      expect(d.shipped).toEqual(g.shipped);
      const v = decodeSpan(d.a ? (shippedSpans(d.a.result)[0]?.bytes ?? new Uint8Array(0)) : new Uint8Array(0));
      expect(v.ok).toBe(true);
      if (!v.ok) continue;
      const maps = signal === 'traces' ? [v.span.tags, v.span.logs[0]?.attributes] : [v.span.logs[0]?.attributes];
      for (const m of maps) {
        expect(Object.getOwnPropertyDescriptor(m, '__proto__')?.value).toBe('kept');
        expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
      }
      if (signal === 'traces') {
        expect(v.span.tags['otel.scope.attributes.__proto__']).toBe('kept');
        expect(JSON.parse(v.span.tags['otel.links'] ?? '[]')).toMatchObject([{ attributes: { a: '1', z: '2' } }]);
        expect(v.span.tags['otel.links']).toContain('"__proto__":"kept"');
      }
    }
  });

  it('the expansion bounds: the same answer on both paths, refused exactly past each limit', () => {
    const stampLength = gatewayFields(TENANT, RECEIVED).length;
    for (const signal of ['traces', 'logs'] as const) {
      let checked = 0;
      for (let n = 0; n < 300; n++) {
        const body = signal === 'traces' ? tracesRequest(0) : logsRequest(0);
        const d = outcome(side(), signal, body, true);
        if (!d.a?.direct || d.a.result.events === 0) continue;
        // What the request becomes: its events, and its SSF bytes without the gateway's fields.
        const events = d.a.result.events;
        const bytes = shippedSpans(d.a.result).reduce((a, x) => a + x.bytes.length - stampLength, 0);
        const cases: Array<[ExpansionLimits, boolean]> = [
          [{ maxEvents: events, maxBytes: bytes }, false],
          [{ maxEvents: events - 1, maxBytes: bytes }, true],
          [{ maxEvents: events, maxBytes: bytes - 1 }, true],
        ];
        for (const [limits, refused] of cases) {
          const dd = outcome(side(limits), signal, body, true);
          const gg = outcome(side(limits), signal, body, false);
          expect(dd.error ?? dd.shipped).toEqual(gg.error ?? gg.shipped);
          if (!refused) expect(dd.shipped).toEqual(d.shipped);
          else
            expect(dd.error).toBe(
              `OTLP_ERR_OUTPUT_TOO_LARGE: the ${signal} export request makes more than gateway.otlpMaxEvents (${limits.maxEvents}) spans, log records and samples or more than gateway.otlpMaxOutputBytes (${limits.maxBytes}) bytes of SSF (resource and scope attributes are copied into every item; a histogram point becomes up to 1,026 samples): send it in smaller requests`,
            );
        }
        checked++;
      }
      expect(checked).toBeGreaterThan(100);
      // Requests the direct path declines, under small limits: the same answers.
      const odd = Array.from({ length: 300 }, () => (signal === 'traces' ? tracesRequest(0.08) : logsRequest(0.08)));
      const t = compare(signal, odd, { maxEvents: 12, maxBytes: 1500 });
      expect(t.failed).toBeGreaterThan(20);
      expect(t.direct + t.declined).toBeGreaterThan(20);
    }
  }, 120_000);

  it('metrics: the samples of histogram points are counted ahead, a request past the limit refused before any is made', () => {
    const points = Array.from({ length: 2000 }, () => ({ timeUnixNano: time(-1000), count: 1024, sum: 1024, bucketCounts: [1024] }));
    const request = ExportMetricsServiceRequest.decode(
      ExportMetricsServiceRequest.encode(
        ExportMetricsServiceRequest.fromObject({
          resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'bomb', histogram: { aggregationTemporality: 1, dataPoints: points } }] }] }],
        }),
      ).finish(),
    );
    expect(metricsToSsf(request).spans.reduce((a, s) => a + s.metrics.length, 0)).toBe(2000 * 1026);
    // Counted ahead: refused at the first step, before the first slice of samples is made.
    const steps = metricsSteps(request, new ExpansionBudget({ maxEvents: 1_000_000, maxBytes: Number.POSITIVE_INFINITY }, 'metrics'));
    expect(() => steps.next()).toThrow(/^OTLP_ERR_OUTPUT_TOO_LARGE: the metrics export request makes more than gateway.otlpMaxEvents \(1000000\)/);
    // Under the limit, the same request is made slice by slice.
    expect(metricsSteps(request, new ExpansionBudget({ maxEvents: 2000 * 1026, maxBytes: Number.POSITIVE_INFINITY }, 'metrics')).next().done).toBe(false);
  });

  it('metrics: the samples counted ahead are the samples made, for every kind of point', () => {
    const t = time(-1000);
    const kinds = [
      {
        name: 'g',
        gauge: {
          dataPoints: [
            { timeUnixNano: t, asInt: 1 },
            { timeUnixNano: t, flags: 1 },
          ],
        },
      },
      { name: 's', sum: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: t, asDouble: 2 }] } },
      {
        name: 'c',
        sum: {
          aggregationTemporality: 2,
          isMonotonic: true,
          dataPoints: [
            { timeUnixNano: t, asDouble: 2 },
            { timeUnixNano: t, flags: 1 },
          ],
        },
      },
      { name: 'u', sum: { aggregationTemporality: 0, dataPoints: [{ timeUnixNano: t, asDouble: 2 }] } },
      {
        name: 'h',
        histogram: {
          aggregationTemporality: 1,
          dataPoints: [
            { timeUnixNano: t, count: 7, sum: 7, bucketCounts: [3, 0, 4], explicitBounds: [1, 2] },
            { timeUnixNano: t, count: 5000, sum: 1, bucketCounts: [1, 2999, 1999, 1], explicitBounds: [1, 2, 3] },
            { timeUnixNano: t, count: 9, sum: 9, bucketCounts: [9] },
            { timeUnixNano: t, count: 0, flags: 1 },
          ],
        },
      },
      { name: 'hc', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: t, count: 5000, bucketCounts: [5000] }] } },
      {
        name: 'e',
        exponentialHistogram: {
          aggregationTemporality: 1,
          dataPoints: [{ timeUnixNano: t, count: 2000, scale: 2, zeroCount: 3, positive: { offset: -2, bucketCounts: [1000, 0, 997] }, negative: {} }],
        },
      },
      {
        name: 'q',
        summary: {
          dataPoints: [
            {
              timeUnixNano: t,
              count: 3,
              sum: 3,
              quantileValues: [
                { quantile: 0.5, value: 1 },
                { quantile: 0.9, value: 2 },
              ],
            },
          ],
        },
      },
      { name: 'none' },
    ];
    const request = ExportMetricsServiceRequest.decode(
      ExportMetricsServiceRequest.encode(ExportMetricsServiceRequest.fromObject({ resourceMetrics: [{ scopeMetrics: [{ metrics: kinds }] }] })).finish(),
    );
    const made = metricsToSsf(request).spans.reduce((a, s) => a + s.metrics.length, 0);
    expect(made).toBe(1 + 1 + 1 + (7 + 2) + (1024 + 2) + (9 + 2) + 2 + (1024 + 2) + (2 + 2));
    expect(samplesOf(request)).toBe(made);
  });

  it('a span whose own times SSF refuses, kept only as its events: rejected on both paths, with the reason', () => {
    const Y2000 = '946684800000000000';
    const event = { timeUnixNano: time(-100), name: 'cache miss' };
    const base = { traceId: bytes(16), spanId: bytes(8), name: 'op', startTimeUnixNano: time(-1000), endTimeUnixNano: time(-900), events: [event] };
    const cases = [
      { span: { ...base, startTimeUnixNano: Y2000 }, reason: /^SSF_TIME_OUT_OF_RANGE at start_timestamp: / },
      { span: { ...base, endTimeUnixNano: time(-1005) }, reason: /^SSF_SPAN_NEGATIVE_DURATION at end_timestamp: / },
    ];
    for (const c of cases) {
      const body = ExportTraceServiceRequest.encode(
        ExportTraceServiceRequest.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [c.span, { ...base, spanId: bytes(8) }] }] }] }),
      ).finish();
      const d = outcome(side(), 'traces', body, true);
      const g = outcome(side(), 'traces', body, false);
      expect(d.shipped).toEqual(g.shipped);
      expect(d.a?.rejected).toBe(1);
      expect(d.a?.message).toMatch(c.reason);
      // Both spans are shipped: the good one, and the refused one as a carrier of its event.
      expect(d.a && acceptedSpans(d.a.result)).toBe(2);
    }
  });

  it('a string running past the end of the body: the same 400 on both paths', () => {
    const span = Buffer.concat([Buffer.from([0x0a, 0x10]), bytes(16), Buffer.from([0x12, 0x08]), bytes(8), Buffer.from([0x2a, 0x0c, 0x41, 0x42])]);
    const body = Buffer.concat([Buffer.from([0x0a, span.length + 4, 0x12, span.length + 2, 0x12, span.length]), span]);
    const d = outcome(side(), 'traces', body, true);
    const g = outcome(side(), 'traces', body, false);
    expect(g.error).toMatch(/^OTLP_ERR_BODY_MALFORMED: not a valid OTLP traces export request \(protobuf\): index out of range/);
    expect(d.error).toBe(g.error);
  });

  it('in slices: the same answer as at once, with the event loop turning between slices, requests one after the other', async () => {
    const many = (n: number, refuseSome: boolean): Uint8Array => {
      const spans = Array.from({ length: n }, (_, i) => ({
        traceId: bytes(16),
        spanId: bytes(8),
        name: `op ${i % 7}`,
        startTimeUnixNano: time(-1000),
        endTimeUnixNano: time(-900),
        attributes: [{ key: 'i', value: { intValue: i } }],
        // Every 1,000th span ends before it starts (the direct path declines the request; SSF keeps only its event,
        // counted as rejected): the intake's indexes must stay right across slices.
        ...(refuseSome && i % 1000 === 999 ? { endTimeUnixNano: time(-1005), events: [{ timeUnixNano: time(-950), name: 'e' }] } : {}),
      }));
      const request = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ spans }] }] };
      return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(request)).finish();
    };
    const direct = many(9_000, false);
    const declined = many(9_000, true);
    for (const body of [direct, declined]) {
      const once = outcome(side(), 'traces', body, true);
      let turns = 0;
      const timer = setInterval(() => turns++, 0);
      const s = side();
      // Two requests at once: admitted one after the other, each the same as alone.
      const [a, b] = await Promise.all([
        admitOtlpInSlices(s, 'otlp_http', 'traces', body, 'protobuf', TENANT, RECEIVED),
        admitOtlpInSlices(s, 'otlp_http', 'traces', body, 'protobuf', TENANT, RECEIVED),
      ]);
      clearInterval(timer);
      for (const x of [a, b]) {
        expect(x.direct).toBe(body === direct);
        expect(x.rejected).toBe(body === direct ? 0 : 9);
        expect(shippedSpans(x.result).map((y) => y.bytes.toString('hex'))).toEqual(once.shipped && (once.shipped as { spans: string[] }).spans);
        expect(x.message).toBe(once.a?.message);
      }
      expect(turns).toBeGreaterThan(2);
    }
    // Logs (the direct path) and metrics (the general path, pausing between data points): the same as at once.
    const records = Array.from({ length: 5_000 }, (_, i) => ({ timeUnixNano: time(-100), severityNumber: 9, body: { stringValue: `line ${i}` } }));
    const logs = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] })).finish();
    const points = Array.from({ length: 5_000 }, (_, i) => ({ timeUnixNano: time(-100), asInt: i, attributes: [{ key: 'i', value: { intValue: i } }] }));
    const metrics = ExportMetricsServiceRequest.encode(
      ExportMetricsServiceRequest.fromObject({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: points } }] }] }] }),
    ).finish();
    for (const [signal, body] of [
      ['logs', logs],
      ['metrics', metrics],
    ] as const) {
      const once = admitOtlp(side(), 'otlp_http', signal, body, 'protobuf', TENANT, RECEIVED);
      const sliced = await admitOtlpInSlices(side(), 'otlp_http', signal, body, 'protobuf', TENANT, RECEIVED);
      expect(shippedSpans(sliced.result).map((y) => y.bytes.toString('hex'))).toEqual(shippedSpans(once.result).map((y) => y.bytes.toString('hex')));
      expect(sliced.result.events).toBe(5_000);
    }
  }, 60_000);
});

describe('severityOfText: the SeverityNumber of a level name, for a record sent without one', () => {
  it.each([
    ['TRACE', 1],
    ['debug', 5],
    ['DEBUG2', 6],
    ['Info', 9],
    ['INFO4', 12],
    ['WARN', 13],
    ['warning', 13],
    ['ERROR', 17],
    ['error3', 19],
    ['FATAL', 21],
    ['CRITICAL', 21],
    ['WARNING2', 0],
    ['INFO5', 0],
    ['notice', 0],
    ['constructor', 0],
    ['__proto__', 0],
    [' ERROR', 0],
    ['', 0],
  ])('%s -> %i', (text, number) => {
    expect(severityOfText(text)).toBe(number);
  });
});
