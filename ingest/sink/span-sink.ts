/** A validated span on its way into the pipeline. */
export interface AcceptedSpan {
  /** Its SSFSpan bytes: as the client sent them, or as the gateway encoded them. */
  bytes: Uint8Array;
  /**
   * Forwarded right after `bytes`: the tenant (101) and received time (102).
   * Protobuf keeps the last value of a field, so this overrides whatever the
   * client sent without re-encoding the span. Shared by the spans of one call.
   */
  stamp: Uint8Array;
  /** trace_id as unsigned 32-bit halves (both 0 outside a trace): the Kafka partition without a bigint. */
  traceLo: number;
  traceHi: number;
  /** Trace span (0 or 1) + samples + log records. */
  events: number;
}

/**
 * Accepted spans as three flat arrays: what the gateway hands to every sink
 * (SpanSink.publish). For the Kafka thread, memory that is transferred, not
 * cloned (a structured clone of one object per span cost more than the
 * span's validation); for the ClickHouse writer, rows read straight from
 * one buffer. The OTLP direct path writes its spans as a pack from the
 * start (SpanIntake.fromValidated); other inputs are packed from their
 * AcceptedSpans (`packSpans`, span-pack.ts), one copy.
 */
export interface SpanPack {
  /** The forwarded bytes of every span, one after the other. */
  data: Uint8Array;
  /** Where each span ends in `data` (the next one starts there). */
  ends: Uint32Array;
  /** The trace id of each span: low, then high 32 bits (unsigned); 0, 0 outside a trace. */
  traces: Uint32Array;
  /** Events (trace spans, samples, log records) in the spans: the rows they become. */
  events: number;
  /**
   * The bytes were written by the gateway's own OTLP direct path from values
   * it validated (SpanIntake.fromValidated): valid UTF-8, map keys unique. A
   * sink writing rows from them may skip those checks (appendSpanBytes's
   * `own`); never true for bytes a client sent.
   */
  own: boolean;
  /** The keyed client request these spans are (requestIdOf), if any: its records are built apart. */
  requestId?: string | undefined;
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
  /**
   * Rejects with SINK_ERR_UNAVAILABLE (sink-errors.ts) when the spans cannot be taken.
   * `pack.requestId` (requestIdOf: tenant, Idempotency-Key and body digest) marks the spans of one
   * keyed client request: they are written apart from other requests, under
   * names derived from it, so that a retry of the request is stored once.
   * The sink may take the pack's memory (the Kafka thread's transfer): the
   * caller does not read it afterwards.
   */
  publish(pack: SpanPack): Promise<void>;
  status(): SinkStatus;
  /** Readiness, when the sink can ask its backend (a short deadline); without it, status() decides. */
  check?(): Promise<SinkStatus>;
  /** Flushes what is buffered, then closes. */
  close(): Promise<void>;
}
