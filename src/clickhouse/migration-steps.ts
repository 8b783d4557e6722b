import { clusterNodes } from './cluster-nodes.js';
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
  20: async (ch, log) => {
    await swapInNewTable(ch, 'logs', 'logs_0020', 'PRIMARY KEY (tenant, toStartOfHour(timestamp), service)', log, { copyThrough: 'logs_0020_copy' });
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
 * 2. The rows of the old table (now named `fresh`) go into the new one, until
 *    the old is empty twice `IN_FLIGHT_WAIT_MS` apart (an insert that
 *    resolved its target before the swap lands in the old table; once is
 *    enough when it was empty from the start, as on a new install):
 *    - by default every partition is moved (MOVE PARTITION: no view fires,
 *      never done twice), then rewritten in the new table's layout
 *      (OPTIMIZE ... FINAL) once the old table is dropped;
 *    - with `copyThrough` (a new sort or primary key, which a move refuses;
 *      the staging table, created by the migration like `fresh`), the old
 *      table's merges and mutations are stopped (`stopMergesForCopy`), then
 *      every part is copied (`copyParts`) and dropped from the old table.
 *      Nothing reads the old table to fire views.
 * 3. The old table (and the staging table) is dropped.
 * On a cluster, the same on the `_local` tables (ON CLUSTER in the replicated
 * mode, and the copies on one replica of each shard; node by node in the
 * sharded mode), and the Distributed table the migration created beside
 * `fresh` is dropped.
 */
export async function swapInNewTable(
  ch: ClickHouse,
  table: string,
  fresh: string,
  mark: string,
  log: (line: string) => void,
  options: { copyThrough?: string } = {},
): Promise<void> {
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
  let copied = 0;
  if (freshExists) {
    const staging = options.copyThrough;
    const copiers = staging ? await stopMergesForCopy(ch, physical(fresh), onCluster, replicated) : [];
    try {
      // A stopped run may have left a part's whole copy staged, its part gone
      // from the old table, which may now be empty: copyParts moves it on.
      if (staging) for (const node of copiers) copied += await copyParts(node, physical(fresh), physical(staging), physical(table));
      // Seen empty once is enough when nothing was ever moved (a new install).
      for (let emptyChecks = 0; emptyChecks < (moved.size + copied > 0 ? 2 : 1); ) {
        const partitions = await (
          await ch.client.query({
            query: `SELECT DISTINCT partition_id FROM ${partsTable} WHERE database = {db:String} AND table = {t:String} AND active AND rows > 0 ORDER BY partition_id`,
            query_params: { db: ch.database, t: physical(fresh) },
            format: 'JSONEachRow',
          })
        ).json<{ partition_id: string }>();
        if (partitions.length === 0) {
          emptyChecks++;
          if (moved.size + copied > 0 && emptyChecks < 2) await new Promise((r) => setTimeout(r, IN_FLIGHT_WAIT_MS));
          continue;
        }
        emptyChecks = 0;
        if (staging) {
          let now = 0;
          for (const node of copiers) now += await copyParts(node, physical(fresh), physical(staging), physical(table));
          // None here, some listed: other replicas still dropping what was copied.
          if (now === 0) await new Promise((r) => setTimeout(r, 200));
          copied += now;
          continue;
        }
        // A move leaves an empty part covering what it took (rows = 0), not listed.
        for (const { partition_id: id } of partitions) {
          await exec(`ALTER TABLE ${db}.${physical(fresh)}${onCluster} MOVE ${partition(id)} TO TABLE ${db}.${physical(table)}`);
          moved.add(id);
        }
      }
    } finally {
      await Promise.allSettled(copiers.filter((node) => node !== ch).map((node) => node.close()));
    }
    if (ch.cluster) await exec(`DROP TABLE IF EXISTS ${db}.${fresh}${onCluster} SYNC`);
    await exec(`DROP TABLE IF EXISTS ${db}.${physical(fresh)}${onCluster} SYNC`);
  }
  if (options.copyThrough) {
    if (ch.cluster) await exec(`DROP TABLE IF EXISTS ${db}.${options.copyThrough}${onCluster} SYNC`);
    await exec(`DROP TABLE IF EXISTS ${db}.${physical(options.copyThrough)}${onCluster} SYNC`);
  }
  for (const id of moved) {
    await exec(`OPTIMIZE TABLE ${db}.${physical(table)}${onCluster} ${partition(id)} FINAL`);
  }
  if (moved.size > 0) log(`${table}: moved and rewrote ${moved.size} partition(s)`);
  if (copied > 0) log(`${table}: copied ${copied} part(s) into the new table`);
}

/** How long stopMergesForCopy waits for the old table's running and queued merges to end. */
const MERGES_END_WAIT_MS = 600_000;

/**
 * Before parts are copied out of `old`: a part keeps its name until it is
 * dropped (a merge joining a part already copied with one not yet would be
 * copied again, under another token). A setting no part can merge under
 * stops new merges, for good (a restart keeps it), the table's mutations are
 * killed, then the merges already running, or queued on a replica, are
 * waited for until none is seen twice a second apart. Returns the nodes to
 * copy on: `ch`, or on a replicated cluster the first replica of each shard,
 * its fetches done.
 */
async function stopMergesForCopy(ch: ClickHouse, old: string, onCluster: string, replicated: boolean): Promise<ClickHouse[]> {
  const db = quoteIdent(ch.database);
  await ch.client.command({
    query: `ALTER TABLE ${db}.${old}${onCluster} MODIFY SETTING max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1`,
  });
  const everywhere = (t: string): string => (replicated ? `clusterAllReplicas(${quoteIdent(ch.cluster)}, ${t})` : t);
  const pending = replicated
    ? `(SELECT count() FROM ${everywhere('system.merges')} WHERE database = {db:String} AND table = {t:String})
       + (SELECT count() FROM ${everywhere('system.replication_queue')} WHERE database = {db:String} AND table = {t:String} AND type IN ('MERGE_PARTS', 'MUTATE_PART'))`
    : '(SELECT count() FROM system.merges WHERE database = {db:String} AND table = {t:String})';
  const mutations = `(SELECT count() FROM ${everywhere('system.mutations')} WHERE database = {db:String} AND table = {t:String} AND NOT is_done)`;
  const copiers = replicated ? await firstReplicas(ch) : [ch];
  try {
    // A mutation renames the parts it rewrites (0014, 0016 and 0018 queue
    // MATERIALIZE INDEX on logs): killed, the new table builds every index
    // on insert. A replicated table's mutations are its shard's: killed on
    // one replica of each.
    for (const node of copiers) {
      await node.client.command({ query: `KILL MUTATION WHERE database = {db:String} AND table = {t:String} SYNC`, query_params: { db: ch.database, t: old } });
    }
    const deadline = Date.now() + MERGES_END_WAIT_MS;
    for (let quiet = 0; quiet < 2; ) {
      const [row] = await (
        await ch.client.query({ query: `SELECT ${pending} + ${mutations} AS n`, query_params: { db: ch.database, t: old }, format: 'JSONEachRow' })
      ).json<{ n: string }>();
      quiet = Number(row?.n ?? 0) === 0 ? quiet + 1 : 0;
      if (quiet === 2) break;
      if (Date.now() > deadline) throw new Error(`migration step: merges of ${old} still running after ${MERGES_END_WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, quiet === 0 ? 200 : 1000));
    }
    if (replicated) {
      for (const node of copiers) await node.client.command({ query: `SYSTEM SYNC REPLICA ${db}.${old} LIGHTWEIGHT` });
    }
  } catch (err) {
    await Promise.allSettled(copiers.filter((n) => n !== ch).map((n) => n.close()));
    throw err;
  }
  return copiers;
}

/** A client for the first replica of each shard of `ch.cluster`. */
async function firstReplicas(ch: ClickHouse): Promise<ClickHouse[]> {
  const forNode = ch.forNode;
  if (forNode === undefined) throw new Error('copying a replicated table needs a ClickHouse server (clickhouse.url)');
  const nodes: ClickHouse[] = [];
  try {
    const seen = new Set<number>();
    for (const node of await clusterNodes(ch)) {
      if (seen.has(node.shard)) continue;
      seen.add(node.shard);
      nodes.push({ ...(await forNode(node.hostPort)), cluster: ch.cluster, clusterMode: ch.clusterMode ?? 'replicated' });
    }
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.close()));
    throw err;
  }
  return nodes;
}

/** The deduplication token of a part's copy: the same on every run, one per part of the old table. */
export function copyToken(old: string, part: string): string {
  return `migration copy of ${old} part ${part}`;
}

/**
 * The settings of a part's copy: one thread reading one part, and every
 * size that cuts blocks pinned, give the same blocks in the same order on
 * every run, so that a copy stopped half-way and run again finds its first
 * blocks deduplicated by `copyToken` (`deduplicate_insert_select`, where
 * the server has it, would otherwise judge INSERT ... SELECT unstable and
 * not deduplicate it: copyParts sets it).
 */
export const COPY_SETTINGS = {
  insert_deduplicate: 1,
  max_threads: 1,
  max_insert_threads: '1',
  max_block_size: '65409',
  preferred_block_size_bytes: '1000000',
  max_insert_block_size: '1048449',
  min_insert_block_size_rows: '1048449',
  min_insert_block_size_bytes: '268402944',
  async_insert: 0,
} as const;

/** What the staging table's comment says while a part is copied: the part, until its rows are moved on. */
const IN_FLIGHT = /^copying part ([0-9A-Za-z_-]+)$/;

/**
 * Copies every active part of `old` on this node into `fresh` through
 * `staging`, one part at a time, `staging` holding that part's rows only:
 * 1. the part's name goes into `staging`'s comment;
 * 2. INSERT ... SELECT of the part into `staging`, under the part's token;
 * 3. DROP PART from `old` (the copy is whole: the INSERT returned);
 * 4. MOVE PARTITION from `staging` into `fresh` (atomic), comment cleared.
 * Stopped anywhere and run again, each row lands once. The comment names
 * the part whose rows `staging` may hold: still in `old`, it is copied
 * first, and its blocks already in `staging` are duplicates (they have not
 * moved: the deduplication log of a table written by nothing else still has
 * them, however long the pause); gone from `old`, `staging` holds all of it
 * and is moved on. Returns the number of parts copied (or finished).
 */
async function copyParts(ch: ClickHouse, old: string, staging: string, fresh: string): Promise<number> {
  const db = quoteIdent(ch.database);
  const one = async <T>(query: string, params: Record<string, unknown>): Promise<T[]> =>
    (await ch.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  const settings: Record<string, unknown> = { ...COPY_SETTINGS };
  if ((await one("SELECT name FROM system.settings WHERE name = 'deduplicate_insert_select'", {})).length > 0) {
    settings['deduplicate_insert_select'] = 'enable_even_for_bad_queries';
  }
  // Part names and partition ids are ClickHouse's own (digits, letters, '_', '-'); kept to those in the SQL text.
  const clean = (id: string): string => id.replace(/[^0-9A-Za-z_-]/g, '');
  const moveOn = async (): Promise<void> => {
    const staged = await one<{ partition_id: string }>(
      'SELECT DISTINCT partition_id FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active AND rows > 0',
      { db: ch.database, t: staging },
    );
    for (const { partition_id: id } of staged) {
      await ch.client.command({
        query: `ALTER TABLE ${db}.${staging} MOVE PARTITION ID '${clean(id)}' TO TABLE ${db}.${fresh}`,
        // A big part copied in ~1M-row blocks may stage more than the default 1,000 parts.
        clickhouse_settings: { max_parts_to_move: '1000000' },
      });
    }
    await ch.client.command({ query: `ALTER TABLE ${db}.${staging} MODIFY COMMENT ''` });
  };

  const parts = await one<{ name: string }>(
    'SELECT name FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active AND rows > 0 ORDER BY name',
    { db: ch.database, t: old },
  );
  const [comment] = await one<{ comment: string }>('SELECT comment FROM system.tables WHERE database = {db:String} AND name = {t:String}', {
    db: ch.database,
    t: staging,
  });
  const inFlight = IN_FLIGHT.exec(comment?.comment ?? '')?.[1];
  // The part a stopped run was copying: first, if `old` still has it; else its whole copy is moved on now.
  const finished = inFlight !== undefined && !parts.some((p) => p.name === inFlight);
  if (finished) await moveOn();
  const order = [...parts.filter((p) => p.name === inFlight), ...parts.filter((p) => p.name !== inFlight)];
  for (const { name } of order) {
    await ch.client.command({ query: `ALTER TABLE ${db}.${staging} MODIFY COMMENT 'copying part ${clean(name)}'` });
    await ch.client.command({
      query: `INSERT INTO ${db}.${staging} SELECT * FROM ${db}.${old} WHERE _part = {part:String}`,
      query_params: { part: name },
      clickhouse_settings: { ...settings, insert_deduplication_token: copyToken(old, name) },
    });
    await ch.client.command({ query: `ALTER TABLE ${db}.${old} DROP PART '${clean(name)}'` });
    await moveOn();
  }
  return order.length + (finished ? 1 : 0);
}
