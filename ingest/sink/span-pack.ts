import type { AcceptedSpan } from './span-sink.js';

/**
 * Spans as three flat arrays, what the gateway hands to the Kafka thread:
 * one copy into memory that is then transferred, not cloned (a structured
 * clone of one object per span cost more than the span's validation).
 */
export interface SpanPack {
  /** The forwarded bytes of every span, one after the other. */
  data: Uint8Array;
  /** Where each span ends in `data` (the next one starts there). */
  ends: Uint32Array;
  /** The trace id of each span: low, then high 32 bits (unsigned); 0, 0 outside a trace. */
  traces: Uint32Array;
}

/** Bytes a pack holds in the produce buffer (as counted before packs: 4 per span for the framing). */
export function packSize(pack: SpanPack): number {
  return pack.data.byteLength + 4 * pack.ends.length;
}

/** The ArrayBuffers of a pack, to transfer with postMessage. */
export function packTransfer(pack: SpanPack): ArrayBuffer[] {
  return [pack.data.buffer as ArrayBuffer, pack.ends.buffer as ArrayBuffer, pack.traces.buffer as ArrayBuffer];
}

/** Accepted spans -> a pack: each span's bytes followed by its stamp (tenant, received time). */
export function packSpans(spans: readonly AcceptedSpan[]): SpanPack {
  let total = 0;
  for (const s of spans) total += s.bytes.length + s.stamp.length;
  const data = new Uint8Array(total);
  const ends = new Uint32Array(spans.length);
  const traces = new Uint32Array(spans.length * 2);
  let at = 0;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i] as AcceptedSpan;
    data.set(s.bytes, at);
    at += s.bytes.length;
    if (s.stamp.length > 0) {
      data.set(s.stamp, at);
      at += s.stamp.length;
    }
    ends[i] = at;
    traces[2 * i] = s.traceLo;
    traces[2 * i + 1] = s.traceHi;
  }
  return { data, ends, traces };
}
