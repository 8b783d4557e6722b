import type { SpanEvent } from '../../src/codec/types.js';
import { parseStatsdPacket } from './parse-statsd.js';
import { spanEvent } from '../../src/codec/span-event.js';

/**
 * One statsd datagram -> SSF: its samples and events travel in one carrier
 * span (not a trace span), like any bare metric or log in SSF.
 */
export function statsdToSpans(packet: Buffer, receivedNs: bigint): { spans: SpanEvent[]; refused: Array<{ code: string }> } {
  const r = parseStatsdPacket(packet, receivedNs);
  if (r.samples.length === 0 && r.logs.length === 0) return { spans: [], refused: r.rejections };
  return {
    refused: r.rejections,
    spans: [spanEvent({ metrics: r.samples, logs: r.logs, isTrace: false })],
  };
}
