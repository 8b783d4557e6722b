import { Readable } from 'node:stream';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { ClickHouse } from './create-client.js';
import type { EventRows } from './event-rows.js';
import { EventRowBinary, ROW_BINARY_COLUMNS } from './event-row-binary.js';
import { quoteIdent } from './quote-ident.js';
import { TABLES } from './event-batch.js';
import type { EventBatch, EventTable } from './event-batch.js';

/** An empty batch for this connection (RowBinary: every connection is HTTP). */
export function createEventBatch(_ch: ClickHouse, defaultTenant = 'default'): EventBatch {
  return new EventRowBinary(defaultTenant);
}

/**
 * Synchronous, deduplicated inserts. With `dedupToken`, each table's insert
 * carries `insert_deduplication_token = <token>:<table>`: a retried insert
 * of the same rows is dropped by ClickHouse (and, through
 * deduplicate_blocks_in_dependent_materialized_views, so are the rollup rows
 * its materialized views would add again). An acknowledged insert is on disk.
 */
export function insertSettings(rows: number, table: EventTable, dedupToken: string | undefined): ClickHouseSettings {
  return {
    async_insert: 0,
    insert_deduplicate: 1,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    // One block per insert, so the whole insert is deduplicated as one.
    max_insert_block_size: String(Math.max(rows, 1_048_576)),
    min_insert_block_size_rows: '0',
    min_insert_block_size_bytes: '0',
    // Every partition the block touches (ClickHouse refuses more than 100 by default). The tables are
    // partitioned by day and the gateway bounds every time to the retention (event-window.ts), so a
    // block touches at most that many days, per table; with a retention past 100 days, one request
    // spread over more days (a backfill, or a hostile tenant) failed the whole insert, every request
    // batched with it, and in the materializer the batch was retried forever, holding its partition.
    max_partitions_per_insert_block: '0',
    ...(dedupToken ? { insert_deduplication_token: `${dedupToken}:${table}` } : {}),
  };
}

async function drain(result: { stream: AsyncIterable<unknown> }): Promise<void> {
  // An INSERT answers with an empty body: read it, so the socket goes back to the pool.
  for await (const _ of result.stream) {
    // nothing
  }
}

/** Inserts a batch, table by table (see insertSettings for the token). */
export async function insertBatch(ch: ClickHouse, batch: EventBatch, dedupToken?: string): Promise<void> {
  if (!(batch instanceof EventRowBinary)) throw new TypeError('not a batch of createEventBatch()');
  const db = quoteIdent(ch.database);
  for (const table of TABLES) {
    const w = batch[table];
    if (w.rows === 0) continue;
    const result = await ch.client.exec({
      query: `INSERT INTO ${db}.${table} (${ROW_BINARY_COLUMNS[table]}) FORMAT RowBinary`,
      values: Readable.from(w.chunks()),
      clickhouse_settings: insertSettings(w.rows, table, dedupToken),
    });
    await drain(result);
  }
}

/** Inserts JSONEachRow rows (event-rows.ts): the readable reference path the RowBinary one is checked against. */
export async function insertRows(ch: ClickHouse, rows: EventRows, dedupToken?: string): Promise<void> {
  const db = quoteIdent(ch.database);
  for (const table of TABLES) {
    const values: object[] = rows[table];
    if (values.length === 0) continue;
    await ch.client.insert({ table: `${db}.${table}`, values, format: 'JSONEachRow', clickhouse_settings: insertSettings(values.length, table, dedupToken) });
  }
}
