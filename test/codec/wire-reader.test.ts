import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { encodeBatchOfEncoded, encodeRawSpan } from '../../src/codec/index.js';
import { splitBatch } from '../../src/codec/protobuf.js';
import { WireReader } from '../../src/codec/wire-reader.js';
import { seededRandom } from '../setup/random.js';

const rand = seededRandom(23);
const int = (n: number): number => Math.floor(rand() * n);

/** A random 64-bit value as protobufjs's {low, high}, biased to the edges of each varint length. */
function randomLong(): { low: number; high: number; unsigned: boolean } {
  const bits = int(65);
  if (bits === 0) return { low: 0, high: 0, unsigned: false };
  const low = bits >= 32 ? int(2 ** 32) : int(2 ** bits);
  const high = bits > 32 ? int(2 ** (bits - 32)) : 0;
  return { low: low | 0, high: high | 0, unsigned: false };
}

/** splitBatch as it was written with protobufjs's reader (the reference). */
function referenceSplit(bytes: Uint8Array): Uint8Array[] | undefined {
  const reader = protobuf.Reader.create(bytes);
  const spans: Uint8Array[] = [];
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const field = tag >>> 3;
      if (field === 1 && (tag & 7) === 2) {
        const length = reader.uint32();
        const start = reader.pos;
        if (start + length > reader.len) return undefined;
        spans.push(bytes.subarray(start, start + length));
        reader.pos = start + length;
      } else if (field === 0) {
        return undefined;
      } else {
        reader.skipType(tag & 7);
      }
    }
  } catch {
    return undefined;
  }
  return spans;
}

function ourSplit(bytes: Uint8Array): Uint8Array[] | undefined {
  try {
    return splitBatch(bytes);
  } catch {
    return undefined;
  }
}

describe('WireReader: the protobuf wire format read by hand', () => {
  it('reads what protobufjs writes: varints, fixed64, floats, lengths, and skips each wire type', () => {
    const r = new WireReader();
    for (let i = 0; i < 1000; i++) {
      const long = randomLong();
      const u32 = int(2 ** 32);
      const f = Math.fround((rand() - 0.5) * 10 ** int(30));
      const text = 'x'.repeat(int(300));
      const w = protobuf.Writer.create();
      w.uint64(long).uint32(u32).fixed64(long).float(f).string(text).uint32(0);
      const bytes = w.finish();
      r.reset(bytes);
      const end = bytes.length;
      expect(r.varint64(end)).toBe(true);
      expect([r.lo, r.hi]).toEqual([long.low >>> 0, long.high | 0]);
      expect(r.varint32(end)).toBe(u32);
      expect(r.fixed64(end)).toBe(true);
      expect([r.lo, r.hi]).toEqual([long.low >>> 0, long.high | 0]);
      expect(r.float32(end)).toBe(f);
      const stop = r.delimited(end);
      expect(Buffer.from(bytes.subarray(r.pos, stop)).toString()).toBe(text);
      r.pos = stop;
      expect(r.varint32(end)).toBe(0);
      expect(r.pos).toBe(end);
      // The same bytes skipped field by field, by wire type.
      r.reset(bytes);
      for (const wire of [0, 0, 1, 5, 2, 0]) expect(r.skip(wire, end)).toBe(true);
      expect(r.pos).toBe(end);
    }
  });

  it('says so instead of reading past the end, an over-long varint or an unknown wire type', () => {
    const r = new WireReader();
    const long = Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    r.reset(long);
    expect(r.varint64(long.length)).toBe(false);
    r.reset(long);
    expect(r.skipVarint(long.length)).toBe(-1);
    r.reset(long);
    expect(r.varint32(long.length)).toBe(-1);
    const cut = Uint8Array.from([0x96, 0x81]);
    for (const read of [() => r.varint32(2), () => (r.varint64(2) ? 0 : -1), () => r.skipVarint(2), () => r.fixed32(2)]) {
      r.reset(cut);
      expect(read()).toBe(-1);
      expect(r.pos).toBe(0);
    }
    r.reset(Uint8Array.from([0x05, 0x61]));
    expect(r.delimited(2)).toBe(-1);
    r.reset(Uint8Array.from([0x00]));
    expect(r.skip(6, 1)).toBe(false);
    expect(r.skip(7, 1)).toBe(false);
    // A group (start 3 ... end 4) is skipped whole, as protobufjs's skipType does.
    const group = Uint8Array.from([0x08, 0x96, 0x01, 0x12, 0x01, 0x61, 0x0c]);
    r.reset(group);
    expect(r.skip(3, group.length)).toBe(true);
    expect(r.pos).toBe(group.length);
  });
});

describe('splitBatch on the wire reader', () => {
  const span = (i: number): Uint8Array =>
    encodeRawSpan({ id: { low: i, high: 0, unsigned: false }, traceId: { low: 7, high: 0, unsigned: false }, name: `op-${i}`, service: 'svc' });

  it('splits random and mutated batches exactly as the protobufjs reader did', () => {
    let agreedOk = 0;
    let agreedBad = 0;
    for (let i = 0; i < 20_000; i++) {
      const n = int(6);
      const parts = Array.from({ length: n }, (_, j) => span(j + i));
      let batch = Buffer.from(encodeBatchOfEncoded(parts));
      // Unknown fields of every wire type, as another writer might add them.
      if (int(3) === 0) {
        const w = protobuf.Writer.create();
        w.uint32((2 + int(30)) << 3).uint64({ low: int(2 ** 32), high: int(2 ** 20), unsigned: true });
        w.uint32(((2 + int(30)) << 3) | 1).fixed64({ low: 1, high: 2, unsigned: false });
        w.uint32(((2 + int(30)) << 3) | 5).fixed32(3);
        w.uint32(((2 + int(30)) << 3) | 2).string('unknown');
        batch = Buffer.concat([batch, w.finish()]);
      }
      const mutated = Buffer.from(batch);
      for (let k = int(4); k > 0 && mutated.length > 0; k--) mutated[int(mutated.length)] = int(256);
      const cut = int(4) === 0 ? mutated.subarray(0, int(mutated.length + 1)) : mutated;
      const ours = ourSplit(cut);
      const ref = referenceSplit(cut);
      if (ref === undefined) {
        expect(ours).toBeUndefined();
        agreedBad++;
      } else {
        expect(ours?.map((s) => Buffer.from(s).toString('hex'))).toEqual(ref.map((s) => Buffer.from(s).toString('hex')));
        agreedOk++;
      }
    }
    // Both kinds of input were really exercised.
    expect(agreedOk).toBeGreaterThan(1000);
    expect(agreedBad).toBeGreaterThan(1000);
  });
});
