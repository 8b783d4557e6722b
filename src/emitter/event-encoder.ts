import { encodeSpan } from '../codec/span-encode.js';
import type { LogRecord, MetricSample, SpanEvent } from '../codec/types.js';
import type { DropAccounting } from './drop-accounting.js';
import { weightOf } from './queue-item.js';
import type { QueueItem } from './queue-item.js';
import { spanEvent } from '../codec/span-event.js';

export interface EncodedFlush {
  /** SSFSpan bytes, one per span handed to the transport. */
  encoded: Uint8Array[];
  /** How many events each encoded span stands for. */
  weights: number[];
}

export interface EncoderOptions {
  service: string;
  /** Tags added to every span, sample and log record (explicit tags win). */
  defaultTags: Record<string, string> | undefined;
  maxEventsPerCarrier: number;
}

/**
 * Queue items -> SSFSpan bytes. Standalone samples and logs of the same trace
 * context share carrier spans. An event the encoder cannot encode costs only
 * itself: a carrier that fails is split and its events are encoded alone.
 */
export class EventEncoder {
  constructor(
    private readonly options: EncoderOptions,
    private readonly accounting: DropAccounting,
  ) {}

  encode(items: readonly QueueItem[]): EncodedFlush {
    const out: EncodedFlush = { encoded: [], weights: [] };
    const defaultTags = this.options.defaultTags;
    const max = this.options.maxEventsPerCarrier;
    let samples: MetricSample[] = [];
    const logGroups = new Map<string, { traceId: bigint; spanId: bigint; logs: LogRecord[] }>();
    for (const item of items) {
      if (item.kind === 'span') {
        if (defaultTags) for (const m of item.span.metrics) m.tags = { ...defaultTags, ...m.tags };
        this.push(out, () => item.span.toEvent(defaultTags), weightOf(item));
      } else if (item.kind === 'sample') {
        if (defaultTags) item.sample.tags = { ...defaultTags, ...item.sample.tags };
        samples.push(item.sample);
        if (samples.length >= max) {
          this.pushCarrier(out, 0n, 0n, samples, []);
          samples = [];
        }
      } else {
        if (defaultTags) item.log.attributes = { ...defaultTags, ...item.log.attributes };
        const key = `${item.traceId}:${item.spanId}`;
        let group = logGroups.get(key);
        if (!group) {
          group = { traceId: item.traceId, spanId: item.spanId, logs: [] };
          logGroups.set(key, group);
        }
        group.logs.push(item.log);
        if (group.logs.length >= max) {
          this.pushCarrier(out, group.traceId, group.spanId, [], group.logs);
          group.logs = [];
        }
      }
    }
    if (samples.length > 0) this.pushCarrier(out, 0n, 0n, samples, []);
    for (const g of logGroups.values()) if (g.logs.length > 0) this.pushCarrier(out, g.traceId, g.spanId, [], g.logs);
    return out;
  }

  private push(out: EncodedFlush, event: () => SpanEvent, weight: number): boolean {
    try {
      out.encoded.push(encodeSpan(event()));
      out.weights.push(weight);
      return true;
    } catch (err) {
      this.accounting.internalError(err, weight);
      return false;
    }
  }

  private pushCarrier(out: EncodedFlush, traceId: bigint, spanId: bigint, metrics: MetricSample[], logs: LogRecord[]): void {
    try {
      out.encoded.push(encodeSpan(this.carrier(traceId, spanId, metrics, logs)));
      out.weights.push(metrics.length + logs.length);
      return;
    } catch {
      // One event the emitter's checks let through must not take the others
      // with it: find it by encoding each alone, and send the rest together.
    }
    const goodMetrics = metrics.filter((m) => this.encodes(() => this.carrier(0n, 0n, [m], [])));
    const goodLogs = logs.filter((l) => this.encodes(() => this.carrier(0n, 0n, [], [l])));
    if (goodMetrics.length + goodLogs.length > 0) {
      this.push(out, () => this.carrier(traceId, spanId, goodMetrics, goodLogs), goodMetrics.length + goodLogs.length);
    }
  }

  private encodes(event: () => SpanEvent): boolean {
    try {
      encodeSpan(event());
      return true;
    } catch (err) {
      this.accounting.internalError(err);
      return false;
    }
  }

  /** A span that only carries samples or logs (not a valid trace span: no timestamps, no name). */
  private carrier(traceId: bigint, spanId: bigint, metrics: MetricSample[], logs: LogRecord[]): SpanEvent {
    return spanEvent({ traceId, id: spanId, service: this.options.service, metrics, logs, isTrace: false });
  }
}
