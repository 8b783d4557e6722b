/**
 * W3C Trace Context (`traceparent`) for SSF's 64-bit ids.
 *
 * SSF ids are signed int64; W3C has a 128-bit trace-id and a 64-bit
 * parent-id, both lowercase hex. The mapping:
 * - inject: trace-id = `traceIdHigh` (64 bits, 0 for traces that started in
 *   SSF) followed by the SSF trace_id as an unsigned 64-bit number;
 *   parent-id = the span id as unsigned 64-bit.
 * - extract: the SSF trace_id is the low 64 bits of the trace-id read as
 *   signed int64; the high 64 bits are kept in `traceIdHigh` so that the
 *   same 128-bit id is sent on downstream (and recorded in the span tag
 *   `w3c.trace_id_high`). If the low 64 bits are zero, the high 64 bits
 *   become the SSF trace_id (0 means "no trace" in SSF).
 */
export interface SpanContext {
  traceId: bigint;
  spanId: bigint;
  /** The high 64 bits of a 128-bit W3C trace-id (0n when the trace began in SSF). */
  traceIdHigh: bigint;
  sampled: boolean;
  /** True when the context came from another process (extractTraceparent). */
  remote: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function hex64(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, '0');
}

/** The `traceparent` header value for a span context. */
export function injectTraceparent(ctx: SpanContext): string {
  return `00-${hex64(ctx.traceIdHigh)}${hex64(ctx.traceId)}-${hex64(ctx.spanId)}-${ctx.sampled ? '01' : '00'}`;
}

/** Parses a `traceparent` header; undefined when absent or invalid (as the W3C spec asks: start a new trace). */
export function extractTraceparent(header: string | readonly string[] | undefined): SpanContext | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m) return undefined;
  const version = m[1] ?? '';
  const traceHex = m[2] ?? '';
  const parentHex = m[3] ?? '';
  const flags = m[4] ?? '00';
  const rest = m[5];
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  const high = BigInt(`0x${traceHex.slice(0, 16)}`);
  const low = BigInt(`0x${traceHex.slice(16)}`);
  const spanId = BigInt.asIntN(64, BigInt(`0x${parentHex}`));
  if ((high === 0n && low === 0n) || spanId === 0n) return undefined;
  return {
    traceId: BigInt.asIntN(64, low !== 0n ? low : high),
    traceIdHigh: low !== 0n ? BigInt.asIntN(64, high) : 0n,
    spanId,
    sampled: (Number.parseInt(flags, 16) & 1) === 1,
    remote: true,
  };
}
