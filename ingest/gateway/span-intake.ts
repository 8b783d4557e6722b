import { decodeSpan, encodeSpan } from '../../src/codec/span-codec.js';
import { scanTraceSpan } from '../../src/codec/span-scan.js';
import type { BatchRejection } from '../../src/codec/span-codec.js';
import { CodecErrors } from '../../src/codec/errors.js';
import type { MetricSample, SpanEvent } from '../../src/codec/types.js';
import type { AcceptedSpan } from '../sink/span-sink.js';
import type { SpanPack } from '../sink/span-sink.js';
import { packSpans, packWithout } from '../sink/span-pack.js';
import type { CardinalityGuard } from './cardinality-guard.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { EventWindow } from './event-window.js';
import { nsOfHalves, outsideWindow } from './event-window.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

export interface IntakeResult {
  /** The accepted spans, one by one (the inputs whose spans arrive as separate buffers). */
  accepted: AcceptedSpan[];
  /** The accepted spans as one pack, when the intake had them so (fromValidated); `accepted` is then empty. */
  pack?: SpanPack;
  /** Spans refused whole (the span's index, code, field, reason). */
  rejected: BatchRejection[];
  /** Refusals inside kept spans: single samples or log records. */
  partial: BatchRejection[];
  /** Events (trace spans, samples, log records) in the accepted spans. */
  events: number;
}

// Field 101 (tenant), wire type 2: varint of (101 << 3) | 2 = 810.
const TENANT_TAG = [0xaa, 0x06];
// Field 102 (received_timestamp), wire type 0: varint of (102 << 3) | 0 = 816.
const RECEIVED_TAG = [0xb0, 0x06];

function varint(n: bigint, out: number[]): void {
  let v = BigInt.asUintN(64, n);
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
}

/** The gateway's fields, appended to every span it forwards: tenant (101) and received time (102). */
export function gatewayFields(tenant: string, receivedNs: bigint): Buffer {
  const name = Buffer.from(tenant, 'utf8');
  const head: number[] = [...TENANT_TAG];
  varint(BigInt(name.length), head);
  const tail: number[] = [...RECEIVED_TAG];
  varint(receivedNs, tail);
  return Buffer.concat([Buffer.from(head), name, Buffer.from(tail)]);
}

function eventCount(span: SpanEvent): number {
  return (span.isTrace ? 1 : 0) + span.metrics.length + span.logs.length;
}

const NO_STAMP = new Uint8Array(0);
const TWO_32 = 0x1_0000_0000n;
/** Spans validated between two turns of the event loop (a few milliseconds of work). */
export const INTAKE_SLICE = 2_000;

/** Adds the result of the slice of spans starting at `at` to `total` (its indexes made the whole's). */
export function addSlice(total: IntakeResult, r: IntakeResult, at: number): void {
  for (const a of r.accepted) total.accepted.push(a);
  for (const x of r.rejected) total.rejected.push({ ...x, index: x.index + at });
  for (const x of r.partial) total.partial.push({ ...x, index: x.index + at });
  total.events += r.events;
}

/** statsd datagrams straight to SSFSample bytes (ingest/statsd/statsd-sample-bytes.ts), for a sink that forwards bytes. */
export interface StatsdFastPath {
  /** Samples in the datagram last encoded. */
  readonly samples: number;
  /** The datagram's field-10 entries; undefined when it must take the general path (parse, then encodeSpan). */
  encode(packet: Buffer, receivedNs: bigint, guard: CardinalityGuard, tenant: string, now: number): Uint8Array | undefined;
}

/**
 * statsd aggregation (ingest/statsd/statsd-aggregate-bytes.ts): lines summed
 * per series and interval instead of stored one by one.
 */
export interface StatsdAggregate {
  /** Lines in the datagram last aggregated. */
  readonly lines: number;
  /** Aggregates a datagram of common lines at byte level; false when it must take the general path (nothing aggregated then). */
  aggregate(packet: Buffer, guard: CardinalityGuard, tenant: string, now: number): boolean;
  /** A sample the general path validated and the guard admitted: true when aggregated, false when it passes as it is. */
  take(sample: MetricSample, receivedNs: bigint): boolean;
}

/** One statsd datagram -> spans (and per-line refusals, counted). */
export type StatsdParse = (packet: Buffer, receivedNs: bigint) => { spans: SpanEvent[]; refused: Array<{ code: string }> };

/** What a sink is given for an intake's result: its pack, or its accepted spans packed (one copy). */
export function packOf(result: IntakeResult, requestId?: string): SpanPack {
  if (result.pack === undefined) return packSpans(result.accepted, requestId);
  return requestId === undefined ? result.pack : { ...result.pack, requestId };
}

/** Spans accepted in an intake's result. */
export function acceptedSpans(result: IntakeResult): number {
  return result.pack === undefined ? result.accepted.length : result.pack.ends.length;
}

/**
 * SSF spans a direct path (ingest/otlp: traces-direct.ts, logs-direct.ts)
 * built and validated itself, as validateSpan and the event window would:
 * each one surely accepted whole, with no refusal. Laid out as a SpanPack.
 */
export interface ValidatedSpans {
  /**
   * The spans' bytes one after the other, each ending with the gateway's
   * fields (gatewayFields, written by the direct path), in a buffer of its
   * own (the Kafka thread takes its memory).
   */
  data: Uint8Array;
  /** Where each span ends in `data`. */
  ends: Uint32Array;
  /** Each span's trace_id as unsigned 32-bit halves: low, then high. */
  traces: Uint32Array;
  /** Each span's events (trace span + log records). */
  events: number[];
}

export interface IntakeOptions {
  /** Largest span, stamp included (gateway.maxSpanBytes); a larger one is refused whole (SSF_SPAN_TOO_LARGE). */
  maxSpanBytes?: number;
}

/** Default of gateway.maxSpanBytes: below Kafka's default max.message.bytes (1 MiB + 12) with room for the record's own bytes. */
export const MAX_SPAN_BYTES = 1_000_000;

/**
 * What every protocol does with the spans it received: validate each one
 * (a bad span never takes its neighbours down), stamp the tenant, apply the
 * cardinality guard to samples, and count everything per protocol and reason.
 */
export class SpanIntake {
  // The scan's answer: trace id, start and end, each as unsigned 32-bit halves (low, high).
  private readonly traceId = new Uint32Array(6);
  private readonly maxSpanBytes: number;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly guard: CardinalityGuard,
    private readonly window: (nowMs: number) => EventWindow,
    options: IntakeOptions = {},
  ) {
    this.maxSpanBytes = options.maxSpanBytes ?? MAX_SPAN_BYTES;
  }

  /**
   * A span larger than one Kafka record may hold would fail the produce of
   * every request batched with it (the broker refuses the whole request):
   * it is refused alone, here, for every input and every sink.
   */
  private tooLarge(size: number, index: number, result: IntakeResult, protocol: string): boolean {
    if (size <= this.maxSpanBytes) return false;
    result.rejected.push({
      index,
      code: 'SSF_SPAN_TOO_LARGE',
      field: '',
      reason: `the span is ${size} bytes; at most ${this.maxSpanBytes} (gateway.maxSpanBytes)`,
    });
    this.metrics.refused(protocol, 'SSF_SPAN_TOO_LARGE', 1);
    return true;
  }

  /** The accepted times now (a direct path checks its events against them). */
  windowAt(nowMs: number): EventWindow {
    return this.window(nowMs);
  }

  /**
   * Spans already validated and stamped by a direct path, against
   * windowAt() of this moment: counted, not decoded again. They carry no
   * SpanEvent (every sink writes spans from their bytes when it has none).
   */
  fromValidated(spans: ValidatedSpans, protocol: string): IntakeResult {
    const result: IntakeResult = { accepted: [], rejected: [], partial: [], events: 0 };
    let tooLarge: number[] | undefined;
    let start = 0;
    for (let i = 0; i < spans.ends.length; i++) {
      const end = spans.ends[i] as number;
      if (this.tooLarge(end - start, i, result, protocol)) (tooLarge ??= []).push(i);
      else result.events += spans.events[i] as number;
      start = end;
    }
    const pack: SpanPack = { data: spans.data, ends: spans.ends, traces: spans.traces, events: result.events, own: true };
    result.pack = tooLarge === undefined ? pack : packWithout(pack, tooLarge, result.events);
    this.metrics.received(protocol, spans.ends.length);
    this.metrics.accepted(protocol, result.events);
    return result;
  }

  /** Encoded spans (from a batch, frames or datagrams). */
  fromEncoded(parts: readonly Uint8Array[], tenant: string, protocol: string, receivedNs: bigint): IntakeResult {
    const result: IntakeResult = { accepted: [], rejected: [], partial: [], events: 0 };
    const fields = gatewayFields(tenant, receivedNs);
    const traceId = this.traceId;
    const now = Date.now();
    const window = this.window(now);
    for (let index = 0; index < parts.length; index++) {
      const bytes = parts[index] as Uint8Array;
      if (this.tooLarge(bytes.length + fields.length, index, result, protocol)) continue;
      // The common case (a valid trace span inside the window, forwarded as it is) needs
      // no objects; anything else is decoded in full, for the exact answer and every rejection.
      if (
        scanTraceSpan(bytes, traceId) &&
        nsOfHalves(traceId[2] as number, traceId[3] as number) >= window.spansFrom &&
        nsOfHalves(traceId[4] as number, traceId[5] as number) <= window.to
      ) {
        result.accepted.push({ bytes, stamp: fields, traceLo: traceId[0] as number, traceHi: traceId[1] as number, events: 1 });
        result.events += 1;
        continue;
      }
      const v = decodeSpan(bytes);
      if (!v.ok) {
        for (const r of v.rejections) result.rejected.push({ index, ...r });
        this.metrics.refused(protocol, v.rejections[0]?.code ?? 'SSF_DECODE_FAILED', 1);
        continue;
      }
      for (const r of v.rejections) {
        result.partial.push({ index, ...r });
        this.metrics.refused(protocol, r.code, 1);
      }
      this.admit(v.span, bytes, tenant, receivedNs, fields, result, now, window, index, protocol);
    }
    this.metrics.received(protocol, parts.length);
    this.metrics.accepted(protocol, result.events);
    return result;
  }

  /**
   * statsd datagrams: each one's lines become one carrier span. With a fast
   * path and a sink that forwards bytes, a datagram of common lines goes
   * straight to bytes (the same bytes as the general path, with the tenant
   * and received time as the stamp); any other datagram is parsed and
   * encoded here.
   */
  fromStatsd(
    packets: readonly Buffer[],
    tenant: string,
    protocol: string,
    receivedNs: bigint,
    parse: StatsdParse,
    fast?: StatsdFastPath,
    aggregate?: StatsdAggregate,
  ): IntakeResult {
    const result: IntakeResult = { accepted: [], rejected: [], partial: [], events: 0 };
    const now = Date.now();
    const window = this.window(now);
    // Every fast-path sample has the received time: outside the accepted times the general path refuses them.
    const received = Number(receivedNs);
    const inWindow = received >= window.samplesFrom && received <= window.to;
    const quick = fast !== undefined && tenant !== '' && inWindow;
    // Aggregated lines are counted as accepted events, as the samples per-sample mode would store.
    const quickAggregate = aggregate !== undefined && tenant !== '' && inWindow;
    const take = aggregate === undefined ? undefined : (m: MetricSample): boolean => aggregate.take(m, receivedNs);
    let fields: Buffer | undefined;
    let index = 0;
    for (const packet of packets) {
      if (quickAggregate) {
        if (aggregate.aggregate(packet, this.guard, tenant, now)) {
          result.events += aggregate.lines;
          continue;
        }
      } else if (quick) {
        const bytes = fast.encode(packet, receivedNs, this.guard, tenant, now);
        if (bytes !== undefined) {
          if (bytes.length === 0) continue;
          fields ??= gatewayFields(tenant, receivedNs);
          result.accepted.push({ bytes, stamp: fields, traceLo: 0, traceHi: 0, events: fast.samples });
          result.events += fast.samples;
          index++;
          continue;
        }
      }
      const parsed = parse(packet, receivedNs);
      for (const r of parsed.refused) this.metrics.refused(protocol, r.code, 1);
      for (const span of parsed.spans) this.admit(span, undefined, tenant, receivedNs, undefined, result, now, window, index++, protocol, take);
    }
    this.metrics.received(protocol, packets.length);
    this.metrics.accepted(protocol, result.events);
    return result;
  }

  /**
   * fromEncoded in slices of INTAKE_SLICE spans, yielding to the event loop
   * between slices: a batch of 100,000 spans (tens of milliseconds of work)
   * never holds health checks and small requests for longer than one slice.
   */
  async fromEncodedInSlices(parts: readonly Uint8Array[], tenant: string, protocol: string, receivedNs: bigint): Promise<IntakeResult> {
    if (parts.length <= INTAKE_SLICE) return this.fromEncoded(parts, tenant, protocol, receivedNs);
    const total: IntakeResult = { accepted: [], rejected: [], partial: [], events: 0 };
    for (let at = 0; at < parts.length; at += INTAKE_SLICE) {
      if (at > 0) await yieldToEventLoop();
      addSlice(total, this.fromEncoded(parts.slice(at, at + INTAKE_SLICE), tenant, protocol, receivedNs), at);
    }
    return total;
  }

  /**
   * The carrier spans of an aggregation flush (statsd-aggregator.ts): their
   * samples were validated and counted as lines; here they are stamped and
   * encoded (and, past gateway.maxSpanBytes, refused like every other span).
   */
  fromAggregated(spans: readonly SpanEvent[], tenant: string, protocol: string): IntakeResult {
    const result: IntakeResult = { accepted: [], rejected: [], partial: [], events: 0 };
    for (const [index, span] of spans.entries()) {
      span.tenant = tenant;
      const bytes = encodeSpan(span);
      if (this.tooLarge(bytes.length, index, result, protocol)) continue;
      result.accepted.push({ bytes, stamp: NO_STAMP, traceLo: 0, traceHi: 0, events: span.metrics.length });
      result.events += span.metrics.length;
    }
    return result;
  }

  /** Spans built by the gateway itself (statsd lines, JSON bodies): encoded here. */
  fromEvents(spans: readonly SpanEvent[], tenant: string, protocol: string, receivedNs: bigint): IntakeResult {
    const result: IntakeResult = { accepted: [], rejected: [], partial: [], events: 0 };
    const now = Date.now();
    const window = this.window(now);
    for (const [index, span] of spans.entries()) this.admit(span, undefined, tenant, receivedNs, undefined, result, now, window, index, protocol);
    this.metrics.accepted(protocol, result.events);
    return result;
  }

  private admit(
    span: SpanEvent,
    bytes: Uint8Array | undefined,
    tenant: string,
    receivedNs: bigint,
    fields: Buffer | undefined,
    result: IntakeResult,
    now: number,
    window: EventWindow,
    index: number,
    protocol: string,
    take?: (sample: MetricSample) => boolean,
  ): void {
    span.tenant = tenant;
    span.receivedTimestamp = receivedNs;
    let changed = bytes === undefined;
    // Events outside the accepted times are refused one by one (the span's trace part, each sample, each log).
    const refuse = (field: string, reason: string): void => {
      result.partial.push({ index, code: 'SSF_TIME_OUT_OF_RANGE', field, reason });
      this.metrics.refused(protocol, 'SSF_TIME_OUT_OF_RANGE', 1);
      changed = true;
    };
    if (span.isTrace) {
      const why =
        outsideWindow(Number(span.startTimestamp), window.spansFrom, window.to, 'start_timestamp') ??
        outsideWindow(Number(span.endTimestamp), window.spansFrom, window.to, 'end_timestamp');
      if (why !== undefined) {
        refuse(why.startsWith('start') ? 'start_timestamp' : 'end_timestamp', why);
        // No longer a trace span: without both times it is a carrier of its samples and logs.
        span.startTimestamp = 0n;
        span.endTimestamp = 0n;
        span.isTrace = false;
      }
    }
    const received = Number(receivedNs);
    span.metrics = span.metrics.filter((m, i) => {
      const why = outsideWindow(m.timestamp === 0n ? received : Number(m.timestamp), window.samplesFrom, window.to, 'timestamp');
      if (why !== undefined) refuse(`metrics[${i}].timestamp`, why);
      return why === undefined;
    });
    span.logs = span.logs.filter((l, i) => {
      const why = outsideWindow(l.timestamp === 0n ? received : Number(l.timestamp), window.logsFrom, window.to, 'timestamp');
      if (why !== undefined) refuse(`logs[${i}].timestamp`, why);
      return why === undefined;
    });
    // The cardinality guard: past its caps a sample's tags are folded, or a sample of a new name refused.
    let kept: MetricSample[] | undefined;
    for (let i = 0; i < span.metrics.length; i++) {
      const sample = span.metrics[i] as MetricSample;
      const verdict = this.guard.admit(tenant, sample, now);
      if (verdict === 'refused') {
        kept ??= span.metrics.slice(0, i);
        result.partial.push({
          index,
          code: 'SSF_TOO_MANY_METRIC_NAMES',
          field: `metrics[${i}].name`,
          reason: CodecErrors.entries.SSF_TOO_MANY_METRIC_NAMES.text,
        });
        this.metrics.refused(protocol, 'SSF_TOO_MANY_METRIC_NAMES', 1);
        this.metrics.metricNameRefused(tenant);
        changed = true;
        continue;
      }
      if (verdict === 'folded') {
        changed = true;
        this.metrics.cardinalityOverflow(tenant, sample.name);
      }
      kept?.push(sample);
    }
    if (kept) span.metrics = kept;
    // statsd aggregation: the samples it takes leave the span (they are flushed with their series).
    let taken = 0;
    if (take !== undefined) {
      const left = span.metrics.filter((m) => !take(m));
      taken = span.metrics.length - left.length;
      span.metrics = left;
      result.events += taken;
    }
    if (!span.isTrace && span.metrics.length === 0 && span.logs.length === 0) {
      if (taken > 0) return;
      // Nothing left: the span is refused whole, under the reasons its events had.
      const mine = result.partial.filter((r) => r.index === index);
      result.partial = result.partial.filter((r) => r.index !== index);
      result.rejected.push(...mine);
      return;
    }
    const events = eventCount(span);
    const trace = BigInt.asUintN(64, span.traceId);
    const traceLo = Number(trace % TWO_32);
    const traceHi = Number(trace / TWO_32);
    if (changed || bytes === undefined || fields === undefined) {
      const encoded = encodeSpan(span);
      if (this.tooLarge(encoded.length, index, result, protocol)) {
        // Its partial refusals are now part of a whole one.
        result.partial = result.partial.filter((r) => r.index !== index);
        return;
      }
      result.accepted.push({ bytes: encoded, stamp: NO_STAMP, traceLo, traceHi, events });
    } else result.accepted.push({ bytes, stamp: fields, traceLo, traceHi, events });
    result.events += events;
  }
}
