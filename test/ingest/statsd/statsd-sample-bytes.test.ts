import { describe, expect, it } from 'vitest';
import { CardinalityGuard } from '../../../ingest/gateway/cardinality-guard.js';
import { GatewayMetrics } from '../../../ingest/gateway/gateway-metrics.js';
import { SpanIntake } from '../../../ingest/gateway/span-intake.js';
import type { IntakeResult } from '../../../ingest/gateway/span-intake.js';
import { StatsdSampleEncoder } from '../../../ingest/statsd/statsd-sample-bytes.js';
import { statsdToSpans } from '../../../ingest/statsd/statsd-spans.js';
import { decodeSpan } from '../../../src/codec/index.js';
import { statsdDatagrams } from './statsd-datagrams.js';

const RECEIVED = 1_763_000_000_123_456_789n;
const TENANT = 'acme';
const MS = 1_000_000n;
/** The accepted times: the first 300 groups below (one a millisecond from RECEIVED) are too old for samples. */
const WINDOW = { spansFrom: 0, logsFrom: 0, samplesFrom: Number(RECEIVED + 300n * MS), to: Number(RECEIVED + 1_000_000n * MS) };

const { int, datagram } = statsdDatagrams(31);

/** What reaches the sink: each accepted span's bytes and stamp, as one hex string, and the event counts. */
function shipped(r: IntakeResult): { spans: string[]; events: number[] } {
  return {
    spans: r.accepted.map((a) => Buffer.concat([a.bytes, a.stamp]).toString('hex')),
    events: r.accepted.map((a) => a.events),
  };
}

function intakes(limit: number): { fast: SpanIntake; general: SpanIntake; metrics: [GatewayMetrics, GatewayMetrics] } {
  const metrics: [GatewayMetrics, GatewayMetrics] = [new GatewayMetrics(), new GatewayMetrics()];
  return {
    fast: new SpanIntake(metrics[0], new CardinalityGuard(limit), () => WINDOW),
    general: new SpanIntake(metrics[1], new CardinalityGuard(limit), () => WINDOW),
    metrics,
  };
}

describe('statsd lines straight to SSFSample bytes', () => {
  it('gives the bytes of parseStatsdPacket + encodeSpan, the same counts and guard decisions, on random and mutated datagrams', async () => {
    const encoder = new StatsdSampleEncoder();
    // A small limit, so that the guard folds some samples (the fast path then declines).
    const { fast, general, metrics } = intakes(300);
    let fastTaken = 0;
    let declined = 0;
    for (let i = 0; i < 10_000; i++) {
      const group = Array.from({ length: 1 + int(3) }, datagram);
      const now = RECEIVED + BigInt(i) * MS;
      const a = fast.fromStatsd(group, TENANT, 'statsd', now, statsdToSpans, encoder);
      const b = general.fromStatsd(group, TENANT, 'statsd', now, statsdToSpans);
      expect(shipped(a)).toEqual(shipped(b));
      expect(a.events).toBe(b.events);
      // The fast path forwards its bytes with the stamp beside them; the general path encodes the stamp in.
      for (const span of a.accepted) {
        if (span.stamp.length > 0) fastTaken++;
        else declined++;
      }
    }
    // The fast path's bytes decode to valid spans, and both paths were exercised.
    expect(fastTaken).toBeGreaterThan(1000);
    expect(declined).toBeGreaterThan(2000);
    const rendered = await metrics[0].registry.render();
    expect(rendered).toBe(await metrics[1].registry.render());
    // Some samples were out of the accepted times, some folded by the guard (the fast path declined those datagrams).
    expect(rendered).toMatch(/ssf_gateway_refused_total\{protocol="statsd",code="SSF_TIME_OUT_OF_RANGE"\} [1-9]/);
    expect(rendered).toMatch(/ssf_gateway_cardinality_overflow_total\{[^}]*\} [1-9]/);
  }, 120_000);

  it('takes the bench datagram whole, and its bytes decode to the samples the parser gives', () => {
    const encoder = new StatsdSampleEncoder();
    const lines = Array.from({ length: 20 }, (_, i) => `bench.requests:${i}|c|#route:/x,code:200\nbench.latency:${i}.5|ms|#route:/x`).join('\n');
    const { fast } = intakes(1000);
    const at = RECEIVED + 400n * MS;
    const r = fast.fromStatsd([Buffer.from(lines)], TENANT, 'statsd', at, statsdToSpans, encoder);
    expect(r.accepted).toHaveLength(1);
    const only = r.accepted[0];
    expect(only?.events).toBe(40);
    const v = decodeSpan(Buffer.concat([only?.bytes ?? new Uint8Array(0), only?.stamp ?? new Uint8Array(0)]));
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.span.tenant).toBe(TENANT);
    expect(v.span.metrics).toHaveLength(40);
    expect(v.span.metrics[3]).toMatchObject({ type: 'histogram', name: 'bench.latency', value: 1.5, unit: 'ms', tags: { route: '/x' }, timestamp: at });
  });

  it('asks the guard again when its window rolls over (the memo never outlives a window)', () => {
    const t0 = Date.now();
    const guard = new CardinalityGuard(1, 1000);
    const encoder = new StatsdSampleEncoder();
    const a = Buffer.from('m:1|c|#k:a');
    const b = Buffer.from('m:1|c|#k:b');
    expect(encoder.encode(a, RECEIVED, guard, TENANT, t0)?.length).toBeGreaterThan(0);
    expect(encoder.encode(a, RECEIVED, guard, TENANT, t0 + 10)?.length).toBeGreaterThan(0);
    expect(encoder.encode(b, RECEIVED, guard, TENANT, t0 + 10)).toBeUndefined(); // folded: the general path
    // Next window: b is admitted first; a (remembered from the last window) is then folded.
    expect(encoder.encode(b, RECEIVED, guard, TENANT, t0 + 2000)?.length).toBeGreaterThan(0);
    expect(encoder.encode(a, RECEIVED, guard, TENANT, t0 + 2000)).toBeUndefined();
    // Another tenant has its own tag sets.
    expect(encoder.encode(a, RECEIVED, guard, 'other', t0 + 2000)?.length).toBeGreaterThan(0);
  });
});
