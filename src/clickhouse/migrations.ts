import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/config-schema.js';
import { clusterNodes } from './cluster-nodes.js';
import type { ClickHouse } from './create-client.js';
import { MIGRATION_STEPS } from './migration-steps.js';
import { quoteIdent } from './quote-ident.js';

/**
 * Versioned ClickHouse DDL: `schema/clickhouse/NNNN_name.sql`, applied in
 * order and recorded in `<db>.schema_migrations`. Every statement is
 * idempotent (IF NOT EXISTS), so a migration interrupted half-way is simply
 * run again. The files are written for one server; `clusterize()` derives the
 * cluster variant (ON CLUSTER, Replicated*MergeTree, Distributed; or, in the
 * `sharded` mode, the same without Keeper: plain engines, applied node by
 * node) from the same text, by these conventions of ours:
 * - a table is `CREATE TABLE IF NOT EXISTS ${db}.name` with `ENGINE = ...MergeTree`,
 *   and may say how to shard it in a `-- shard: <expression>` line;
 * - a materialized view is `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.name TO ${db}.target`;
 * - a change of a table is `ALTER TABLE ${db}.name ...` (one table per statement);
 * - a view goes with `DROP VIEW IF EXISTS ${db}.name`;
 * - placeholders: `${db}`, `${ttl_*_days}`, `${body_index}`, `${body_index_kind}`.
 */

export interface Migration {
  version: number;
  name: string;
  template: string;
  /** sha256 of the template (not of the rendered SQL, which depends on settings). */
  checksum: string;
}

export interface RenderContext {
  database: string;
  cluster: string;
  /** With `cluster`: `replicated` (ON CLUSTER, Replicated engines) or `sharded` (plain engines, run on every node). Default replicated. */
  clusterMode?: 'replicated' | 'sharded';
  retention: Config['retention'];
  /** What the server supports for the log body's full-text index. */
  bodyIndex: 'text' | 'tokenbf';
}

const BODY_INDEX = {
  text: "text(tokenizer = 'splitByNonAlpha')",
  tokenbf: 'tokenbf_v1(32768, 3, 0)',
} as const;

/** The folder of the migration files (found from this module, in sources and in dist/). */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'schema', 'clickhouse');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('schema/clickhouse not found next to the installed package');
}

export function loadMigrations(dir: string = migrationsDir()): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  return files.map((file) => {
    const template = readFileSync(join(dir, file), 'utf8');
    return {
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      template,
      checksum: createHash('sha256').update(template).digest('hex'),
    };
  });
}

/** Splits a file into statements (on `;` at the end of a line; our files keep semicolons out of strings). */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.replace(/--.*$/gm, '').trim() !== '');
}

/** Fills the placeholders of a template. */
export function renderTemplate(template: string, ctx: RenderContext): string {
  const values: Record<string, string> = {
    db: quoteIdent(ctx.database),
    ttl_spans_days: String(ctx.retention.spansDays),
    ttl_logs_days: String(ctx.retention.logsDays),
    ttl_samples_days: String(ctx.retention.samplesDays),
    ttl_rollup_1m_days: String(ctx.retention.rollup1mDays),
    ttl_rollup_1h_days: String(ctx.retention.rollup1hDays),
    body_index: BODY_INDEX[ctx.bodyIndex],
    body_index_kind: ctx.bodyIndex === 'text' ? "ClickHouse's text index" : 'a token bloom filter',
    // Only `-- cluster only` statements use it (renderMigration drops them on one server).
    cluster: ctx.cluster ? quoteIdent(ctx.cluster) : '',
  };
  return template.replace(/\$\{(\w+)\}/g, (whole, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`unknown placeholder ${whole} in a migration`);
    return v;
  });
}

/** Statements for one server, or (with ctx.cluster) for a cluster. */
export function renderMigration(migration: Migration, ctx: RenderContext): string[] {
  const statements = splitStatements(renderTemplate(migration.template, ctx));
  return reloadAlteredViews(ctx.cluster ? clusterize(statements, ctx) : statements.filter((s) => !CLUSTER_ONLY.test(s)));
}

const MODIFY_QUERY = /^\s*(?:--[^\n]*\n\s*)*ALTER TABLE (`\w+`\.\w+)((?: ON CLUSTER `\w+`)?)\s+MODIFY QUERY\b/;

/**
 * A materialized view changed by `ALTER TABLE ... MODIFY QUERY` is detached
 * and attached again right after, as a restart would load it. Without that,
 * ClickHouse (26.7, seen with chDB) deduplicates the view's blocks of an
 * insert made between the ALTER and the server's next restart differently
 * from a retry of that insert after the restart: the source table drops the
 * retry, the view writes its rows again (the cluster's ClickHouse-kill test
 * found trace_index over by 41 spans on the killed replica; a repro in
 * docs/operations.md). `ATTACH TABLE IF NOT EXISTS` first: a run
 * interrupted between the two finds the view attached again.
 */
function reloadAlteredViews(statements: string[]): string[] {
  return statements.flatMap((s) => {
    const m = MODIFY_QUERY.exec(s);
    if (m === null) return [s];
    const [, view, onCluster] = m;
    return [`ATTACH TABLE IF NOT EXISTS ${view}${onCluster}`, s, `DETACH TABLE ${view}${onCluster}`, `ATTACH TABLE IF NOT EXISTS ${view}${onCluster}`];
  });
}

/**
 * A statement for clusters only (the Distributed tables in front): a line
 * `-- cluster only` before it. It is run as written, with ON CLUSTER after
 * its table in the replicated mode; one server skips it.
 */
const CLUSTER_ONLY = /^\s*--\s*cluster only\b/m;
const CLUSTER_ONLY_TARGET = /^((?:\s*--[^\n]*\n)*\s*(?:CREATE OR REPLACE TABLE|SYSTEM FLUSH DISTRIBUTED) `\w+`\.\w+)/;

const CREATE_TABLE = /^(\s*(?:--[^\n]*\n\s*)*)CREATE TABLE IF NOT EXISTS (`\w+`)\.(\w+)/;
const CREATE_MV = /^(\s*(?:--[^\n]*\n\s*)*)CREATE MATERIALIZED VIEW IF NOT EXISTS (`\w+`)\.(\w+)/;
const ALTER_TABLE = /^(\s*(?:--[^\n]*\n\s*)*)ALTER TABLE (`\w+`)\.(\w+)\s+([\s\S]*)$/;
/** ALTER commands that change columns: the Distributed table in front must change with the local one. */
const COLUMN_CHANGE = /^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b/i;

let knownTables: Set<string> | undefined;

/** Tables every migration file creates: a view or ALTER of a later file refers to them by their single-server name. */
function tablesOfAllMigrations(): Set<string> {
  knownTables ??= new Set(
    loadMigrations().flatMap((m) => [...m.template.matchAll(/CREATE TABLE IF NOT EXISTS \$\{db\}\.(\w+)/g)].map((match) => match[1] as string)),
  );
  return knownTables;
}
const CREATE_VIEW = /^(\s*(?:--[^\n]*\n\s*)*)CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?(`\w+`)\.(\w+)/;
const DROP_VIEW = /^(\s*(?:--[^\n]*\n\s*)*)DROP VIEW IF EXISTS (`\w+`)\.(\w+)\s*$/;

/**
 * The cluster variant: each table becomes `<name>_local` plus a Distributed
 * table `<name>` sharded by its `-- shard:` expression (rand() by default);
 * materialized views run on every node, reading and writing the local
 * tables; an ALTER changes the local table (and, for a column change, the
 * Distributed one too). In the `replicated` mode every statement is ON
 * CLUSTER and the local engines are Replicated (one replica set per shard);
 * in the `sharded` mode the engines stay as written and the caller runs each
 * statement on every node (migrate() does).
 */
export function clusterize(statements: string[], ctx: RenderContext): string[] {
  const replicated = ctx.clusterMode !== 'sharded';
  const cluster = quoteIdent(ctx.cluster);
  const onCluster = replicated ? ` ON CLUSTER ${cluster}` : '';
  const db = quoteIdent(ctx.database);
  const local = new Set<string>(tablesOfAllMigrations());
  for (const s of statements) {
    const m = CREATE_TABLE.exec(s);
    if (m) local.add(m[3] as string);
  }
  const toLocal = (sql: string): string =>
    sql.replace(/(`\w+`)\.(\w+)\b/g, (whole, d: string, t: string) => (d === db && local.has(t) ? `${d}.${t}_local` : whole));
  const out: string[] = [];
  for (const s of statements) {
    if (CLUSTER_ONLY.test(s)) {
      const target = CLUSTER_ONLY_TARGET.exec(s);
      if (!target) throw new Error(`a cluster-only migration statement must be CREATE OR REPLACE TABLE or SYSTEM FLUSH DISTRIBUTED: ${s.slice(0, 80)}`);
      out.push(`${target[1]}${onCluster}${s.slice((target[1] as string).length)}`);
      continue;
    }
    const table = CREATE_TABLE.exec(s);
    if (table) {
      const name = table[3] as string;
      const shard = /^\s*--\s*shard:\s*(.+)$/m.exec(s)?.[1]?.trim() ?? 'rand()';
      let sql = toLocal(s).replace(`${db}.${name}_local`, `${db}.${name}_local${onCluster}`);
      if (replicated) {
        sql = sql.replace(/ENGINE = (\w*)MergeTree(\(([^)]*)\))?/, (_w, kind: string, _p: string | undefined, args: string | undefined) => {
          const path = `'/clickhouse/tables/{shard}/${ctx.database}/${name}_local'`;
          return `ENGINE = Replicated${kind}MergeTree(${path}, '{replica}'${args ? `, ${args}` : ''})`;
        });
      }
      out.push(sql);
      out.push(`CREATE TABLE IF NOT EXISTS ${db}.${name}${onCluster} AS ${db}.${name}_local\nENGINE = Distributed(${cluster}, ${db}, ${name}_local, ${shard})`);
      continue;
    }
    const mv = CREATE_MV.exec(s);
    if (mv) {
      const name = mv[3] as string;
      out.push(toLocal(s).replace(`${db}.${name}`, `${db}.${name}${onCluster}`));
      continue;
    }
    const alter = ALTER_TABLE.exec(s);
    if (alter && alter[2] === db && local.has(alter[3] as string)) {
      const [, lead = '', , name = '', commands = ''] = alter;
      out.push(`${lead}ALTER TABLE ${db}.${name}_local${onCluster} ${commands}`);
      if (COLUMN_CHANGE.test(commands.trim())) out.push(`ALTER TABLE ${db}.${name}${onCluster} ${commands}`);
      continue;
    }
    if (alter && alter[2] === db && (alter[3] as string).endsWith('_mv')) {
      // A materialized view's query (MODIFY QUERY) reads and writes the local tables.
      const [, lead = '', , name = '', commands = ''] = alter;
      out.push(`${lead}ALTER TABLE ${db}.${name}${onCluster} ${toLocal(commands)}`);
      continue;
    }
    const view = CREATE_VIEW.exec(s);
    if (view) {
      // A plain view reads the Distributed tables: the same text, on every node.
      const name = view[3] as string;
      out.push(s.replace(`${db}.${name}`, `${db}.${name}${onCluster}`));
      continue;
    }
    const drop = DROP_VIEW.exec(s);
    if (drop && drop[2] === db) {
      // A view (materialized or plain) has the same name on every node.
      out.push(`${drop[1]}DROP VIEW IF EXISTS ${db}.${drop[3]}${onCluster}`);
      continue;
    }
    throw new Error(`a migration statement the cluster variant does not know how to rewrite: ${s.slice(0, 80)}`);
  }
  return out;
}

function ledgerDdl(ctx: RenderContext): string {
  const db = quoteIdent(ctx.database);
  // Sharded: the ledger is a plain table on the cluster's first node (see migrate()).
  if (!ctx.cluster || ctx.clusterMode === 'sharded') {
    return `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, checksum String, applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`;
  }
  // One ledger for the whole cluster: every replica of every shard shares the same path.
  return `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations ON CLUSTER ${quoteIdent(ctx.cluster)} (version UInt32, name String, checksum String, applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/${ctx.database}/schema_migrations', '{replica}', applied_at) ORDER BY version`;
}

/** ` ON CLUSTER <name>` for DDL that Keeper spreads (replicated mode), else ''. */
export function onClusterClause(ch: ClickHouse): string {
  return ch.cluster && ch.clusterMode !== 'sharded' ? ` ON CLUSTER ${quoteIdent(ch.cluster)}` : '';
}

/** Which full-text index the server supports for log bodies. */
export async function probeBodyIndex(ch: ClickHouse): Promise<'text' | 'tokenbf'> {
  const probe = `${quoteIdent(ch.database)}.\`_probe_text_index_${process.pid}\``;
  try {
    await ch.client.command({ query: `CREATE TABLE ${probe} (b String, INDEX i b TYPE ${BODY_INDEX.text} GRANULARITY 1) ENGINE = MergeTree ORDER BY tuple()` });
    return 'text';
  } catch {
    return 'tokenbf';
  } finally {
    await ch.client.command({ query: `DROP TABLE IF EXISTS ${probe}` }).catch(() => undefined);
  }
}

export interface MigrateResult {
  applied: Array<{ version: number; name: string }>;
  alreadyApplied: number;
  bodyIndex: 'text' | 'tokenbf';
  /** Tables whose TTL was changed to match `retention.*`. */
  retentionChanged: string[];
}

/** Each table's TTL: the time column and the retention setting that drives it. */
export const RETENTION: ReadonlyArray<{ table: string; column: string; days: keyof Config['retention'] }> = [
  { table: 'spans', column: 'toDateTime(start)', days: 'spansDays' },
  { table: 'trace_index', column: 'toDateTime(start)', days: 'spansDays' },
  { table: 'logs', column: 'toDateTime(timestamp)', days: 'logsDays' },
  { table: 'samples', column: 'toDateTime(timestamp)', days: 'samplesDays' },
  { table: 'metrics_1m', column: 'bucket', days: 'rollup1mDays' },
  { table: 'metrics_1h', column: 'bucket', days: 'rollup1hDays' },
];

/**
 * Brings each table's TTL in line with the configured retention: the
 * migrations set it when they create a table, and a later change of
 * `retention.*` takes effect here (ALTER TABLE ... MODIFY TTL), at the next
 * start or `ssf migrate`.
 */
export async function syncRetention(ch: ClickHouse, retention: Config['retention']): Promise<string[]> {
  const rows = await (
    await ch.client.query({
      query: 'SELECT name, create_table_query FROM system.tables WHERE database = {db:String}',
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    })
  ).json<{ name: string; create_table_query: string }>();
  const byName = new Map(rows.map((r) => [r.name, r.create_table_query]));
  const changed: string[] = [];
  const onCluster = onClusterClause(ch);
  for (const { table, column, days } of RETENTION) {
    const physical = ch.cluster ? `${table}_local` : table;
    const ddl = byName.get(physical);
    if (!ddl) continue;
    const want = retention[days];
    const current = /TTL .*?toIntervalDay\((\d+)\)/.exec(ddl)?.[1];
    if (current !== undefined && Number(current) === want) continue;
    await ch.client.command({
      query: `ALTER TABLE ${quoteIdent(ch.database)}.${quoteIdent(physical)}${onCluster} MODIFY TTL ${column} + toIntervalDay(${want})`,
    });
    changed.push(physical);
  }
  return changed;
}

/** How long a migration lock is trusted before it is taken as left by a crashed process. */
export const LOCK_STALE_MS = 15 * 60_000;
const LOCK_POLL_MS = 500;
/** How often the holder of the lock says it is alive (keepLockFresh): well inside LOCK_STALE_MS. */
export const LOCK_HEARTBEAT_MS = LOCK_STALE_MS / 5;

/**
 * Applies the migrations that are not yet recorded. Safe to run from several
 * processes at once and any number of times: pending migrations are applied
 * under a lock (the table `<db>.schema_migrations_lock`, whose CREATE succeeds
 * for one process only; the others wait for it to go, then find the ledger
 * up to date). The holder renews the lock every `LOCK_HEARTBEAT_MS`; a lock
 * not renewed for `LOCK_STALE_MS` is taken as left by a crashed process and
 * removed. Refuses to go on when an applied migration's
 * file has changed (write a new migration instead).
 */
export async function migrate(
  ch: ClickHouse,
  config: Pick<Config, 'retention'>,
  log: (line: string) => void = () => {},
  options: { until?: number } = {},
): Promise<MigrateResult> {
  const db = quoteIdent(ch.database);
  const onCluster = onClusterClause(ch);
  // Sharded mode: every statement runs on every node, and the ledger and the
  // lock live on the first node (shard 1, replica 1) whichever node this
  // process was given, so that processes on different nodes take turns.
  const sharded = ch.cluster !== '' && ch.clusterMode === 'sharded';
  const nodes = sharded ? await connectNodes(ch) : [ch];
  const home = nodes[0] as ClickHouse;
  try {
    for (const node of nodes) await node.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}${onCluster}` });
    const bodyIndex = await probeBodyIndex(home);
    const ctx: RenderContext = {
      database: ch.database,
      cluster: ch.cluster,
      clusterMode: ch.clusterMode ?? 'replicated',
      retention: config.retention,
      bodyIndex,
    };
    await home.client.command({ query: ledgerDdl(ctx) });
    const result: MigrateResult = { applied: [], alreadyApplied: 0, bodyIndex, retentionChanged: [] };
    // `until`: stop after this version (tests build an older schema to migrate from).
    const migrations = loadMigrations().filter((m) => m.version <= (options.until ?? Number.POSITIVE_INFINITY));
    for (let first = true; ; first = false) {
      const pending = await pendingMigrations(home, migrations);
      if (first) result.alreadyApplied = migrations.length - pending.length;
      if (pending.length === 0) break;
      if (!(await takeLock(home, onCluster))) {
        await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
        continue;
      }
      // A step may run for longer than LOCK_STALE_MS (0020 copies every log
      // row): the lock is kept fresh meanwhile, so that no other process
      // takes it for a crashed one's and runs the same migration beside this one.
      const stopHeartbeat = keepLockFresh(home, onCluster, LOCK_HEARTBEAT_MS, log);
      try {
        // Read again under the lock: another process may have finished meanwhile.
        for (const m of await pendingMigrations(home, migrations)) {
          for (const statement of renderMigration(m, ctx)) {
            for (const node of nodes) await runStatement(node, statement);
          }
          for (const node of nodes) await MIGRATION_STEPS[m.version]?.(node, log);
          await home.client.insert({
            table: `${db}.schema_migrations`,
            values: [{ version: m.version, name: m.name, checksum: m.checksum }],
            format: 'JSONEachRow',
          });
          result.applied.push({ version: m.version, name: m.name });
          log(`applied migration ${String(m.version).padStart(4, '0')}_${m.name}`);
        }
      } finally {
        await stopHeartbeat();
        await home.client.command({ query: `DROP TABLE IF EXISTS ${db}.schema_migrations_lock${onCluster} SYNC` });
      }
    }
    for (const node of nodes) {
      const changed = await syncRetention(node, config.retention);
      for (const t of changed) if (!result.retentionChanged.includes(t)) result.retentionChanged.push(t);
    }
    for (const t of result.retentionChanged) log(`retention of ${t} changed to match the configuration`);
    return result;
  } finally {
    if (sharded) await Promise.allSettled(nodes.map((n) => n.close()));
  }
}

/** How long a migration statement that ClickHouse asks to retry later is retried. */
export const RETRY_LATER_MS = 60_000;

/**
 * Runs one migration statement. ATTACH of a view that was just detached
 * fails while an insert that started before still holds it ("detached but
 * still used by some query. Retry later"): it is tried again until that
 * insert is done.
 */
async function runStatement(ch: ClickHouse, query: string): Promise<void> {
  const deadline = Date.now() + RETRY_LATER_MS;
  for (;;) {
    try {
      await ch.client.command({ query });
      return;
    } catch (err) {
      if (!/Retry later/i.test(String((err as Error).message)) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A client per node of the cluster (sharded mode), shard by shard: each runs the DDL on its own node only. */
async function connectNodes(ch: ClickHouse): Promise<ClickHouse[]> {
  const forNode = ch.forNode;
  if (forNode === undefined) throw new Error('the sharded cluster mode needs a ClickHouse server (clickhouse.url)');
  const nodes: ClickHouse[] = [];
  try {
    // Each node object is one node of this cluster in the sharded mode, whatever the factory was given.
    for (const node of await clusterNodes(ch)) nodes.push({ ...(await forNode(node.hostPort)), cluster: ch.cluster, clusterMode: 'sharded' });
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.close()));
    throw err;
  }
  return nodes;
}

/** The migrations not yet in the ledger, in order; throws when an applied one's file changed. */
async function pendingMigrations(ch: ClickHouse, migrations: readonly Migration[]): Promise<Migration[]> {
  const rows = await (
    await ch.client.query({ query: `SELECT version, name, checksum FROM ${quoteIdent(ch.database)}.schema_migrations FINAL`, format: 'JSONEachRow' })
  ).json<{ version: number; name: string; checksum: string }>();
  const done = new Map(rows.map((r) => [Number(r.version), r]));
  return migrations.filter((m) => {
    const previous = done.get(m.version);
    if (!previous) return true;
    if (previous.checksum !== m.checksum) {
      throw new Error(
        `migration ${String(m.version).padStart(4, '0')}_${m.name} changed after it was applied (checksum ${previous.checksum.slice(0, 12)} recorded, ${m.checksum.slice(0, 12)} now): add a new migration instead of editing an applied one`,
      );
    }
    return false;
  });
}

/**
 * Every `everyMs`, renews the lock table's comment, which renews its
 * `metadata_modification_time`: the age takeLock judges a lock by. A beat is
 * skipped while the one before is still under way (ON CLUSTER with a node
 * down may take minutes). A failed renewal is logged and tried again at the
 * next beat: the lock only goes stale after LOCK_STALE_MS without one, and
 * then another process may take it, which the log says may happen. Returns a
 * function that stops the beats and waits for one under way.
 */
export function keepLockFresh(ch: ClickHouse, onCluster: string, everyMs: number, log: (line: string) => void = () => {}): () => Promise<void> {
  let beating: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (beating !== undefined) return;
    beating = ch.client
      .command({
        query: `ALTER TABLE ${quoteIdent(ch.database)}.schema_migrations_lock${onCluster} MODIFY COMMENT 'pid ${process.pid}, alive at ${new Date().toISOString()}'`,
      })
      .then(
        () => undefined,
        (err: unknown) => {
          log(
            `could not renew the migration lock (another process may take it for a crashed one's after ${LOCK_STALE_MS / 60_000} minutes without a renewal): ${(err as Error).message}`,
          );
        },
      )
      .finally(() => {
        beating = undefined;
      });
  }, everyMs);
  return async () => {
    clearInterval(timer);
    await beating;
  };
}

/**
 * Creates the lock table; false when it exists (another process holds the
 * lock). A lock older than LOCK_STALE_MS (its last renewal by keepLockFresh)
 * is dropped first.
 */
async function takeLock(ch: ClickHouse, onCluster: string): Promise<boolean> {
  const db = quoteIdent(ch.database);
  const held = await (
    await ch.client.query({
      query: `SELECT toUnixTimestamp(metadata_modification_time) * 1000 AS since_ms FROM system.tables WHERE database = {db:String} AND name = 'schema_migrations_lock'`,
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    })
  ).json<{ since_ms: string | number }>();
  const since = held[0] ? Number(held[0].since_ms) : undefined;
  if (since !== undefined && Date.now() - since > LOCK_STALE_MS) {
    await ch.client.command({ query: `DROP TABLE IF EXISTS ${db}.schema_migrations_lock${onCluster} SYNC` });
  } else if (since !== undefined) {
    return false;
  }
  try {
    await ch.client.command({ query: `CREATE TABLE ${db}.schema_migrations_lock${onCluster} (holder String) ENGINE = Memory COMMENT 'pid ${process.pid}'` });
    return true;
  } catch (err) {
    if (/already exists|TABLE_ALREADY_EXISTS/i.test(String((err as Error).message))) return false;
    throw err;
  }
}
