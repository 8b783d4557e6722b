import { FOLDED_BODY } from './body-tokens.js';
import { SEVERITIES } from './log-query.js';
import type { LogQuery, Severity } from './log-query.js';

/**
 * A parsed log search as SQL over `logs`. Every value is a `{name:Type}`
 * parameter; the SQL text holds only our own fixed fragments.
 *
 * A word is found with `hasToken(<folded body>, token)` per index token of
 * the word (already case-folded by the parser), ANDed: the full-text index
 * on the folded body (`idx_body_folded`, migration 0016; text index or token
 * bloom filter alike) answers it, because the SQL names the index's own
 * expression (body-tokens.ts `FOLDED_BODY`). A phrase is its tokens found the
 * same way (the index narrows the granules) and then `match()` on the folded
 * body with a pattern that wants them next to each other, in order, as
 * whole tokens.
 */

/** Collects the `{pN:Type}` parameters of the search condition. */
export class SqlParams {
  readonly values: Record<string, unknown> = {};
  private next = 0;

  /** Binds `value` and returns its placeholder. */
  add(value: unknown, type: string): string {
    const name = `p${this.next++}`;
    this.values[name] = value;
    return `{${name}:${type}}`;
  }
}

/** ASCII characters that are not letters or digits: what separates tokens (body-tokens.ts). */
const SEPARATOR = '[\\x00-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7F]';

function regexEscape(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/**
 * The RE2 pattern (ClickHouse `match`, on the folded body) of a phrase: its
 * folded tokens separated by non-token characters only, with no token
 * character right before or after.
 */
export function phrasePattern(tokens: readonly string[]): string {
  return `(?:^|${SEPARATOR})${tokens.map(regexEscape).join(`${SEPARATOR}+`)}(?:${SEPARATOR}|$)`;
}

function tokensCondition(tokens: readonly string[], params: SqlParams): string {
  const parts = tokens.map((t) => `hasToken(${FOLDED_BODY}, ${params.add(t, 'String')})`);
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`;
}

const OPERATOR = { '=': '=', '>': '>', '>=': '>=', '<': '<', '<=': '<=' } as const;

/** The WHERE condition of a parsed search. */
export function searchCondition(node: LogQuery, params: SqlParams): string {
  switch (node.kind) {
    case 'term':
      return tokensCondition(node.tokens, params);
    case 'phrase':
      if (node.tokens.length === 1) return tokensCondition(node.tokens, params);
      return `(${tokensCondition(node.tokens, params)} AND match(${FOLDED_BODY}, ${params.add(phrasePattern(node.tokens), 'String')}))`;
    case 'service':
      return `service = ${params.add(node.value, 'String')}`;
    case 'severity':
      return `CAST(severity, 'Int8') ${OPERATOR[node.op]} ${params.add(SEVERITIES.indexOf(node.value), 'Int8')}`;
    case 'attribute':
      return `attributes[${params.add(node.key, 'String')}] = ${params.add(node.value, 'String')}`;
    case 'not':
      return `NOT (${searchCondition(node.operand, params)})`;
    case 'and':
    case 'or':
      return `(${node.operands.map((o) => searchCondition(o, params)).join(node.kind === 'and' ? ' AND ' : ' OR ')})`;
  }
}

/** What one page of `GET /v1/logs` reads. */
export interface LogSearch {
  tenant: string;
  /** Epoch ms, both ends included. */
  fromMs: number;
  toMs: number;
  services: readonly string[];
  minSeverity?: Severity | undefined;
  traceId?: bigint | undefined;
  traceIdHigh?: bigint | undefined;
  query?: LogQuery | undefined;
  order: 'asc' | 'desc';
  /** Rows to read (the route asks one more than the page, to know whether another page follows). */
  limit: number;
  /**
   * Keyset position: rows after (timestamp, row hash) in `order`, or at it.
   * `skip` rows at exactly that position were already given (normally 1:
   * the previous page's last row; more for identical rows).
   */
  after?: { ns: string; hash: string; skip: number } | undefined;
  /** A slice of the range, ns since the epoch, half-open [loNs, hiNs): searchLogs reads the range in such windows. */
  window?: { loNs: bigint; hiNs: bigint } | undefined;
  /**
   * The part of the range left after this window, [loNs, hiNs): the answer
   * then also holds one row with `part` 2 when the tenant has a row there
   * (the page's rows have `part` 1), so that a page whose rows all came from
   * this window needs no next query.
   */
  rest?: { loNs: bigint; hiNs: bigint } | undefined;
}

/** The SELECT of one page and its parameters. `table` is `runner.table('logs')`. */
export function logSearchSql(table: string, search: LogSearch): { sql: string; params: Record<string, unknown> } {
  const params = new SqlParams();
  const named: Record<string, unknown> = {
    tenant: search.tenant,
    fromMs: Math.floor(search.fromMs),
    toMs: Math.ceil(search.toMs),
    limit: search.limit,
    skip: search.after?.skip ?? 0,
  };
  const where = ['tenant = {tenant:String}', 'timestamp >= fromUnixTimestamp64Milli({fromMs:Int64})', 'timestamp <= fromUnixTimestamp64Milli({toMs:Int64})'];
  if (search.services.length > 0) {
    where.push('service IN {services:Array(String)}');
    named['services'] = search.services;
  }
  if (search.minSeverity !== undefined) {
    where.push(`CAST(severity, 'Int8') >= {minSeverity:Int8}`);
    named['minSeverity'] = SEVERITIES.indexOf(search.minSeverity);
  }
  if (search.traceId !== undefined) {
    where.push('trace_id = {traceId:Int64}');
    named['traceId'] = search.traceId.toString();
  }
  if (search.traceIdHigh !== undefined) {
    where.push('trace_id_high IN (0, {traceIdHigh:Int64})');
    named['traceIdHigh'] = search.traceIdHigh.toString();
  }
  if (search.window) {
    where.push('timestamp >= fromUnixTimestamp64Nano({windowLoNs:Int64})', 'timestamp < fromUnixTimestamp64Nano({windowHiNs:Int64})');
    named['windowLoNs'] = search.window.loNs.toString();
    named['windowHiNs'] = search.window.hiNs.toString();
  }
  if (search.query) where.push(searchCondition(search.query, params));
  const desc = search.order === 'desc';
  if (search.after) {
    const [past, pastOrAt] = desc ? ['<', '<='] : ['>', '>='];
    where.push(`timestamp ${pastOrAt} fromUnixTimestamp64Nano({afterNs:Int64})`);
    where.push(`(timestamp ${past} fromUnixTimestamp64Nano({afterNs:Int64}) OR row_hash ${pastOrAt} {afterHash:UInt32})`);
    named['afterNs'] = search.after.ns;
    named['afterHash'] = search.after.hash;
  }
  const direction = desc ? 'DESC' : 'ASC';
  const page = [
    `SELECT${search.rest ? ' 1 AS part,' : ''}`,
    '  toUnixTimestamp64Nano(timestamp) AS ts_ns,',
    '  row_hash, service, severity, body, trace_id, trace_id_high, span_id, attributes',
    `FROM ${table}`,
    `WHERE ${where.join('\n  AND ')}`,
    `ORDER BY timestamp ${direction}, row_hash ${direction}`,
    'LIMIT {limit:UInt32} OFFSET {skip:UInt32}',
  ].join('\n');
  if (!search.rest) return { sql: page, params: { ...params.values, ...named } };
  // One granule at most: the first row of the tenant in the rest, if any, in
  // a part of its own that ClickHouse reads beside the page (as a scalar
  // subquery it ran before the page: 6-7 ms of every first window on the 10M bench).
  named['restLoNs'] = search.rest.loNs.toString();
  named['restHiNs'] = search.rest.hiNs.toString();
  const marker = tenantRowIn(
    table,
    "2 AS part, toUnixTimestamp64Nano(timestamp) AS ts_ns, row_hash, service, severity, '' AS body, toInt64(0) AS trace_id, toInt64(0) AS trace_id_high, toInt64(0) AS span_id, CAST(map(), 'Map(LowCardinality(String), String)') AS attributes",
    'restLoNs',
    'restHiNs',
  );
  return { sql: `(${page})\nUNION ALL\n${marker}`, params: { ...params.values, ...named } };
}

/**
 * `columns` of one row of the tenant in [{lo}, {hi}) ns, if it has one: a
 * granule read at most (the first window's `rest` part, the probe).
 */
function tenantRowIn(table: string, columns: string, lo: string, hi: string): string {
  return `(SELECT ${columns} FROM ${table} WHERE tenant = {tenant:String} AND timestamp >= fromUnixTimestamp64Nano({${lo}:Int64}) AND timestamp < fromUnixTimestamp64Nano({${hi}:Int64}) LIMIT 1)`;
}

/**
 * Whether the tenant has a row in a window (a row with part `window`: when
 * the window's search found nothing, the search is rare and the rest is read
 * at once) and any in the rest of the range (part `rest`). One granule each
 * at most, as two LIMIT 1 reads (two scalar subqueries cost twice as much).
 */
export function windowProbeSql(
  table: string,
  tenant: string,
  window: { loNs: bigint; hiNs: bigint },
  rest: { loNs: bigint; hiNs: bigint },
): { sql: string; params: Record<string, unknown> } {
  return {
    sql: `${tenantRowIn(table, "'window' AS part", 'windowLoNs', 'windowHiNs')}\nUNION ALL\n${tenantRowIn(table, "'rest' AS part", 'restLoNs', 'restHiNs')}`,
    params: {
      tenant,
      windowLoNs: window.loNs.toString(),
      windowHiNs: window.hiNs.toString(),
      restLoNs: rest.loNs.toString(),
      restHiNs: rest.hiNs.toString(),
    },
  };
}
