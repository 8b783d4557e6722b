import type { LogSeverity } from '../codec/types.js';
import type { TimeInput } from './clock.js';
import type { EmitterLogger } from './logger.js';
import type { Span } from './span.js';
import type { SpanContext } from './traceparent.js';
import type { Transport } from './transports/transport.js';

export interface EmitterOptions {
  /** Where to send: `udp://`, `unix://`, `tcp://`, `http(s)://` (see createTransport). Default `$SSF_ADDRESS` or `udp://127.0.0.1:8128`. */
  address?: string;
  /** The service name on every span. Default `$SSF_SERVICE` or the script's file name. */
  service?: string;
  /** Tags added to every span, sample and log record (explicit tags win). */
  tags?: Record<string, string>;
  /** Fraction of traces kept, decided at the root span and inherited by its children. Default 1. */
  traceSampleRate?: number;
  /** Log records below this level are not sent. Default `trace` (all). */
  minLogLevel?: LogSeverity;
  /** Capacity of the in-memory queue, in events (spans, samples, log records). Default 10,000. */
  maxQueueSize?: number;
  /** A flush starts as soon as this many events are queued. Default 512. */
  flushItems?: number;
  /** And at least this often. Default 1,000 ms. The timer never keeps the process alive. */
  flushIntervalMs?: number;
  /** Standalone samples (or logs) are grouped into carrier spans of at most this many. Default 50. */
  maxEventsPerCarrier?: number;
  /** UDP: largest datagram. Default 65,507. */
  maxDatagramBytes?: number;
  /** HTTP: bearer token. */
  token?: string;
  /** HTTP: largest request body. Default 1 MiB. */
  maxBatchBytes?: number;
  /** HTTP: request timeout. Default 10,000 ms. */
  timeoutMs?: number;
  /** HTTP: retries of a batch on a retriable failure. Default 3. */
  maxRetries?: number;
  logger?: EmitterLogger;
  /** A transport of your own instead of one made from `address`. */
  transport?: Transport;
}

export interface StartSpanOptions {
  /** The parent: a Span, a remote SpanContext (from extract()), or null to start a new trace. Default: the active span. */
  parent?: Span | SpanContext | null | undefined;
  service?: string;
  tags?: Record<string, string>;
  /** The span counts towards its service's SLIs. */
  indicator?: boolean;
  startTime?: TimeInput;
}
