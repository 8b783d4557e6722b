import type { IHeaders } from 'kafkajs';

/*
 * The one Kafka record format of the spans topic (docs/architecture.md,
 * "Kafka topics and record format"): written by the gateway, read by the
 * materializer and the replay job.
 */

/** Header `ssf-format` of a record whose value is an SSFBatch (what the gateway writes). */
export const BATCH_FORMAT = 'ssf-batch/1';
/** `ssf-format` of a record holding one SSFSpan (also: no header). */
export const SPAN_FORMAT = '1';
/** Largest record value the gateway writes; Kafka's default max.message.bytes is 1 MiB. */
export const MAX_RECORD_BYTES = 512 * 1024;

/** The first value of a record header, as text. */
export function headerOf(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
}

/** The record's `ssf-format` (SPAN_FORMAT when absent). */
export function formatOf(headers: IHeaders | undefined): string {
  return headerOf(headers, 'ssf-format') ?? SPAN_FORMAT;
}

/** Bytes an SSFBatch entry of a span of `length` bytes takes: tag, varint length, span. */
export function batchEntrySize(length: number): number {
  return length + (length < 0x80 ? 2 : length < 0x4000 ? 3 : length < 0x200000 ? 4 : 5);
}

/**
 * Writes `source[start, end)` into `value` at `at` as one SSFBatch entry
 * (field 1, wire type 2: tag 0x0a, the length as a varint, the span) and
 * returns the position after it.
 */
export function writeBatchEntry(value: Buffer, at: number, source: Buffer, start: number, end: number): number {
  value[at++] = 0x0a;
  let length = end - start;
  while (length >= 0x80) {
    value[at++] = (length & 0x7f) | 0x80;
    length >>>= 7;
  }
  value[at++] = length;
  return at + source.copy(value, at, start, end);
}

// tracePartition's multiplier, 0x9e3779b97f4a7c15, as 32-bit halves.
const MIX_HI = 0x9e3779b9;
const MIX_LO = 0x7f4a7c15;

/**
 * tracePartition() of a trace id given as unsigned 32-bit halves, in 32-bit
 * arithmetic (no bigint per span): bits 32-63 of trace_id * MIX (mod 2^64)
 * are the high half of lo * MIX_LO plus the low halves of lo * MIX_HI and
 * hi * MIX_LO.
 */
export function tracePartitionOf(lo: number, hi: number, partitions: number): number {
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  const b0 = MIX_LO & 0xffff;
  const b1 = MIX_LO >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const high = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  const mixed = (high + (Math.imul(lo, MIX_HI) >>> 0) + (Math.imul(hi, MIX_LO) >>> 0)) % 0x1_0000_0000;
  return mixed % partitions;
}

const TWO_32 = 0x1_0000_0000n;

/** The partition of a trace: stable, so every span of a trace lands on the same one. */
export function tracePartition(traceId: bigint, partitions: number): number {
  const t = BigInt.asUintN(64, traceId);
  return tracePartitionOf(Number(t % TWO_32), Number(t / TWO_32), partitions);
}
