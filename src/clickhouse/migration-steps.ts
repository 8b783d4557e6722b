import type { ClickHouse } from './create-client.js';
import { quoteIdent } from './quote-ident.js';

/**
 * Work a migration needs beyond its statements, run right after them and
 * before the migration is recorded: keyed by version, frozen like the files
 * (an applied migration's step never runs again). Each step may be
 * interrupted and run again, and runs under the migration lock.
 */
export const MIGRATION_STEPS: Readonly<Record<number, (ch: ClickHouse, log: (line: string) => void) => Promise<void>>> = {
  6: async (ch, log) => {
    for (const table of ['metrics_1m', 'metrics_1h']) await swapInNewTable(ch, table, `${table}_0006`, 'index_granularity = 256', log);
  },
  10: async (ch, log) => {
    await swapInNewTable(ch, 'logs', 'logs_0010', 'index_granularity = 1024', log);
  },
};

/** How long the swap waits, after the old table is first seen empty, for writes that were in flight at the swap. */
export const IN_FLIGHT_WAIT_MS = 2_000;

/**
 * Puts `fresh` (same columns, created by the migration's statements) in the
 * place of `table`, keeping every row:
 * 1. EXCHANGE TABLES, unless `table`'s definition already has `mark` (the
 *    swap was done by an interrupted run). Atomic: the materialized views
 *    write to `table` by name, and always find it.
 * 2. Every partition of the old table (now named `fresh`) is moved into the
 *    new one, until the old is empty twice `IN_FLIGHT_WAIT_MS` apart (an
 *    insert that resolved its target before the swap lands in the old table;
 *    once is enough when it was empty from the start, as on a new install).
 *    A move fires no view and is never done twice.
 * 3. The old table is dropped and the moved partitions are rewritten
 *    (OPTIMIZE ... FINAL), which writes them in the new table's layout.
 * On a cluster, the same on the `_local` tables (ON CLUSTER in the replicated
 * mode; node by node in the sharded mode), and the Distributed table the
 * migration created beside `fresh` is dropped.
 */
export async function swapInNewTable(ch: ClickHouse, table: string, fresh: string, mark: string, log: (line: string) => void): Promise<void> {
  const db = quoteIdent(ch.database);
  // Replicated: ON CLUSTER, and the parts of every replica. Sharded: `ch` is
  // one node (migrate() runs the step on each), its own local tables only.
  const replicated = ch.cluster !== '' && ch.clusterMode !== 'sharded';
  const onCluster = replicated ? ` ON CLUSTER ${quoteIdent(ch.cluster)}` : '';
  const physical = (name: string): string => (ch.cluster ? `${name}_local` : name);
  const exec = (query: string): Promise<unknown> => ch.client.command({ query });
  const partsTable = replicated ? `clusterAllReplicas(${quoteIdent(ch.cluster)}, system.parts)` : 'system.parts';
  const tablesTable = replicated ? `clusterAllReplicas(${quoteIdent(ch.cluster)}, system.tables)` : 'system.tables';
  // Partition ids are ClickHouse's own (digits, letters, '-', '_'); kept to those in the SQL text.
  const partition = (id: string): string => `PARTITION ID '${id.replace(/[^0-9A-Za-z_-]/g, '')}'`;

  const definitions = await (
    await ch.client.query({
      query: `SELECT name, create_table_query FROM ${tablesTable} WHERE database = {db:String} AND name IN {names:Array(String)}`,
      query_params: { db: ch.database, names: [physical(table), physical(fresh)] },
      format: 'JSONEachRow',
    })
  ).json<{ name: string; create_table_query: string }>();
  const current = definitions.filter((d) => d.name === physical(table));
  const swapped = current.length > 0 && current.every((d) => d.create_table_query.includes(mark));
  const freshExists = definitions.some((d) => d.name === physical(fresh));
  if (!swapped) {
    if (!freshExists) throw new Error(`migration step: ${physical(fresh)} is missing, cannot replace ${physical(table)}`);
    await exec(`EXCHANGE TABLES ${db}.${physical(table)} AND ${db}.${physical(fresh)}${onCluster}`);
    log(`${table}: swapped in the table with ${mark}`);
  }

  // The old table: swapped out above, or left by an interrupted run.
  const moved = new Set<string>();
  if (freshExists) {
    // Seen empty once is enough when nothing was ever moved (a new install).
    for (let emptyChecks = 0; emptyChecks < (moved.size > 0 ? 2 : 1); ) {
      const partitions = await (
        await ch.client.query({
          query: `SELECT DISTINCT partition_id FROM ${partsTable} WHERE database = {db:String} AND table = {t:String} AND active AND rows > 0 ORDER BY partition_id`,
          query_params: { db: ch.database, t: physical(fresh) },
          format: 'JSONEachRow',
        })
      ).json<{ partition_id: string }>();
      if (partitions.length === 0) {
        emptyChecks++;
        if (moved.size > 0 && emptyChecks < 2) await new Promise((r) => setTimeout(r, IN_FLIGHT_WAIT_MS));
        continue;
      }
      emptyChecks = 0;
      // A move leaves an empty part covering what it took (rows = 0), not listed.
      for (const { partition_id: id } of partitions) {
        await exec(`ALTER TABLE ${db}.${physical(fresh)}${onCluster} MOVE ${partition(id)} TO TABLE ${db}.${physical(table)}`);
        moved.add(id);
      }
    }
    if (ch.cluster) await exec(`DROP TABLE IF EXISTS ${db}.${fresh}${onCluster} SYNC`);
    await exec(`DROP TABLE IF EXISTS ${db}.${physical(fresh)}${onCluster} SYNC`);
  }
  for (const id of moved) {
    await exec(`OPTIMIZE TABLE ${db}.${physical(table)}${onCluster} ${partition(id)} FINAL`);
  }
  if (moved.size > 0) log(`${table}: moved and rewrote ${moved.size} partition(s)`);
}
