import type { SpanEvent } from '../../src/codec/types.js';

/** Items refused by a conversion itself (bad ids, unknown temporality...), for the answer and /metrics. */
export interface Refusals {
  /** Items refused. */
  rejected: number;
  /** The first few reasons, for the answer's error_message. */
  errors: string[];
  /** Refusals by code, for /metrics. */
  codes: Map<string, number>;
}

/**
 * OTLP items (spans, log records, data points) turned into SSF spans. Each
 * SSF span says which items it carries, so that a refusal by SSF's own
 * validation (a whole span, or one log record or sample of it) is counted
 * against the OTLP items it came from: the partial-success answer counts
 * OTLP items, as the specification asks.
 */
export interface Conversion extends Refusals {
  spans: SpanEvent[];
  /** Per SSF span: the items it carries (refused together when the span is). */
  items: number[][];
  /** Per SSF span: the item of each log record (undefined: a span event, not an item of its own). */
  itemOfLog: Array<Array<number | undefined>>;
  /** Per SSF span: the item of each sample. */
  itemOfSample: number[][];
  /** Items in the request. */
  total: number;
  /** Enum values the specification does not define, kept as numbers (span kind, status code). */
  unknownEnums: number;
}

export function emptyConversion(): Conversion {
  return { spans: [], items: [], itemOfLog: [], itemOfSample: [], total: 0, rejected: 0, errors: [], codes: new Map(), unknownEnums: 0 };
}

const MAX_ERRORS = 5;

/** Counts an item refused by the conversion. */
export function refuse(c: Refusals, code: string, reason: string): void {
  c.rejected++;
  c.codes.set(code, (c.codes.get(code) ?? 0) + 1);
  if (c.errors.length < MAX_ERRORS) c.errors.push(`${code}: ${reason}`);
}

/** Adds an SSF span with the items it carries. */
export function addSpan(c: Conversion, span: SpanEvent, items: number[], itemOfLog: Array<number | undefined> = [], itemOfSample: number[] = []): void {
  c.spans.push(span);
  c.items.push(items);
  c.itemOfLog.push(itemOfLog);
  c.itemOfSample.push(itemOfSample);
}

/** Items (spans, log records, data points) converted between two pauses of a conversion in slices (a few milliseconds of work). */
export const SLICE_ITEMS = 2_000;

/**
 * A conversion in slices: it pauses (yields) every SLICE_ITEMS items, so
 * that its caller can let the event loop turn; it returns its result.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs steps to the end at once (no pause). */
export function runSteps<T>(steps: Steps<T>): T {
  let s = steps.next();
  while (!s.done) s = steps.next();
  return s.value;
}
