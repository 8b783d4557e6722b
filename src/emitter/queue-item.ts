import type { LogRecord, MetricSample } from '../codec/types.js';
import type { Span } from './span.js';

/** One entry of the emitter's queue: a finished span (with its samples), a standalone sample, or a log record. */
export type QueueItem =
  | { kind: 'span'; span: Span }
  | { kind: 'sample'; sample: MetricSample }
  | { kind: 'log'; log: LogRecord; traceId: bigint; spanId: bigint };

/** How many events an item stands for: a sampled span counts itself and its samples. */
export function weightOf(item: QueueItem): number {
  return item.kind === 'span' ? (item.span.sampled ? 1 : 0) + item.span.metrics.length : 1;
}
