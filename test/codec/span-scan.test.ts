import { describe, expect, it } from 'vitest';
import { decodeSpan, encodeRawSpan } from '../../src/codec/index.js';
import type { SpanFields } from '../../src/codec/index.js';
import { bigIntToLong } from '../../src/codec/protobuf.js';
import { scanTraceSpan } from '../../src/codec/span-scan.js';

const L = (n: bigint | number) => bigIntToLong(BigInt(n));
const trace: SpanFields = {
  traceId: L(7),
  id: L(8),
  parentId: L(7),
  startTimestamp: L(1_000),
  endTimestamp: L(2_000),
  name: 'GET /',
  service: 'web',
  tags: { region: 'eu', host: 'web-1' },
};
const out = new Uint32Array(2);

/** What the full path says: a trace span with nothing else and no rejection, and its trace id. */
function fullPath(bytes: Uint8Array): { plainTrace: boolean; traceId?: bigint } {
  const v = decodeSpan(bytes);
  const plainTrace = v.ok && v.rejections.length === 0 && v.span.isTrace && v.span.metrics.length === 0 && v.span.logs.length === 0;
  return v.ok ? { plainTrace, traceId: BigInt.asUintN(64, v.span.traceId) } : { plainTrace };
}

function scanned(bytes: Uint8Array): bigint | undefined {
  return scanTraceSpan(bytes, out) ? (BigInt(out[1] as number) << 32n) | BigInt(out[0] as number) : undefined;
}

describe('scanTraceSpan: the quick check of plain trace spans', () => {
  it('takes a valid trace span and reads its trace id, including extreme int64 values', () => {
    for (const t of [7n, -1n, 9223372036854775807n, -9223372036854775808n, 0x1_0000_0000n, 0xffff_ffffn]) {
      expect(scanned(encodeRawSpan({ ...trace, traceId: L(t), tenant: 'acme', receivedTimestamp: L(5) }))).toBe(BigInt.asUintN(64, t));
    }
  });

  it.each<[string, SpanFields]>([
    ['no id', { ...trace, id: L(0) }],
    ['no trace id', { ...trace, traceId: L(0) }],
    ['no start', { ...trace, startTimestamp: L(0) }],
    ['no end', { ...trace, endTimestamp: L(0) }],
    ['negative duration', { ...trace, endTimestamp: L(500) }],
    ['negative duration across the sign', { ...trace, startTimestamp: L(1), endTimestamp: L(-1) }],
    ['an empty name with a name tag', { ...trace, name: '', tags: { name: 'legacy' } }],
    ['samples', { ...trace, metrics: [{ name: 'm', value: 1 }] }],
    ['log records', { ...trace, logs: [{ body: 'x' }] }],
    ['a long name', { ...trace, name: 'x'.repeat(2000) }],
    ['a long tag value', { ...trace, tags: { k: 'v'.repeat(70_000) } }],
  ])('leaves %s to the full path', (_what, fields) => {
    expect(scanTraceSpan(encodeRawSpan(fields), out)).toBe(false);
  });

  it('leaves too many tags to the full path', () => {
    const tags: Record<string, string> = {};
    for (let i = 0; i < 1100; i++) tags[`k${i}`] = 'v';
    expect(scanTraceSpan(encodeRawSpan({ ...trace, tags }), out)).toBe(false);
  });

  it('never takes what the full path refuses or changes: random corruptions of valid spans', () => {
    const spans = [
      encodeRawSpan(trace),
      encodeRawSpan({ ...trace, version: -1, error: true, indicator: true, rootStartTimestamp: L(-5), tenant: 't', receivedTimestamp: L(9) }),
      encodeRawSpan({ ...trace, traceId: L(-2), tags: { ü: '💥', '': '' } }),
    ];
    let seed = 42;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let taken = 0;
    for (let round = 0; round < 30_000; round++) {
      const base = spans[round % spans.length] as Uint8Array;
      const bytes = Uint8Array.from(base);
      const kind = random(4);
      if (kind === 0) bytes[random(bytes.length)] = random(256);
      else if (kind === 1) {
        const at = random(bytes.length);
        bytes[at] = (bytes[at] as number) ^ (1 << random(8));
      }
      const cut = kind === 2 ? bytes.subarray(0, random(bytes.length)) : bytes;
      const mixed = kind === 3 ? Uint8Array.from([...bytes, ...[random(256), random(256), random(256)]]) : cut;
      const quick = scanned(mixed);
      if (quick === undefined) continue;
      taken++;
      const full = fullPath(mixed);
      expect({ round, ...full }).toEqual({ round, plainTrace: true, traceId: quick });
    }
    expect(taken).toBeGreaterThan(1000);
  });

  it('leaves varints that protobufjs reads differently to the full path', () => {
    // version (field 1) as a 7-byte varint: protobufjs skips 10 bytes for it.
    const body = encodeRawSpan(trace);
    const odd = Uint8Array.from([0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, ...body]);
    expect(scanTraceSpan(odd, out)).toBe(false);
    // ...and as a 10-byte varint, which both read alike.
    const ten = Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, ...body]);
    expect(scanTraceSpan(ten, out)).toBe(true);
    expect(fullPath(ten).plainTrace).toBe(true);
  });
});
