import type { AcceptedSpan, SpanPack } from './span-sink.js';

/** Where span i starts in `pack.data`. */
export function packStart(pack: SpanPack, i: number): number {
  return i === 0 ? 0 : (pack.ends[i - 1] as number);
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
export function packSpans(spans: readonly AcceptedSpan[], requestId?: string): SpanPack {
  let total = 0;
  let events = 0;
  for (const s of spans) {
    total += s.bytes.length + s.stamp.length;
    events += s.events;
  }
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
  return requestId === undefined ? { data, ends, traces, events, own: false } : { data, ends, traces, events, own: false, requestId };
}

/** `pack` without the spans at `drop` (ascending indexes; rare: spans a sink could never take): a new pack. */
export function packWithout(pack: SpanPack, drop: readonly number[], events: number): SpanPack {
  const dropped = new Set(drop);
  const n = pack.ends.length - dropped.size;
  let total = 0;
  for (let i = 0; i < pack.ends.length; i++) if (!dropped.has(i)) total += (pack.ends[i] as number) - packStart(pack, i);
  const data = new Uint8Array(total);
  const ends = new Uint32Array(n);
  const traces = new Uint32Array(n * 2);
  let at = 0;
  let j = 0;
  for (let i = 0; i < pack.ends.length; i++) {
    if (dropped.has(i)) continue;
    data.set(pack.data.subarray(packStart(pack, i), pack.ends[i]), at);
    at += (pack.ends[i] as number) - packStart(pack, i);
    ends[j] = at;
    traces[2 * j] = pack.traces[2 * i] as number;
    traces[2 * j + 1] = pack.traces[2 * i + 1] as number;
    j++;
  }
  return { data, ends, traces, events, own: pack.own, requestId: pack.requestId };
}
