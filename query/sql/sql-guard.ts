import { queryError } from '../query-errors.js';
import type { QueryRunner } from '../query-runner.js';
import { OTEL_VIEWS, PUBLIC_TABLES } from '../query-runner.js';
import type { QueryParams } from '../query-runner.js';

/** Table functions that read nothing but what the query itself holds. */
const ALLOWED_TABLE_FUNCTIONS = new Set(['numbers', 'numbers_mt', 'values', 'generateseries', 'generate_series', 'zeros', 'zeros_mt']);

/**
 * Scalar functions that reach outside the query's tables (files,
 * dictionaries, Join tables, Keeper, AI providers, server configuration,
 * identity and certificate, the schema of other tables), write to the
 * server's log, or only burn time. Exact lowercased names as the analyzer
 * writes them (it resolves aliases: `user()` is `currentUser`), plus prefixes
 * that cover a family (`dictGetString`, `filesystemAvailable`, ...).
 *
 * A deny-list, not an allow-list: ClickHouse has some 1,500 functions and
 * adds more in every release, nearly all pure computations over their
 * arguments; an allow-list would refuse tenants' valid SQL after each
 * upgrade. What keeps a missed function from reaching another tenant's rows
 * is not this list but the tenant filter and the table checks; what this
 * list keeps a tenant from is the server itself. The list was last checked
 * against `system.functions` of ClickHouse 26.7 (names and descriptions that
 * speak of the server, users, profiles, roles, logs, files, certificates,
 * Keeper, models and dictionaries).
 */
const DENIED_FUNCTIONS = new Set([
  'file',
  'demangle',
  'evalmlmethod',
  'modelevaluate',
  'currentuser',
  'authuser',
  'authenticateduser',
  'currentprofiles',
  'enabledprofiles',
  'defaultprofiles',
  'currentroles',
  'enabledroles',
  'defaultroles',
  'getoskernelversion',
  'serveruuid',
  'hostname',
  'fqdn',
  'tcpport',
  'uptime',
  'displayname',
  'shardnum',
  'shardcount',
  'buildid',
  'revision',
  'globalvariable',
  'hascolumnintable',
  'queryid',
  'initialqueryid',
  'getsubcolumn',
  'icebergbucket',
  'logtrace',
  'showcertificate',
  'connectionid',
  'connection_id',
  'generateserialid',
  'aiembed',
  'aigenerate',
]);
const DENIED_PREFIXES = [
  'dict',
  'joinget',
  'filesystem',
  'addressto',
  'sleep',
  'getserver',
  'getsetting',
  'getmacro',
  'getclient',
  'getmergetree',
  'catboost',
  'transaction',
  'zookeeper',
  'naivebayes',
  'region',
];

function deniedFunction(name: string): boolean {
  const n = name.toLowerCase();
  return DENIED_FUNCTIONS.has(n) || DENIED_PREFIXES.some((p) => n.startsWith(p));
}

interface AstNode {
  kind: string;
  /** What follows the kind: a name, a literal, an operator. */
  value: string;
  depth: number;
  parent: AstNode | undefined;
  children: AstNode[];
}

/** `EXPLAIN AST` text as a tree (one node per line, one space of indent per level). */
export function parseExplainAst(text: string): AstNode {
  const root: AstNode = { kind: '(root)', value: '', depth: -1, parent: undefined, children: [] };
  let last = root;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const depth = raw.length - raw.trimStart().length;
    const line = raw.trim().replace(/ \(children \d+\)$/, '');
    const space = line.indexOf(' ');
    const kind = space === -1 ? line : line.slice(0, space);
    const value = space === -1 ? '' : line.slice(space + 1).replace(/ \(alias [^)]*\)$/, '');
    let parent = last;
    while (parent.depth >= depth) parent = parent.parent as AstNode;
    const node: AstNode = { kind, value, depth, parent, children: [] };
    parent.children.push(node);
    last = node;
  }
  return root;
}

function* walk(node: AstNode): Generator<AstNode> {
  yield node;
  for (const c of node.children) yield* walk(c);
}

function unquote(name: string): string {
  return name.replace(/^`(.*)`$/, '$1').replace(/^"(.*)"$/, '$1');
}

/**
 * Checks that `sql` is one read-only statement over the public tables and
 * returns it in ClickHouse's canonical form (comments gone), which is what
 * runs. Three steps, each by ClickHouse's own parser or analyzer, never by
 * our reading of the text:
 *
 * 1. `formatQuery({sql:String})`: the text goes as a bound parameter, so it
 *    is parsed and never executed. More than one statement fails here.
 * 2. `EXPLAIN AST` of the canonical text: the statement kind, a SETTINGS,
 *    FORMAT or INTO OUTFILE clause, table functions and scalar functions
 *    that reach outside the tables are refused before anything is analysed
 *    (analysis would already call a table function to learn its columns).
 * 3. `EXPLAIN QUERY TREE` (with the tenant's settings): the analyzer
 *    resolves every CTE, alias and unqualified name to the real tables;
 *    each must be a public table of the configured database.
 */
export async function guardSql(runner: QueryRunner, sql: string, tenant: string, params: QueryParams = {}): Promise<string> {
  if (sql.trim() === '') throw queryError('QUERY_ERR_SYNTAX', 'the SQL is empty');
  const canonical = (await runner.internal('SELECT formatQuery({sql:String})', { sql })).replace(/\n$/, '');
  if (canonical.trim() === '') throw queryError('QUERY_ERR_SYNTAX', 'the SQL holds no statement');

  const ast = parseExplainAst(await runner.internal(`EXPLAIN AST ${canonical}`, params));
  const top = ast.children[0];
  if (ast.children.length !== 1 || !top || (top.kind !== 'SelectWithUnionQuery' && top.kind !== 'SelectIntersectExceptQuery')) {
    throw queryError('QUERY_ERR_NOT_SELECT', `only SELECT statements are allowed (this is ${top ? top.kind.replace(/Query$/, '') : 'nothing'})`);
  }
  // SelectWithUnionQuery's children: the selects, then INTO OUTFILE (a literal), FORMAT (an identifier), SETTINGS.
  for (const extra of top.children.slice(1)) {
    if (extra.kind === 'Set') throw queryError('QUERY_ERR_SETTINGS');
    if (extra.kind === 'Literal')
      throw queryError('QUERY_ERR_FORMAT_CLAUSE', 'INTO OUTFILE is not allowed: the answer comes back over HTTP; ask for a format with the "format" field');
    if (extra.kind === 'Identifier')
      throw queryError('QUERY_ERR_FORMAT_CLAUSE', `FORMAT ${extra.value} is not allowed in the SQL: use "format": json, csv, tsv, ndjson or parquet`);
    throw queryError('QUERY_ERR_NOT_SELECT', `unexpected clause ${extra.kind}`);
  }
  const unqualified = new Set<string>();
  for (const node of walk(top)) {
    if (node.kind === 'Set' || node.kind === 'SetQuery') throw queryError('QUERY_ERR_SETTINGS');
    if (node.kind === 'Function') {
      const name = unquote(node.value);
      if (node.parent?.kind === 'TableExpression') {
        if (!ALLOWED_TABLE_FUNCTIONS.has(name.toLowerCase()))
          throw queryError('QUERY_ERR_TABLE_FUNCTION', `table function ${name}() is not allowed; read the tables of ${runner.database} (docs/tables.md)`);
      } else if (deniedFunction(name)) {
        throw queryError('QUERY_ERR_FUNCTION', `function ${name}() is not allowed through the API`);
      }
    }
    if (node.kind === 'TableIdentifier') {
      const name = unquote(node.value);
      if (name.includes('.')) checkTableName(runner, name, true);
      else unqualified.add(name); // a CTE or a table of the current database: the query tree decides
    }
  }

  const tree = await runner.text(`SELECT explain FROM (EXPLAIN QUERY TREE ${canonical})`, tenant, params);
  const read = tablesRead(tree);
  for (const name of read.tables) {
    if (name !== 'system.one') checkTableName(runner, name, false); // SELECT without FROM reads system.one
  }
  for (const name of read.tableFunctions) {
    if (!ALLOWED_TABLE_FUNCTIONS.has(name.toLowerCase())) throw queryError('QUERY_ERR_TABLE_FUNCTION', `table function ${name}() is not allowed`);
  }
  // A name the parser saw unqualified is a public table of the database or a CTE of the query.
  for (const name of unqualified) {
    if (!PUBLIC.has(name) && !read.ctes.has(name)) {
      throw queryError('QUERY_ERR_TABLE', `table ${name} is not readable: the API reads ${[...PUBLIC].join(', ')} (docs/tables.md)`);
    }
  }
  for (const m of tree.matchAll(/\bfunction_name: (\w+)/g)) {
    if (deniedFunction(m[1] as string)) throw queryError('QUERY_ERR_FUNCTION', `function ${m[1]}() is not allowed through the API`);
  }
  return canonical;
}

const PUBLIC = new Set<string>([...PUBLIC_TABLES, ...OTEL_VIEWS]);

interface TablesRead {
  /** `db.table` of every TABLE node. */
  tables: string[];
  tableFunctions: string[];
  /** Names of the CTEs the analyzer resolved. */
  ctes: Set<string>;
}

/**
 * What an `EXPLAIN QUERY TREE` text reads. A TABLE node's line holds more
 * than its name (`TABLE id: 3, alias: __table1, table_name: ssf.x, final: 1`
 * with FINAL, and SAMPLE adds its own fields), so each field is read where
 * it stands, every occurrence of it is checked, and a TABLE or
 * TABLE_FUNCTION line without its name refuses the query: whatever the
 * analyzer writes that this reader does not know fails closed.
 */
export function tablesRead(tree: string): TablesRead {
  const read: TablesRead = { tables: [], tableFunctions: [], ctes: new Set() };
  const recursive = new Set<string>();
  const tableIds = new Set<string>();
  /** Columns named `_...` and the ids of the nodes they are read from. */
  const underscored: Array<{ name: string; sources: string[] }> = [];
  for (const line of tree.split('\n')) {
    const node = /^\s*(TABLE|TABLE_FUNCTION|QUERY|UNION|COLUMN) id: (\d+)/.exec(line);
    if (node === null) continue;
    const kind = node[1] as string;
    const all = (field: string): string[] => [...line.matchAll(new RegExp(`\\b${field}: ([^,\\s]+)`, 'g'))].map((m) => m[1] as string);
    if (kind === 'COLUMN') {
      const name = /\bcolumn_name: (.*)$/.exec(line)?.[1];
      if (name?.startsWith('_')) underscored.push({ name: name.replace(/, result_type: .*$/, ''), sources: all('source_id') });
    } else if (kind === 'TABLE' || kind === 'TABLE_FUNCTION') {
      if (kind === 'TABLE') tableIds.add(node[2] as string);
      const names = all(kind === 'TABLE' ? 'table_name' : 'table_function_name');
      if (names.length === 0) throw queryError('QUERY_ERR_TABLE', `the query reads something the API cannot name: ${line.trim().slice(0, 200)}`);
      (kind === 'TABLE' ? read.tables : read.tableFunctions).push(...names);
    } else {
      // A CTE's name runs to the next field: it may hold spaces (`WITH \`my x\` AS ...`).
      for (const m of line.matchAll(/\bcte_name: (.+?)(?=, [a-z_]+: |$)/g)) read.ctes.add(unquote(m[1] as string));
      // WITH RECURSIVE: the CTE's rows so far, in a temporary table of the query's own.
      for (const m of line.matchAll(/\brecursive_cte_table: \S+ \(([0-9a-f-]{36})\)/g)) recursive.add(`_temporary_and_external_tables._tmp_${m[1]}`);
    }
  }
  read.tables = read.tables.filter((t) => !recursive.has(t));
  // No column of a public table starts with `_`: one read from a table is a
  // virtual column (`_part`, `_part_offset`, `_part_starting_offset`,
  // `_block_number`, ...). Those describe the storage, and a part holds
  // every tenant's rows of one insert: the offsets counted the other
  // tenants' rows around the caller's, the part names their inserts.
  for (const c of underscored) {
    if (c.sources.length === 0 || c.sources.some((id) => tableIds.has(id))) {
      throw queryError(
        'QUERY_ERR_VIRTUAL_COLUMN',
        `column ${c.name} is a virtual column of the storage, not data; the API reads the columns of docs/tables.md`,
      );
    }
  }
  return read;
}

/** A qualified table name (`db.t`) as the parser (unresolved) or the analyzer (resolved) wrote it. */
function checkTableName(runner: QueryRunner, name: string, unresolved: boolean): void {
  const dot = name.indexOf('.');
  if (dot === -1) throw queryError('QUERY_ERR_TABLE', `table ${name} is not readable${unresolved ? '' : ' (no database in the query tree)'}`);
  const db = unquote(name.slice(0, dot));
  const table = unquote(name.slice(dot + 1));
  if (db.toLowerCase() === 'system' || db.toLowerCase() === 'information_schema') {
    throw queryError('QUERY_ERR_TABLE', `${db}.${table}: system tables are not readable through the API`);
  }
  if (db !== runner.database || !PUBLIC.has(table)) {
    throw queryError('QUERY_ERR_TABLE', `${db}.${table} is not readable: the API reads ${[...PUBLIC].map((t) => `${runner.database}.${t}`).join(', ')}`);
  }
}
