import { describe, expect, it } from 'vitest';
import { tracePartition, tracePartitionOf } from '../../src/kafka/record-format.js';

/** The partition function as first written (bigint arithmetic): the records already in Kafka were placed with it. */
function reference(traceId: bigint, partitions: number): number {
  const mixed = BigInt.asUintN(64, traceId) * 0x9e3779b97f4a7c15n;
  return Number((BigInt.asUintN(64, mixed) >> 32n) % BigInt(partitions));
}

describe('tracePartition', () => {
  it('gives the same partition as the bigint formula, in 32-bit arithmetic', () => {
    let seed = 7;
    const next32 = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    const ids = [0n, 1n, -1n, 0xffff_ffffn, 0x1_0000_0000n, 9223372036854775807n, -9223372036854775808n];
    for (let i = 0; i < 20_000; i++) ids.push(BigInt.asIntN(64, (BigInt(next32()) << 32n) | BigInt(next32())));
    for (const id of ids) {
      for (const partitions of [1, 3, 6, 7, 64, 1000]) {
        const want = reference(id, partitions);
        const u = BigInt.asUintN(64, id);
        expect(tracePartition(id, partitions)).toBe(want);
        expect(tracePartitionOf(Number(u & 0xffff_ffffn), Number(u >> 32n), partitions)).toBe(want);
      }
    }
  });
});
