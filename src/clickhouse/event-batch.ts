import type { SpanEvent } from '../codec/types.js';

/** The event tables, in the order a batch inserts them. */
export const TABLES = ['spans', 'logs', 'samples'] as const;
export type EventTable = (typeof TABLES)[number];

/**
 * The rows of one insert, in the format ClickHouse takes best over HTTP:
 * RowBinary (no row objects, no JSON text); event-row-binary.ts.
 */
export interface EventBatch {
  /** Appends the rows of one event (appendRows's rules). */
  append(e: SpanEvent): void;
  /** Rows of one table so far. */
  count(table: EventTable): number;
  /** Rows of all tables so far. */
  readonly total: number;
}
