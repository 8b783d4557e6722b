import type { ClickHouse } from './create-client.js';
import type { EventRows } from './event-rows.js';
import { quoteIdent } from './migrations.js';

export const TABLES = ['spans', 'logs', 'samples'] as const;
export type EventTable = (typeof TABLES)[number];

/**
 * Inserts rows into the event tables. With `dedupToken`, each table's insert
 * carries `insert_deduplication_token = <token>:<table>`: a retried insert
 * of the same rows is dropped by ClickHouse (and, through
 * deduplicate_blocks_in_dependent_materialized_views, so are the rollup rows
 * its materialized views would add again). Synchronous inserts only: an
 * acknowledged insert is on disk.
 */
export async function insertRows(ch: ClickHouse, rows: EventRows, dedupToken?: string): Promise<void> {
  const db = quoteIdent(ch.database);
  for (const table of TABLES) {
    const values: object[] = rows[table];
    if (values.length === 0) continue;
    await ch.client.insert({
      table: `${db}.${table}`,
      values,
      format: 'JSONEachRow',
      clickhouse_settings: {
        async_insert: 0,
        insert_deduplicate: 1,
        deduplicate_blocks_in_dependent_materialized_views: 1,
        // One block per insert, so the whole insert is deduplicated as one.
        max_insert_block_size: String(Math.max(values.length, 1_048_576)),
        min_insert_block_size_rows: '0',
        min_insert_block_size_bytes: '0',
        ...(dedupToken ? { insert_deduplication_token: `${dedupToken}:${table}` } : {}),
      },
    });
  }
}
