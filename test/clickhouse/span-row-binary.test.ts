import { describe, expect, it } from 'vitest';
import { decodeSpan, encodeBatch, encodeSpan } from '../../src/codec/index.js';
import type { LogRecord, MetricSample, SpanEvent } from '../../src/codec/index.js';
import { splitBatch } from '../../src/codec/protobuf.js';
import { EventRowBinary } from '../../src/clickhouse/event-row-binary.js';
import { RowBinaryWriter } from '../../src/clickhouse/row-binary.js';
import { appendSpanBytes } from '../../src/clickhouse/span-row-binary.js';
import { seededRandom } from '../setup/random.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { setTag } from '../../src/codec/tag-map.js';

const RECEIVED = 1_763_000_000_123_456_789n;
const received = (): bigint => RECEIVED;

function body(out: EventRowBinary): Record<string, string> {
  return {
    spans: `${out.spans.rows}:${Buffer.concat(out.spans.chunks()).toString('hex')}`,
    logs: `${out.logs.rows}:${Buffer.concat(out.logs.chunks()).toString('hex')}`,
    samples: `${out.samples.rows}:${Buffer.concat(out.samples.chunks()).toString('hex')}`,
  };
}

/** The codec's path, as the materializer takes it for a span the fast path declines. */
function slowPath(out: EventRowBinary, bytes: Uint8Array): boolean {
  const v = decodeSpan(bytes);
  if (!v.ok) return false;
  if (v.span.receivedTimestamp === 0n) v.span.receivedTimestamp = RECEIVED;
  out.append(v.span);
  return true;
}

const rand = seededRandom(11);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
const STRINGS = [
  '',
  'a',
  'checkout',
  'GET /api/v1/orders/{id}',
  'Grüße, 世界 🚀',
  'x'.repeat(40),
  'y'.repeat(300),
  'name',
  '1abc',
  '__proto__',
  'tab\there "quoted"\n',
];
const big = (): bigint =>
  pick([0n, 1n, -1n, 42n, 9_223_372_036_854_775_807n, -9_223_372_036_854_775_808n, 1_700_000_000_000_000_000n + BigInt(int(1e9)), BigInt(int(2 ** 31)) << 20n]);
const tags = (): Record<string, string> => {
  const m: Record<string, string> = {};
  // setTag: "__proto__" among the keys is an entry (an assignment would drop it).
  for (let i = int(5); i > 0; i--) setTag(m, pick(STRINGS.slice(1)), pick(STRINGS));
  return m;
};

function sample(): MetricSample {
  return {
    type: pick(['counter', 'gauge', 'histogram', 'set', 'status'] as const),
    name: pick(STRINGS),
    value: pick([0, -0, 1, 0.5, -3.25, 1e30, 123456.789]),
    timestamp: pick([0n, big()]),
    message: pick(STRINGS),
    status: pick(['ok', 'warning', 'critical', 'unknown'] as const),
    sampleRate: pick([1, 0.5, 0.1, 0.25]),
    tags: tags(),
    unit: pick(['', 'ms', 'By']),
    scope: pick(['default', 'local', 'global'] as const),
  };
}

function log(): LogRecord {
  const severityNumber = int(25);
  return { timestamp: pick([0n, big()]), severity: 'info', severityNumber, body: pick(STRINGS), attributes: tags() };
}

function event(): SpanEvent {
  const start = big();
  return spanEvent(
    spanEvent({
      version: pick([0, 0, 1]),
      traceId: big(),
      traceIdHigh: pick([0n, 0n, big()]),
      id: big(),
      parentId: big(),
      startTimestamp: start,
      endTimestamp: pick([start + BigInt(int(1e9)), big(), 0n]),
      rootStartTimestamp: pick([0n, big()]),
      error: rand() < 0.3,
      service: pick(STRINGS),
      name: pick(STRINGS),
      indicator: rand() < 0.3,
      tags: tags(),
      metrics: Array.from({ length: int(3) }, sample),
      logs: Array.from({ length: int(3) }, log),
      tenant: pick(['', 'acme', 'tenant-ü']),
      receivedTimestamp: pick([0n, RECEIVED, big()]),
      isTrace: false,
    }),
  );
}

describe('SSF span bytes straight to RowBinary', () => {
  it('reads a span inside a larger buffer ([start, end), as from a SpanPack) as it reads it alone', () => {
    const rand = seededRandom(41);
    let taken = 0;
    for (let i = 0; i < 2_000; i++) {
      const bytes = encodeSpan(event());
      // Junk before and after: a field the scan would read (or fail on) if it left [start, end).
      const before = Buffer.from(Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 256)));
      const after = Buffer.from([0x42, 0x05, 0x78, 0x78, 0x78, 0x78, 0x78, 0xff, 0xff]);
      const inside = Buffer.concat([before, bytes, after]);
      const alone = new EventRowBinary('dflt');
      const within = new EventRowBinary('dflt');
      const took = appendSpanBytes(alone, bytes, received);
      expect(appendSpanBytes(within, inside, received, false, before.length, before.length + bytes.length)).toBe(took);
      expect(body(within)).toEqual(body(alone));
      if (took) taken++;
    }
    expect(taken).toBeGreaterThan(200);
  });

  it('writes what the codec and EventRowBinary.append write, for the spans it takes', () => {
    let taken = 0;
    let declined = 0;
    for (let i = 0; i < 5_000; i++) {
      const bytes = encodeSpan(event());
      const fast = new EventRowBinary('dflt');
      const slow = new EventRowBinary('dflt');
      const took = appendSpanBytes(fast, bytes, received);
      const v = decodeSpan(bytes);
      if (took) {
        taken++;
        // Taken only when the codec takes the span whole.
        expect(v.ok && v.rejections).toEqual([]);
        slowPath(slow, bytes);
        expect(body(fast)).toEqual(body(slow));
      } else {
        declined++;
        expect(fast.total).toBe(0);
        expect(Buffer.concat([...fast.spans.chunks(), ...fast.logs.chunks(), ...fast.samples.chunks()]).length).toBe(0);
      }
    }
    // Random data has many refusals (empty names, ...); both paths must be exercised.
    expect(taken).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(500);
  });

  it('takes the common spans: a trace span with a sample and a log, a statsd carrier', () => {
    const span: SpanEvent = spanEvent({
      traceId: 77n,
      traceIdHigh: -5n,
      id: 78n,
      parentId: 77n,
      startTimestamp: 1_763_000_000_000_000_000n,
      endTimestamp: 1_763_000_000_001_234_567n,
      service: 'web',
      name: 'GET /',
      indicator: true,
      tags: { 'http.method': 'GET', host: 'h-1' },
      metrics: [
        {
          type: 'counter',
          name: 'requests',
          value: 1,
          timestamp: 0n,
          message: '',
          status: 'ok',
          sampleRate: 1,
          tags: { route: '/r1' },
          unit: '',
          scope: 'default',
        },
      ],
      logs: [{ timestamp: 0n, severity: 'info', severityNumber: 9, body: 'served', attributes: { user: 'u1' } }],
      tenant: 'default',
      receivedTimestamp: RECEIVED,
      isTrace: true,
    });
    const carrier: SpanEvent = {
      ...span,
      traceId: 0n,
      id: 0n,
      parentId: 0n,
      startTimestamp: 0n,
      endTimestamp: 0n,
      name: '',
      service: '',
      tags: {},
      logs: [],
      isTrace: false,
    };
    for (const e of [span, carrier]) {
      const fast = new EventRowBinary();
      const slow = new EventRowBinary();
      expect(appendSpanBytes(fast, encodeSpan(e), received)).toBe(true);
      slowPath(slow, encodeSpan(e));
      expect(body(fast)).toEqual(body(slow));
    }
  });

  it('takes a "__proto__" key as an ordinary entry, as the codec keeps it', () => {
    const tags = (): Record<string, string> => {
      const m: Record<string, string> = { a: '1' };
      setTag(m, '__proto__', 'kept');
      m['z'] = '2';
      return m;
    };
    const span = spanEvent({ traceId: 5n, id: 6n, startTimestamp: RECEIVED, endTimestamp: RECEIVED + 1n, service: 's', name: 'n', tags: tags() });
    span.metrics.push({
      type: 'gauge',
      name: 'g',
      value: 1,
      timestamp: RECEIVED,
      message: '',
      status: 'ok',
      sampleRate: 1,
      tags: tags(),
      unit: '',
      scope: 'default',
    });
    span.logs.push({ timestamp: RECEIVED, severity: 'info', severityNumber: 9, body: 'b', attributes: tags() });
    const bytes = encodeSpan(span);
    const v = decodeSpan(bytes);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    for (const m of [v.span.tags, v.span.metrics[0]?.tags, v.span.logs[0]?.attributes]) {
      expect(Object.entries(m ?? {})).toEqual([
        ['a', '1'],
        ['__proto__', 'kept'],
        ['z', '2'],
      ]);
      expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    }
    const fast = new EventRowBinary();
    const slow = new EventRowBinary();
    expect(appendSpanBytes(fast, bytes, received)).toBe(true);
    slowPath(slow, bytes);
    expect(body(fast)).toEqual(body(slow));
    expect(Buffer.concat(fast.spans.chunks()).includes('__proto__')).toBe(true);
  });

  it('never takes a span the codec refuses or changes, on mutated bytes', () => {
    const frand = seededRandom(5);
    let taken = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.from(encodeSpan(event()));
      const flips = 1 + Math.floor(frand() * 3);
      for (let k = 0; k < flips && bytes.length > 0; k++) bytes[Math.floor(frand() * bytes.length)] = Math.floor(frand() * 256);
      const cut = frand() < 0.2 ? bytes.subarray(0, Math.floor(frand() * bytes.length)) : bytes;
      const fast = new EventRowBinary();
      if (appendSpanBytes(fast, cut, received)) {
        taken++;
        const v = decodeSpan(cut);
        expect(v.ok && v.rejections).toEqual([]);
        const slow = new EventRowBinary();
        slowPath(slow, cut);
        expect(body(fast)).toEqual(body(slow));
      } else {
        expect(fast.total).toBe(0);
      }
    }
    expect(taken).toBeGreaterThan(1_000);
  });

  it('leaves earlier rows alone when it declines after writing', () => {
    const out = new EventRowBinary();
    const good = encodeSpan({
      ...event(),
      name: 'ok',
      traceId: 1n,
      id: 2n,
      startTimestamp: 10n,
      endTimestamp: 20n,
      tags: {},
      metrics: [],
      logs: [],
      tenant: 'a',
    });
    expect(appendSpanBytes(out, good, received)).toBe(true);
    const before = body(out);
    // A valid trace span whose second sample is invalid (no name): written, then undone.
    const bad = encodeSpan({
      ...event(),
      name: 'ok',
      traceId: 1n,
      id: 3n,
      startTimestamp: 10n,
      endTimestamp: 20n,
      tags: {},
      logs: [],
      tenant: 'a',
      metrics: [
        { ...sample(), name: 'fine', value: 1, sampleRate: 1 },
        { ...sample(), name: '' },
      ],
    });
    expect(appendSpanBytes(out, bad, received)).toBe(false);
    expect(body(out)).toEqual(before);
  });

  it('reads the spans of a batch the gateway wrote', () => {
    const events = Array.from({ length: 50 }, () => ({ ...event(), name: 'op', traceId: 5n, id: 6n, startTimestamp: 100n, endTimestamp: 200n }));
    const fast = new EventRowBinary();
    const slow = new EventRowBinary();
    for (const part of splitBatch(encodeBatch(events))) {
      if (!appendSpanBytes(fast, part, received)) slowPath(fast, part);
      slowPath(slow, part);
    }
    expect(body(fast)).toEqual(body(slow));
  });
});

describe('RowBinaryWriter', () => {
  it('spans chunks and rewinds across them', () => {
    const w = new RowBinaryWriter(16);
    w.string('abc');
    w.mark();
    for (let i = 0; i < 20; i++) w.string('0123456789');
    w.rewind();
    w.string('d');
    expect(Buffer.concat(w.chunks()).toString('hex')).toBe(Buffer.from([3, 0x61, 0x62, 0x63, 1, 0x64]).toString('hex'));
    const long = 'é'.repeat(100);
    w.string(long);
    const all = Buffer.concat(w.chunks());
    expect(all.subarray(6, 8)).toEqual(Buffer.from([200, 1]));
    expect(all.subarray(8).toString('utf8')).toBe(long);
  });
});

describe('rows written apart, then appended (the ClickHouse sink writes each request apart)', () => {
  it('RowBinaryWriter.append: the same bytes and rows as one writer, whatever the chunk sizes', () => {
    for (const [partChunk, allChunk] of [
      [16, 16],
      [7, 1 << 20],
      [64 << 10, 1 << 20],
    ] as const) {
      const one = new RowBinaryWriter(allChunk);
      const all = new RowBinaryWriter(allChunk);
      for (let p = 0; p < 6; p++) {
        const part = new RowBinaryWriter(partChunk);
        // Part 2 writes nothing: its writer never allocates a chunk, and adds nothing.
        const n = p === 2 ? 0 : 1 + int(40);
        for (let i = 0; i < n; i++) {
          const s = `row ${p}.${i} ${'x'.repeat(int(30))}`;
          for (const w of [one, part]) {
            w.string(s);
            w.i64Parts(i, p);
            w.rows++;
          }
        }
        if (p === 2) expect(part.chunks()).toEqual([]);
        all.append(part);
        // Written to again after an append (and undone): still in order.
        all.mark();
        all.string('undone');
        all.rewind();
      }
      expect(all.rows).toBe(one.rows);
      expect(all.byteLength).toBe(one.byteLength);
      expect(Buffer.concat(all.chunks()).toString('hex')).toBe(Buffer.concat(one.chunks()).toString('hex'));
    }
  });

  it('EventRowBinary.appendBatch: the rows of spans appended request by request are those of one batch', () => {
    const one = new EventRowBinary();
    const all = new EventRowBinary();
    for (let p = 0; p < 5; p++) {
      const part = new EventRowBinary('default', 64 << 10);
      for (let i = 0; i < 30; i++) {
        const bytes = encodeSpan(event());
        if (!appendSpanBytes(part, bytes, received)) slowPath(part, bytes);
        if (!appendSpanBytes(one, bytes, received)) slowPath(one, bytes);
      }
      all.appendBatch(part);
    }
    expect(all.total).toBe(one.total);
    expect(body(all)).toEqual(body(one));
  });
});
