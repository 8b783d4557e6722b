import type { SpanEvent } from '../codec/types.js';

/** The event tables, in the order a batch inserts them. */
export const TABLES = ['spans', 'logs', 'samples'] as const;
export type EventTable = (typeof TABLES)[number];

/**
 * The rows of one insert, in the format the connection takes best: RowBinary
 * for a ClickHouse server (no row objects, no JSON text), JSONEachRow rows for
 * the embedded engine (chDB's connection turns every insert body into a
 * UTF-8 string, which binary data would not survive).
 */
export interface EventBatch {
  /** Appends the rows of one event (appendRows's rules). */
  append(e: SpanEvent): void;
  /** Rows of one table so far. */
  count(table: EventTable): number;
  /** Rows of all tables so far. */
  readonly total: number;
}
