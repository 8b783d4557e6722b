import type { SpanEvent } from '../../src/codec/types.js';

/** A validated span on its way into the pipeline. */
export interface AcceptedSpan {
  /** The span as validated (tenant stamped). */
  span: SpanEvent;
  /** Its SSFSpan bytes as forwarded: what the client sent, with the tenant (101) and received time (102) appended. */
  bytes: Uint8Array;
}

/** Told how long each acknowledgement took (the gateway's /metrics). */
export interface SinkObserver {
  observeSink(sink: string, seconds: number, records: number, ok: boolean): void;
}

export interface SinkStatus {
  ok: boolean;
  detail: string;
}

/**
 * Where the gateway puts validated spans: Kafka (distributed mode) or the
 * in-process materializer (all-in-one mode). publish() resolves only once
 * the spans are durable (Kafka acks=all, or the ClickHouse insert), so an
 * HTTP 2xx is never given for data that could still be lost.
 */
export interface SpanSink {
  readonly name: string;
  observer?: SinkObserver | undefined;
  /** False while the buffer is full or the backend is down: UDP drops (and counts) rather than queues. */
  readonly accepting: boolean;
  /** Rejects with GatewayError GW_ERR_UNAVAILABLE when the spans cannot be taken. */
  publish(spans: AcceptedSpan[]): Promise<void>;
  status(): SinkStatus;
  /** Flushes what is buffered, then closes. */
  close(): Promise<void>;
}
