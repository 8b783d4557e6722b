import { hexId, hexTraceId128 } from '../ids.js';
import type { QueryRunner } from '../query-runner.js';
import type { TtlMap } from '../ttl-map.js';
import { highlighter } from './highlight.js';
import type { Highlight } from './highlight.js';
import { decodeCursor, encodeCursor, searchFingerprint } from './log-cursor.js';
import { parseLogQuery, positiveSearches } from './log-query.js';
import type { LogQuery, Severity } from './log-query.js';
import { logSearchSql, windowProbeSql } from './log-sql.js';

/** The request of `GET /v1/logs`, after the route has parsed its parameters. */
export interface LogsRequest {
  q?: string | undefined;
  services: string[];
  minSeverity?: Severity | undefined;
  traceId?: bigint | undefined;
  /** With a 32-hex-digit trace id: its high 64 bits. */
  traceIdHigh?: bigint | undefined;
  fromMs: number;
  toMs: number;
  limit: number;
  cursor?: string | undefined;
  order: 'asc' | 'desc';
}

/** One log record of the answer. */
export interface LogAnswerRow {
  /** RFC 3339 with nanoseconds, UTC. */
  timestamp: string;
  service: string;
  severity: string;
  body: string;
  trace_id: string;
  trace_id_hex: string;
  /** 32 hex digits: the 128-bit trace id (OTLP, W3C). */
  trace_id_128: string;
  span_id: string;
  span_id_hex: string;
  attributes: Record<string, string>;
  highlights: Highlight[];
  links: { trace?: string };
}

export interface LogsAnswer {
  logs: LogAnswerRow[];
  next_cursor: string | null;
  query: { terms: string[]; phrases: string[] };
}

interface LogRow {
  ts_ns: string;
  /** UInt32: JSON gives it as a number. */
  row_hash: number;
  service: string;
  severity: string;
  body: string;
  trace_id: string;
  trace_id_high: string;
  span_id: string;
  attributes: Record<string, string>;
  /** With the first window only: 1 a row of the page, 2 the row that says the rest of the range has rows (log-sql.ts `rest`). */
  part?: number;
}

/** ns since the epoch -> `2026-11-21T10:00:00.123456789Z`. */
export function nsToRfc3339(ns: string): string {
  const n = BigInt(ns);
  const seconds = new Date(Number(n / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
  return `${seconds}.${(n % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/**
 * `/v1/traces/<16 hex digits>`; with `0x` when the digits are all decimal
 * (`0000000000000309`), which parseId would otherwise read as a decimal id.
 */
export function traceLink(traceId: string, traceIdHigh = '0'): string {
  const hex = traceIdHigh === '0' ? hexId(traceId) : hexTraceId128(traceId, traceIdHigh);
  return `/v1/traces/${/^\d+$/.test(hex) ? `0x${hex}` : hex}`;
}

const unique = (texts: string[]): string[] => [...new Set(texts)];

/** The first window is never narrower than a minute. */
const WINDOW_MIN_NS = 60_000_000_000n;
/**
 * The first window is this fraction of the range. Small, because a window
 * reads the sort key of every row it matches; since that key is two narrow
 * columns (migration 0012) a 1/64 window costs little more than a 1/256 one
 * and fills a page of two common words of 10M lines at once: 72 -> 53 ms p50
 * against 1/256 (1/32: 63, 1/16: 72), a rare word unchanged.
 */
const FIRST_WINDOW_PARTS = 64n;

/**
 * The width of the next window: twice what would hold `stillWanted` rows at
 * the density of the last window (`found` rows in `width` ns), at most all
 * the `rest`; all the rest after a window with nothing.
 */
export function nextWindowWidth(width: bigint, found: number, stillWanted: number, rest: bigint): bigint {
  if (found === 0) return rest;
  const next = (width * BigInt(2 * Math.max(stillWanted, 1))) / BigInt(found);
  return next < rest ? (next > 0n ? next : 1n) : rest;
}

/**
 * How densely each search matched the last time it ran (rows per ns), per
 * tenant and search (the cursor's fingerprint: words, services, severity,
 * trace id, order), kept `query.logDensityTtlMs`. searchLogs sizes its first
 * window by it: a search asked again (a dashboard's refresh, the next page,
 * the console run twice) reads the range it needs in one query. A rare word
 * then takes one query instead of the first window and then the rest; a
 * common word keeps its 1/64 first window. A density that went stale (a
 * word that became common) costs that one search a wider first window,
 * never a wrong page, and the search then remembers the new density.
 */
export interface LogDensities {
  kept: TtlMap<number>;
  /** Whether a search's first window was sized by a kept density (a hit) or not. */
  counted: (hit: boolean) => void;
}

/**
 * The first window of a search that matched `density` rows per ns before:
 * `usual` (the first window without a density) when that holds the `wanted`
 * rows at this density, so a common word reads no more than before; else
 * twice the width that holds them, at most `range` (a rare word: all of it).
 */
export function rememberedWidth(density: number, wanted: number, usual: bigint, range: bigint): bigint {
  const needed = wanted / density;
  if (!(density > 0) || !Number.isFinite(needed) || 2 * needed >= Number(range)) return range;
  if (needed <= Number(usual)) return usual;
  return BigInt(Math.ceil(2 * needed));
}

/**
 * One page of logs, newest first (or oldest first with order=asc). Reads one
 * row more than the page to know whether a next page exists; the next
 * cursor is the last row's (timestamp, hash) and how many rows at exactly
 * that key have been given so far (identical rows stay countable).
 */
export async function searchLogs(runner: QueryRunner, tenant: string, request: LogsRequest, densities?: LogDensities): Promise<LogsAnswer> {
  const query: LogQuery | undefined = request.q === undefined ? undefined : parseLogQuery(request.q);
  const fingerprint = searchFingerprint([
    request.q ?? null,
    [...request.services].sort(),
    request.minSeverity ?? null,
    request.traceId?.toString() ?? null,
    request.traceIdHigh?.toString() ?? null,
    request.order,
  ]);
  const cursor = request.cursor === undefined ? undefined : decodeCursor(request.cursor, fingerprint);
  const fromMs = cursor?.fromMs ?? Math.floor(request.fromMs);
  const toMs = cursor?.toMs ?? Math.ceil(request.toMs);

  const desc = request.order === 'desc';
  // [lo, hi) in ns; a cursor narrows it to the rows at or past its position.
  let lo = BigInt(fromMs) * 1_000_000n;
  let hi = (BigInt(toMs) + 1n) * 1_000_000n;
  if (cursor && desc && BigInt(cursor.ns) + 1n < hi) hi = BigInt(cursor.ns) + 1n;
  if (cursor && !desc && BigInt(cursor.ns) > lo) lo = BigInt(cursor.ns);

  // The range is read in windows from the end the page starts at, the first
  // 1/64 of the range: a common word fills the page from it instead of the
  // whole range being scanned and sorted (measured on 10M lines: 206 -> 99
  // ms). The next window is sized by what the last one found: twice the width
  // that would hold the rows still wanted at the density seen (so a page
  // needs two queries, rarely three); after a window with nothing, all the
  // rest (a rare word: the full-text index finds it at once in the rest).
  // The first window of a search not asked before also says whether the
  // tenant has a row in the rest of the range (a part of its statement
  // reading one granule): when it has none, as when a small or young data
  // set is asked over a long range, the page is done after one query. A
  // search asked before does not ask: its window is sized to hold the page
  // (LogDensities above), so the answer only matters when its density went
  // stale, and the part cost every such search ClickHouse time (two common
  // words asked again on the 10M bench: 61 -> 45 ms p50 through searchLogs,
  // taking turns); a stale density costs a query more, never a wrong page.
  // When a window finds nothing, a probe asks
  // whether the tenant has rows in that window at all and in the rest (a
  // granule each): a rare word (the window had rows) reads all the rest at
  // once; a window without data (the newest data is older) widens fourfold.
  // The rows at the cursor's position are all in the first window (where
  // `skip` applies).
  // A search asked before starts with the window its density says it needs
  // (LogDensities above).
  const wanted = request.limit + 1;
  const rows: LogRow[] = [];
  const densityKey = `${tenant}\u0000${fingerprint}`;
  const edge = desc ? hi : lo;
  const defaultWidth = (hi - lo) / FIRST_WINDOW_PARTS > WINDOW_MIN_NS ? (hi - lo) / FIRST_WINDOW_PARTS : WINDOW_MIN_NS;
  const density = densities?.kept.get(densityKey);
  densities?.counted(density !== undefined);
  let width = density === undefined ? defaultWidth : rememberedWidth(density, wanted, defaultWidth, hi - lo);
  let readNs = 0n;
  let first = true;
  while (lo < hi && rows.length < wanted) {
    const window = desc ? { loNs: hi - width > lo ? hi - width : lo, hiNs: hi } : { loNs: lo, hiNs: lo + width < hi ? lo + width : hi };
    // Only the first window of a search not asked before asks whether the rest has rows (when a rest remains):
    // a window sized by a density, and the later ones, are sized to end the page.
    const asked = first && density === undefined && window.hiNs - window.loNs < hi - lo;
    const { sql, params } = logSearchSql(runner.table('logs'), {
      tenant,
      fromMs,
      toMs,
      services: request.services,
      minSeverity: request.minSeverity,
      traceId: request.traceId,
      traceIdHigh: request.traceIdHigh,
      query,
      order: request.order,
      limit: wanted - rows.length,
      after: cursor && { ns: cursor.ns, hash: cursor.hash, skip: first ? cursor.skip : 0 },
      window,
      rest: asked ? (desc ? { loNs: lo, hiNs: window.loNs } : { loNs: window.hiNs, hiNs: hi }) : undefined,
    });
    const answer = await runner.rows<LogRow>(sql, tenant, params);
    const found = asked ? answer.filter((r) => Number(r.part) === 1) : answer;
    rows.push(...found);
    readNs += window.hiNs - window.loNs;
    if (desc) hi = window.loNs;
    else lo = window.hiNs;
    // No row at all in the rest of the range: nothing more to look for.
    if (asked && found.length === answer.length) break;
    if (found.length === 0 && lo < hi) {
      const probe = windowProbeSql(runner.table('logs'), tenant, window, { loNs: lo, hiNs: hi });
      const seen = new Set((await runner.rows<{ part: string }>(probe.sql, tenant, probe.params)).map((r) => r.part));
      if (!seen.has('rest')) break;
      width = seen.has('window') ? hi - lo : (window.hiNs - window.loNs) * 4n;
    } else {
      width = nextWindowWidth(window.hiNs - window.loNs, found.length, wanted - rows.length, hi - lo);
    }
    first = false;
  }
  // The density seen: a full page's rows over the span from the range's edge
  // to its last row (however wide the windows were); fewer rows over all
  // that was read. Nothing found says nothing.
  const last = rows[wanted - 1];
  if (last) {
    const span = desc ? edge - BigInt(last.ts_ns) : BigInt(last.ts_ns) - edge + 1n;
    densities?.kept.set(densityKey, wanted / Math.max(1, Number(span)));
  } else if (rows.length > 0 && readNs > 0n) {
    densities?.kept.set(densityKey, rows.length / Number(readNs));
  }
  const page = rows.slice(0, request.limit);

  let nextCursor: string | null = null;
  const lastOfPage = page[page.length - 1];
  if (rows.length > request.limit && lastOfPage) {
    const hash = String(lastOfPage.row_hash);
    let skip = cursor && cursor.ns === lastOfPage.ts_ns && cursor.hash === hash ? cursor.skip : 0;
    for (const r of page) if (r.ts_ns === lastOfPage.ts_ns && r.row_hash === lastOfPage.row_hash) skip++;
    nextCursor = encodeCursor({ ns: lastOfPage.ts_ns, hash, skip, fromMs, toMs, search: fingerprint });
  }

  const searched = query ? positiveSearches(query) : { terms: [], phrases: [] };
  const highlight = highlighter(searched);
  return {
    logs: page.map((r) => ({
      timestamp: nsToRfc3339(r.ts_ns),
      service: r.service,
      severity: r.severity,
      body: r.body,
      trace_id: r.trace_id,
      trace_id_hex: hexId(r.trace_id),
      trace_id_128: hexTraceId128(r.trace_id, r.trace_id_high),
      span_id: r.span_id,
      span_id_hex: hexId(r.span_id),
      attributes: r.attributes,
      highlights: highlight(r.body),
      links: r.trace_id === '0' ? {} : { trace: traceLink(r.trace_id, r.trace_id_high) },
    })),
    next_cursor: nextCursor,
    query: { terms: unique(searched.terms.map((t) => t.text)), phrases: unique(searched.phrases.map((p) => p.text)) },
  };
}
