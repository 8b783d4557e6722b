/** A 128-bit OTLP trace id as SSF holds it: the low 64 bits in trace_id, the high in trace_id_high (signed, as Int64). */
export interface TraceId128 {
  low: bigint;
  high: bigint;
}

function int64At(b: Uint8Array, at: number): bigint {
  return Buffer.from(b.buffer, b.byteOffset + at, 8).readBigInt64BE(0);
}

/**
 * The trace id of a span, link or log record: 16 bytes (big-endian, as
 * hex-printed), or absent (empty: no trace). A wrong length, or an id whose
 * low 64 bits are zero (SSF's "no trace"), is a bad id: undefined.
 */
export function traceIdOf(b: Uint8Array | null | undefined): TraceId128 | undefined {
  if (!b || b.length === 0) return { low: 0n, high: 0n };
  if (b.length !== 16) return undefined;
  const id = { high: int64At(b, 0), low: int64At(b, 8) };
  if (id.low === 0n && id.high !== 0n) return undefined;
  return id;
}

/** A span id: 8 bytes, or absent (0n). A wrong length is a bad id: undefined. */
export function spanIdOf(b: Uint8Array | null | undefined): bigint | undefined {
  if (!b || b.length === 0) return 0n;
  if (b.length !== 8) return undefined;
  return int64At(b, 0);
}

/** Lowercase hex of an id's bytes (links keep their ids in this form). */
export function hexOf(b: Uint8Array | null | undefined): string {
  return b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : '';
}
