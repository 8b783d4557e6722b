import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseId } from '../../query/ids.js';
import { parseLogQuery } from '../../query/logs/log-query.js';
import { logSearchSql } from '../../query/logs/log-sql.js';
import { searchLogs } from '../../query/logs/search-logs.js';
import type { LogAnswerRow, LogDensities, LogsAnswer, LogsRequest } from '../../query/logs/search-logs.js';
import type { QueryRunner } from '../../query/query-runner.js';
import { TtlMap } from '../../query/ttl-map.js';
import type { LogRecord, SpanEvent } from '../../src/codec/index.js';
import { skipIndexGranules } from '../clickhouse/skip-index-granules.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { seededRandom } from '../setup/random.js';
import { spanEvent } from '../../src/codec/span-event.js';

// GET /v1/logs over data that went through the real gateway into ClickHouse.
// Every expectation is computed here from what was posted, by a reference
// matcher written from the documented rules (docs/query/logs.md), not from
// the implementation's own tokenizer or SQL.

let aio: AllInOne;
const TOKENS = { acme: 'tokA', globex: 'tokB', initech: 'tokC', hooli: 'tokD' } as const;
type Tenant = keyof typeof TOKENS;

/** One log record as posted, with where it was posted. */
interface Posted {
  tenant: Tenant;
  ns: bigint;
  service: string;
  traceId: bigint;
  spanId: bigint;
  severityNumber: number;
  body: string;
  attributes: Record<string, string>;
}

// The answer's shape is the API's contract (a type, erased at run time); the expectations stay computed here.
type ApiLog = LogAnswerRow;
type ApiAnswer = LogsAnswer;

const posted: Posted[] = [];
const BASE_NS = BigInt(Date.now() - 10 * 60_000) * 1_000_000n;
/** A quarter of the corpus and every "burst" row share this one timestamp. */
const TIE_NS = BASE_NS + 777n;
// 0x309: its 16 hex digits are all decimal digits (the trace link needs 0x).
const TRACES = [0x1a2b3c4d5e6f7081n, 0x309n, -1234567890123456789n, 0x7fffffffffffffffn];

// ---------------------------------------------------------------------------
// The reference: words, case folding, phrases and highlights as documented.

/** Tokens: runs of ASCII letters/digits and non-ASCII UTF-16 units (splitByNonAlpha). */
function wordsOf(text: string): Array<{ w: string; start: number; end: number }> {
  return [...text.matchAll(/[A-Za-z0-9\u0080-\uffff]+/g)].map((m) => ({ w: m[0], start: m.index, end: m.index + m[0].length }));
}

/** Words are compared case-folded: Unicode lowercase, the final sigma ς as σ. */
function fold(word: string): string {
  return word.toLowerCase().replaceAll('ς', 'σ');
}

function hasWord(body: string, word: string): boolean {
  return wordsOf(body).some((t) => fold(t.w) === fold(word));
}

/** A searched word: every token of it is a word of the body. */
function term(text: string): (r: Posted) => boolean {
  return (r) => wordsOf(text).every((t) => hasWord(r.body, t.w));
}

function phraseAt(words: Array<{ w: string }>, i: number, phrase: string[]): boolean {
  return phrase.every((p, k) => words[i + k] !== undefined && fold(p) === fold((words[i + k] as { w: string }).w));
}

/** A searched phrase: its tokens are consecutive words of the body. */
function phrase(text: string): (r: Posted) => boolean {
  const p = wordsOf(text).map((t) => t.w);
  return (r) => {
    const words = wordsOf(r.body);
    return words.some((_, i) => phraseAt(words, i, p));
  };
}

function expectedHighlights(body: string, terms: string[], phrases: string[]): Array<[number, number]> {
  const words = wordsOf(body);
  const termWords = terms.flatMap((t) => wordsOf(t).map((x) => x.w));
  const ranges: Array<[number, number]> = [];
  words.forEach((t, i) => {
    if (termWords.some((w) => fold(w) === fold(t.w))) ranges.push([t.start, t.end]);
    for (const ph of phrases) {
      const p = wordsOf(ph).map((x) => x.w);
      if (phraseAt(words, i, p)) ranges.push([t.start, (words[i + p.length - 1] as { end: number }).end]);
    }
  });
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] < last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([...r]);
  }
  return merged;
}

const SEVERITY_NAMES = ['unspecified', 'trace', 'debug', 'info', 'warn', 'error', 'fatal'];
/** OpenTelemetry SeverityNumber -> name: 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal. */
function severityOf(n: number): string {
  return SEVERITY_NAMES[n === 0 ? 0 : Math.ceil(n / 4)] as string;
}
const rank = (name: string): number => SEVERITY_NAMES.indexOf(name);

const hex = (id: bigint): string => BigInt.asUintN(64, id).toString(16).padStart(16, '0');

function signatureOfPosted(r: Posted): string {
  const attrs = Object.entries(r.attributes).sort(([a], [b]) => a.localeCompare(b));
  return [r.ns, r.service, r.traceId, r.spanId, severityOf(r.severityNumber), r.body, JSON.stringify(attrs)].join('|');
}

function nsOf(rfc3339: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$/.exec(rfc3339);
  if (!m) throw new Error(`timestamp ${rfc3339} is not RFC 3339 with nanoseconds`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt(m[2] as string);
}

function signatureOfApi(l: ApiLog): string {
  const attrs = Object.entries(l.attributes).sort(([a], [b]) => a.localeCompare(b));
  return [nsOf(l.timestamp), l.service, l.trace_id, l.span_id, l.severity, l.body, JSON.stringify(attrs)].join('|');
}

// ---------------------------------------------------------------------------
// The corpus.

const VOCABULARY = [
  'timeout',
  'Timeout',
  'TIMEOUT',
  'TimeOut',
  'timeouts',
  'xtimeout',
  'connection',
  'Connection',
  'reset',
  'RESET',
  'refused',
  'retry',
  'retrying',
  'disk',
  'full',
  'cache',
  'miss',
  'hit',
  'payment',
  'declined',
  'order',
  'shipped',
  'user',
  'login',
  'failed',
  'café',
  'Café',
  'CaFÉ',
  'naïve',
  'ΟΔΟΣ',
  'οδος',
  'Οδός',
  '😀',
  'ok😀',
  'peer',
  'db',
  'query',
  'slow',
  'id',
  '42',
  '7',
  'user_id=42',
  'user_id=7',
  'connection reset',
  'Connection, RESET',
  'reset connection',
  'disconnection reset',
  'connection  reset',
];
const SEPARATORS = [' ', ' ', ' ', ' ', ', ', ': ', '-', '=', '/', '  ', '_', '.', ' (', ') '];
const SERVICES = ['web', 'api', 'worker', 'billing'];
const SEVERITY_NUMBERS = [1, 5, 9, 10, 13, 15, 17, 21, 24];

function sentence(random: () => number): string {
  const n = 3 + Math.floor(random() * 8);
  let body = '';
  for (let i = 0; i < n; i++) {
    if (i > 0) body += SEPARATORS[Math.floor(random() * SEPARATORS.length)];
    body += VOCABULARY[Math.floor(random() * VOCABULARY.length)];
  }
  return body;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function attributesFor(random: () => number): Record<string, string> {
  const a: Record<string, string> = {};
  if (random() < 0.7) a['region'] = pick(random, ['eu', 'us', 'ap']);
  if (random() < 0.4) a['http.method'] = pick(random, ['GET', 'POST']);
  if (random() < 0.3) a['user'] = `u${Math.floor(random() * 9)}`;
  return a;
}

/** A span carrying `logs`; a bare carrier (not a trace span) when traceId is 0. */
function carrier(service: string, traceId: bigint, spanId: bigint, logs: LogRecord[]): SpanEvent {
  const trace = traceId !== 0n;
  return spanEvent({
    traceId,
    id: trace ? spanId : 0n,
    startTimestamp: trace ? BASE_NS : 0n,
    endTimestamp: trace ? BASE_NS + 1_000_000n : 0n,
    service,
    name: trace ? 'op' : '',
    isTrace: trace,
    logs,
  });
}

/** Builds spans and records what each log row will be. */
function spansFor(tenant: Tenant, count: number, seed: number): SpanEvent[] {
  const random = seededRandom(seed);
  const spans: SpanEvent[] = [];
  for (let s = 0; s < count; s++) {
    const service = pick(random, SERVICES);
    const traceId = random() < 0.4 ? 0n : pick(random, TRACES);
    const spanId = traceId === 0n ? 0n : BigInt(1 + Math.floor(random() * 1e9));
    const logs: LogRecord[] = [];
    const n = 1 + Math.floor(random() * 30);
    for (let i = 0; i < n; i++) {
      const ns = random() < 0.25 ? TIE_NS : BASE_NS + BigInt(Math.floor(random() * 300)) * 1_234_567n;
      const log: LogRecord = {
        timestamp: ns,
        severity: 'info',
        severityNumber: pick(random, SEVERITY_NUMBERS),
        body: sentence(random),
        attributes: attributesFor(random),
      };
      const copies = random() < 0.05 ? 2 : 1; // identical rows must be counted, not merged
      for (let c = 0; c < copies; c++) {
        logs.push(log);
        posted.push({ tenant, ns, service, traceId, spanId, severityNumber: log.severityNumber, body: log.body, attributes: log.attributes });
      }
    }
    spans.push(carrier(service, traceId, spanId, logs));
  }
  return spans;
}

/** 300 rows of service "burst" at one timestamp, 60 of them identical. */
function burst(seed: number): SpanEvent {
  const random = seededRandom(seed);
  const logs: LogRecord[] = [];
  const traceId = TRACES[0] as bigint;
  const spanId = 999n;
  for (let i = 0; i < 300; i++) {
    const body = i < 60 ? 'burst duplicate timeout line' : sentence(random);
    const attributes = i < 60 ? { region: 'eu' } : attributesFor(random);
    const severityNumber = i < 60 ? 17 : pick(random, SEVERITY_NUMBERS);
    logs.push({ timestamp: TIE_NS, severity: 'info', severityNumber, body, attributes });
    posted.push({ tenant: 'acme', ns: TIE_NS, service: 'burst', traceId, spanId, severityNumber, body, attributes });
  }
  return carrier('burst', traceId, spanId, logs);
}

async function post(spans: SpanEvent[], tenant: Tenant): Promise<void> {
  const res = await aio.post(spans, TOKENS[tenant]);
  expect(res.status, await res.text()).toBe(200);
}

// ---------------------------------------------------------------------------
// The API.

type Params = Record<string, string | string[]>;

function url(params: Params): string {
  const u = new URL(`${aio.http}/v1/logs`);
  for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) u.searchParams.append(k, one);
  return u.toString();
}

async function get(params: Params, tenant: Tenant = 'acme'): Promise<{ status: number; body: ApiAnswer & { error?: { code: string; reason: string } } }> {
  const res = await fetch(url(params), { headers: { authorization: `Bearer ${TOKENS[tenant]}` } });
  return { status: res.status, body: (await res.json()) as ApiAnswer & { error?: { code: string; reason: string } } };
}

/** Every page, following next_cursor; checks the order within and across pages. */
async function allPages(params: Params, tenant: Tenant = 'acme'): Promise<{ logs: ApiLog[]; pages: number; first: ApiAnswer }> {
  const logs: ApiLog[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let first: ApiAnswer | undefined;
  do {
    const r = await get(cursor === null ? params : { ...params, cursor }, tenant);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    first ??= r.body;
    logs.push(...r.body.logs);
    cursor = r.body.next_cursor;
    pages++;
    if (pages > 500) throw new Error('the cursor never ends');
  } while (cursor !== null);
  const asc = params['order'] === 'asc';
  for (let i = 1; i < logs.length; i++) {
    const a = nsOf((logs[i - 1] as ApiLog).timestamp);
    const b = nsOf((logs[i] as ApiLog).timestamp);
    expect(asc ? a <= b : a >= b).toBe(true);
  }
  return { logs, pages, first: first as ApiAnswer };
}

function sortedSignatures(rows: Posted[]): string[] {
  return rows.map(signatureOfPosted).sort();
}

beforeAll(async () => {
  aio = await startAllInOne('ssf_logs', { SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokB=globex,tokC=initech,tokD=hooli' });
  const acme = spansFor('acme', 260, 7);
  for (let i = 0; i < acme.length; i += 52) await post(acme.slice(i, i + 52), 'acme');
  await post([burst(8)], 'acme');
  // Another tenant with the same vocabulary, services and trace ids.
  await post(spansFor('globex', 20, 9), 'globex');
}, 180_000);

afterAll(async () => aio?.close());

describe('GET /v1/logs: precision and recall on a known corpus', () => {
  const acme = (): Posted[] => posted.filter((r) => r.tenant === 'acme');
  const NEG_TRACE = TRACES[2] as bigint;

  it('the corpus is large and varied enough to mean something', () => {
    expect(acme().length).toBeGreaterThan(3000);
    expect(acme().filter((r) => r.ns === TIE_NS).length).toBeGreaterThan(800);
  });

  const cases: Array<{ name: string; params: Params; want: (r: Posted) => boolean; terms?: string[]; phrases?: string[]; limit?: number }> = [
    { name: 'a word (in every spelling)', params: { q: 'timeout' }, want: term('timeout'), terms: ['timeout'] },
    { name: 'a mixed-case word (every spelling too)', params: { q: 'TimeOut' }, want: term('TimeOut'), terms: ['TimeOut'] },
    { name: 'a phrase typed in capitals', params: { q: '"CONNECTION Reset"' }, want: phrase('connection reset'), phrases: ['CONNECTION Reset'] },
    { name: 'a phrase', params: { q: '"connection reset"' }, want: phrase('connection reset'), phrases: ['connection reset'] },
    { name: 'OR', params: { q: 'timeout OR refused' }, want: (r) => term('timeout')(r) || term('refused')(r), terms: ['timeout', 'refused'] },
    { name: 'NOT as -word', params: { q: 'timeout -retry' }, want: (r) => term('timeout')(r) && !term('retry')(r), terms: ['timeout'] },
    {
      name: 'parentheses, AND, NOT',
      params: { q: '(payment OR order) AND NOT declined' },
      want: (r) => (term('payment')(r) || term('order')(r)) && !term('declined')(r),
      terms: ['payment', 'order'],
    },
    {
      name: 'a negated group and a field',
      params: { q: 'NOT (timeout OR "cache miss") service:worker' },
      want: (r) => !(term('timeout')(r) || phrase('cache miss')(r)) && r.service === 'worker',
    },
    { name: 'a word with punctuation (all its tokens)', params: { q: 'user_id=42' }, want: term('user_id=42'), terms: ['user_id=42'] },
    { name: 'non-ASCII words', params: { q: 'café OR 😀' }, want: (r) => term('café')(r) || term('😀')(r), terms: ['café', '😀'] },
    {
      name: 'non-ASCII words in any case (Greek, final sigma)',
      params: { q: 'ΟΔΟΣ CAFÉ' },
      want: (r) => term('οδοσ')(r) && term('café')(r),
      terms: ['ΟΔΟΣ', 'CAFÉ'],
    },
    {
      name: 'NOT of a mixed-case word',
      params: { q: 'connection -TIMEout' },
      want: (r) => term('connection')(r) && !term('timeout')(r),
      terms: ['connection'],
    },
    {
      name: 'service: and severity: fields',
      params: { q: 'service:billing severity:>=warn failed' },
      want: (r) => r.service === 'billing' && rank(severityOf(r.severityNumber)) >= rank('warn') && term('failed')(r),
      terms: ['failed'],
    },
    {
      name: 'severity: comparisons',
      params: { q: 'severity:<info OR severity:error' },
      want: (r) => rank(severityOf(r.severityNumber)) < rank('info') || severityOf(r.severityNumber) === 'error',
    },
    {
      name: 'attr.key:value',
      params: { q: 'attr.region:eu attr.http.method:POST disk' },
      want: (r) => r.attributes['region'] === 'eu' && r.attributes['http.method'] === 'POST' && term('disk')(r),
      terms: ['disk'],
    },
    {
      name: 'service and severity parameters',
      params: { q: 'connection', service: ['web', 'api'], severity: 'error' },
      want: (r) => ['web', 'api'].includes(r.service) && rank(severityOf(r.severityNumber)) >= rank('error') && term('connection')(r),
      terms: ['connection'],
    },
    { name: 'trace_id (16 hex digits of a negative id), no q', params: { trace_id: hex(NEG_TRACE) }, want: (r) => r.traceId === NEG_TRACE, limit: 1000 },
    {
      name: 'trace_id (decimal) with q, oldest first',
      params: { trace_id: (TRACES[0] as bigint).toString(), q: 'timeout OR reset', order: 'asc' },
      want: (r) => r.traceId === TRACES[0] && (term('timeout')(r) || term('reset')(r)),
      terms: ['timeout', 'reset'],
    },
    {
      name: 'no q, severity parameter, oldest first, small pages',
      params: { severity: 'fatal', order: 'asc' },
      want: (r) => severityOf(r.severityNumber) === 'fatal',
      limit: 37,
    },
  ];

  it.each(cases)('$name', async ({ params, want, terms = [], phrases = [], limit = 250 }) => {
    const expected = acme().filter(want);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(acme().length);
    const { logs, pages, first } = await allPages({ ...params, limit: String(limit) });
    // Precision and recall = 1: the same rows, each as often as posted.
    expect(logs.map(signatureOfApi).sort()).toEqual(sortedSignatures(expected));
    expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
    expect(first.query).toEqual({ terms, phrases });
    for (const l of logs) {
      expect(l.highlights, l.body).toEqual(expectedHighlights(l.body, terms, phrases));
      expect(l.trace_id_hex).toBe(hex(BigInt(l.trace_id)));
      expect(l.span_id_hex).toBe(hex(BigInt(l.span_id)));
      expect(l.links).toEqual(l.trace_id === '0' ? {} : { trace: `/v1/traces/${/^\d+$/.test(hex(BigInt(l.trace_id))) ? '0x' : ''}${hex(BigInt(l.trace_id))}` });
      if (l.links.trace) expect(parseId(l.links.trace.slice('/v1/traces/'.length)).toString()).toBe(l.trace_id);
    }
  });

  it('a word finds every spelling of it: timeout, TimeOut and TIMEOUT give the same rows, bodies with TimeOut only among them', async () => {
    const rows = async (q: string): Promise<string[]> => (await allPages({ q, limit: '1000' })).logs.map(signatureOfApi).sort();
    const timeout = await rows('timeout');
    expect(await rows('TimeOut')).toEqual(timeout);
    expect(await rows('TIMEOUT')).toEqual(timeout);
    // The rows four spellings (as typed, lower, UPPER, Capitalized) missed.
    const onlyTimeOut = acme().filter((r) => {
      const words = wordsOf(r.body).map((t) => t.w);
      return words.includes('TimeOut') && !words.some((w) => ['timeout', 'Timeout', 'TIMEOUT'].includes(w));
    });
    expect(onlyTimeOut.length).toBeGreaterThan(0);
    for (const sig of sortedSignatures(onlyTimeOut)) expect(timeout).toContain(sig);
  });

  it('highlights are UTF-16 offsets of the words as written in the body', async () => {
    const { logs } = await allPages({ q: 'café "connection reset"', limit: '1000' });
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) {
      for (const [s, e] of l.highlights) {
        const text = l.body.slice(s, e);
        expect(text.toLowerCase() === 'café' || /^connection[^A-Za-z0-9\u0080-\uffff]+reset$/i.test(text), text).toBe(true);
      }
    }
  });

  it('pages through hundreds of rows at one timestamp, identical rows included, without skipping or repeating', async () => {
    const expected = acme().filter((r) => r.service === 'burst');
    expect(new Set(expected.map((r) => r.ns)).size).toBe(1);
    for (const order of ['desc', 'asc']) {
      const { logs, pages } = await allPages({ service: 'burst', limit: '7', order });
      expect(pages).toBe(Math.ceil(300 / 7));
      expect(logs.map(signatureOfApi).sort()).toEqual(sortedSignatures(expected));
    }
    // The 60 identical rows straddle page boundaries and are all there.
    const { logs } = await allPages({ service: 'burst', q: 'duplicate', limit: '11' });
    expect(logs.length).toBe(60);
  });

  it('a cursor pins the time range and belongs to its search', async () => {
    const firstPage = await get({ q: 'timeout', limit: '5', from: 'now-1h' });
    expect(firstPage.status).toBe(200);
    const cursor = firstPage.body.next_cursor as string;
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    // A different "from" is ignored on later pages: the first page's range holds.
    const second = await get({ q: 'timeout', limit: '5', from: 'now-1m', cursor });
    expect(second.status).toBe(200);
    expect(second.body.logs.length).toBe(5);
    const other = await get({ q: 'retry', limit: '5', cursor });
    expect(other.status).toBe(400);
    expect(other.body.error?.code).toBe('QUERY_ERR_BAD_REQUEST');
    expect(other.body.error?.reason).toMatch(/different search/);
  });
});

describe('GET /v1/logs: refusals', () => {
  it.each([
    [{ q: '(timeout OR retry' }, /position 0\): unbalanced parenthesis/],
    [{ q: 'timeout)' }, /position 7\): unbalanced parenthesis/],
    [{ q: 'x "connection reset' }, /position 2\): unterminated quote/],
    [{ q: '' }, /the search is empty/],
    [{ q: 'level:error' }, /unknown field "level"/],
    [{ cursor: 'bm90IGEgY3Vyc29y' }, /cursor: not a cursor/],
    [{ severity: 'loud' }, /severity/],
    [{ limit: '1001' }, /limit/],
    [{ trace_id: 'xyz' }, /trace_id "xyz" is not an SSF id/],
    [{ from: 'yesterday-ish' }, /from/],
    [{ serivce: 'web' }, /serivce/],
  ] as Array<[Params, RegExp]>)('%j -> 400', async (params, reason) => {
    const r = await get(params);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('QUERY_ERR_BAD_REQUEST');
    expect(r.body.error?.reason).toMatch(reason);
  });

  it('is listed in /openapi.json with its parameters', async () => {
    const doc = (await (await fetch(`${aio.http}/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }> };
    expect(doc.paths['/v1/logs']?.get?.parameters?.map((p) => p.name).sort()).toEqual([
      'cursor',
      'from',
      'limit',
      'order',
      'q',
      'service',
      'severity',
      'to',
      'trace_id',
    ]);
  });

  it('no token -> 401', async () => {
    const res = await fetch(url({ q: 'timeout' }));
    expect(res.status).toBe(401);
  });
});

describe('GET /v1/logs: tenants', () => {
  it("never returns another tenant's logs", async () => {
    const globex = posted.filter((r) => r.tenant === 'globex');
    const mine = await allPages({ q: 'timeout', limit: '1000' }, 'globex');
    expect(mine.logs.length).toBeGreaterThan(0);
    expect(mine.logs.map(signatureOfApi).sort()).toEqual(sortedSignatures(globex.filter(term('timeout'))));
    const all = await allPages({ limit: '1000' }, 'globex');
    expect(all.logs.map(signatureOfApi).sort()).toEqual(sortedSignatures(globex));
    const trace = await allPages({ trace_id: hex(TRACES[0] as bigint), limit: '1000' }, 'globex');
    expect(trace.logs.map(signatureOfApi).sort()).toEqual(sortedSignatures(globex.filter((r) => r.traceId === TRACES[0])));
    const none = await allPages({ q: 'timeout' }, 'initech');
    expect(none.logs).toEqual([]);
  });
});

describe('GET /v1/logs: the full-text index', () => {
  const NEEDLE_ROWS = 3;

  beforeAll(async () => {
    // More than two index granules (8192 rows) per part: 4 posts of 5000
    // filler rows, and a few rows with a rare word in a service sorted last.
    for (let p = 0; p < 4; p++) {
      const spans: SpanEvent[] = [];
      for (let s = 0; s < 5; s++) {
        const logs: LogRecord[] = Array.from({ length: 1000 }, (_, i) => ({
          timestamp: BASE_NS + BigInt(p * 5000 + s * 1000 + i) * 1_000n,
          severity: 'info',
          severityNumber: 9,
          body: `filler line ${p}-${s}-${i} alpha`,
          attributes: {},
        }));
        spans.push(carrier('bulk', 0n, 0n, logs));
      }
      if (p === 3) {
        spans.push(
          carrier(
            'zeta',
            0n,
            0n,
            Array.from({ length: NEEDLE_ROWS }, (_, i) => ({
              timestamp: BASE_NS + BigInt(i),
              severity: 'error',
              severityNumber: 17,
              body: `kernel panic: Needle ${i}`,
              attributes: {},
            })),
          ),
        );
      }
      await post(spans, 'initech');
    }
  }, 120_000);

  /** `index`'s part of `EXPLAIN indexes = 1`: granules selected / granules considered, or undefined when the index is not used; and the plan's text. */
  async function indexGranules(
    sql: string,
    params: Record<string, unknown>,
    index = 'idx_body_folded',
  ): Promise<{ selected: number; total: number; plan: string } | undefined> {
    const text = await aio.query.context.runner.text(`EXPLAIN indexes = 1 ${sql}`, 'initech', params);
    const g = skipIndexGranules(text, index);
    return g === undefined ? undefined : { ...g, plan: text };
  }

  function searchSql(q: string): { sql: string; params: Record<string, unknown> } {
    return logSearchSql(aio.query.context.runner.table('logs'), {
      tenant: 'initech',
      fromMs: Date.now() - 3_600_000,
      toMs: Date.now(),
      services: [],
      query: parseLogQuery(q),
      order: 'desc',
      limit: 101,
    });
  }

  it.each(['needle', 'NEEDLE', '"kernel panic"', '"KERNEL Panic: NEEDLE"', 'needle OR nothinglikethis', 'Needle -filler', 'needle kernel'])(
    '%s skips granules with the case-folded index',
    async (q) => {
      const { sql, params } = searchSql(q);
      const g = await indexGranules(sql, params);
      expect(g, q).toBeDefined();
      expect(g?.total).toBeGreaterThanOrEqual(3);
      expect(g?.selected).toBeGreaterThanOrEqual(1);
      expect(g?.selected).toBeLessThan(g?.total as number);
      const answer = await allPages({ q }, 'initech');
      expect(answer.logs.length).toBe(NEEDLE_ROWS);
      expect(answer.logs.every((l) => l.service === 'zeta')).toBe(true);
    },
  );

  it('a search under NOT alone is answered by the index too (no granule can be skipped, no body is read)', async () => {
    const { sql, params } = searchSql('-NEEDLE');
    const g = await indexGranules(sql, params);
    expect(g).toBeDefined();
    // The text index answers hasToken from its own lists (a column in place of the call).
    expect(g?.plan).toMatch(/NOT __text_index_idx_body_folded_hasToken/);
    const answer = await allPages({ q: 'NOT needle service:zeta' }, 'initech');
    expect(answer.logs).toEqual([]);
  });

  it('the search names the index expression: lower(body), hasTokenCaseInsensitive and the case-sensitive idx_body are not what it uses', async () => {
    const table = aio.query.context.runner.table('logs');
    for (const condition of ['hasTokenCaseInsensitive(body, {w:String})', 'hasToken(lower(body), {w:String})', 'hasToken(lowerUTF8(body), {w:String})']) {
      const sql = `SELECT count() FROM ${table} WHERE tenant = {tenant:String} AND ${condition}`;
      for (const index of ['idx_body', 'idx_body_folded']) {
        const g = await indexGranules(sql, { tenant: 'initech', w: 'needle' }, index);
        expect(g === undefined || g.selected === g.total, `${condition} ${index}`).toBe(true);
      }
    }
    const { sql, params } = searchSql('Needle');
    const old = await indexGranules(sql, params, 'idx_body');
    expect(old === undefined || old.selected === old.total).toBe(true);
  });
});

describe('GET /v1/logs: pages over a spread-out hour (the search windows)', () => {
  // 2,400 rows over the last 50 minutes, dense in the newest 2 (where the
  // first window falls), sparse before, some sharing a timestamp: a page is
  // read in windows sized from the density seen, and a rare word in all the
  // rest. Every page must hold the newest rows not yet given, each row once.
  const NOW_NS = BigInt(Date.now() - 5_000) * 1_000_000n;
  const MIN_NS = 60_000_000_000n;
  const rows: Posted[] = [];

  beforeAll(async () => {
    const random = seededRandom(41);
    const spans: SpanEvent[] = [];
    for (let s = 0; s < 48; s++) {
      const logs: LogRecord[] = [];
      for (let i = 0; i < 50; i++) {
        const k = s * 50 + i;
        const dense = k < 800;
        const ns =
          k % 97 === 0
            ? NOW_NS - 30n * MIN_NS
            : dense
              ? NOW_NS - BigInt(Math.floor(random() * 120_000)) * 1_000_000n
              : NOW_NS - 2n * MIN_NS - BigInt(Math.floor(random() * 48 * 60_000)) * 1_000_000n;
        const words = ['always'];
        if (k % 10 === 3) words.push('sometimes');
        if (k % 331 === 7 || k === 2399) words.push('zyzzyva');
        const body = `${words.join(' ')} line ${k} ${sentence(random)}`;
        const attributes = attributesFor(random);
        logs.push({ timestamp: ns, severity: 'info', severityNumber: 9, body, attributes });
        rows.push({ tenant: 'hooli', ns, service: pick(random, SERVICES), traceId: 0n, spanId: 0n, severityNumber: 9, body, attributes });
      }
      // One service per carrier: the row's service is the carrier's.
      const service = (rows[rows.length - 1] as Posted).service;
      for (const r of rows.slice(-50)) r.service = service;
      spans.push(carrier(service, 0n, 0n, logs));
    }
    await post(spans, 'hooli');
  }, 120_000);

  it.each([
    ['zyzzyva', 'desc', 3, 'now-1h', 0],
    ['zyzzyva', 'asc', 100, 'now-1h', 0],
    ['sometimes', 'desc', 25, 'now-1h', 0],
    ['sometimes', 'asc', 100, 'now-1h', 0],
    ['always', 'desc', 100, 'now-1h', 0],
    ['always', 'asc', 37, 'now-1h', 0],
    ['always -sometimes', 'desc', 250, 'now-1h', 0],
    // Over a month all the data is in the first window (no row in the rest: one query a page).
    ['sometimes', 'desc', 1000, 'now-30d', 0],
    ['zyzzyva', 'desc', 4, 'now-30d', 0],
    ['always', 'asc', 500, 'now-30d', 0],
    // A range ending 3 h after the newest row: the first windows hold no row at all (then they widen, not jump to the whole range).
    ['always', 'desc', 100, 'now-1h', 3],
    ['zyzzyva', 'desc', 5, 'now-1h', 3],
  ] as const)('q=%s order=%s limit=%i from=%s: every matching row once, newest (or oldest) first, page by page', async (q, order, limit, from, hoursAhead) => {
    const want = rows.filter((r) => q.split(' ').every((w) => (w.startsWith('-') ? !hasWord(r.body, w.slice(1)) : hasWord(r.body, w))));
    expect(want.length).toBeGreaterThan(q === 'zyzzyva' ? 5 : 200);
    const to = hoursAhead === 0 ? {} : { to: String(Date.now() + hoursAhead * 3_600_000) };
    const { logs, pages } = await allPages({ q, order, limit: String(limit), from, ...to }, 'hooli');
    expect(logs.map(signatureOfApi).sort()).toEqual(sortedSignatures(want));
    expect(pages).toBe(Math.max(1, Math.ceil(want.length / limit)));
    // Each page is the next `limit` timestamps of the reference order.
    const times = want.map((r) => r.ns).sort((a, b) => (order === 'asc' ? (a < b ? -1 : a > b ? 1 : 0) : a > b ? -1 : a < b ? 1 : 0));
    expect(logs.map((l) => nsOf(l.timestamp))).toEqual(times);
  });

  it('through GET /v1/logs, a search asked again is sized by its kept density (counted on /metrics), the same answer', async () => {
    const count = async (result: 'hit' | 'miss'): Promise<number> => {
      const text = await (await fetch(`${aio.http}/metrics`)).text();
      const m = new RegExp(`^ssf_query_log_density_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
      return Number(m?.[1] ?? 0);
    };
    // A search no other test asks: its first time is a miss, then hits.
    const params = { q: 'zyzzyva -sometimes', limit: '1000', from: 'now-2h' };
    const [hits0, misses0] = [await count('hit'), await count('miss')];
    const first = await get(params, 'hooli');
    const [hits1, misses1] = [await count('hit'), await count('miss')];
    const again = await get(params, 'hooli');
    expect(first.status).toBe(200);
    expect(again.body.logs).toEqual(first.body.logs);
    expect(first.body.logs.length).toBeGreaterThan(5);
    expect([hits1 - hits0, misses1 - misses0]).toEqual([0, 1]);
    expect([(await count('hit')) - hits1, (await count('miss')) - misses1]).toEqual([1, 0]);
    // Another tenant's same search is its own: a miss.
    await get(params, 'acme');
    expect((await count('miss')) - misses1).toBe(1);
  });

  /** Every page of a search through searchLogs itself, with `densities`, counting its ClickHouse queries page by page. */
  async function pagesWith(q: string, order: 'asc' | 'desc', limit: number, densities?: LogDensities) {
    const runner = aio.query.context.runner;
    let queries = 0;
    // Statements that ask whether the rest of the range has rows (the first window's `rest` part, log-sql.ts).
    let restAsked = 0;
    const counting: QueryRunner = Object.create(runner, {
      rows: {
        value: (...args: Parameters<QueryRunner['rows']>) => {
          queries++;
          if (args[0].includes('2 AS part')) restAsked++;
          return runner.rows(...args);
        },
      },
    });
    const request: LogsRequest = { q, services: [], fromMs: Date.now() - 3_600_000, toMs: Date.now(), limit, order };
    const logs: LogAnswerRow[] = [];
    const perPage: number[] = [];
    let cursor: string | null = null;
    do {
      queries = 0;
      const answer: LogsAnswer = await searchLogs(counting, 'hooli', { ...request, cursor: cursor ?? undefined }, densities);
      perPage.push(queries);
      logs.push(...answer.logs);
      cursor = answer.next_cursor;
    } while (cursor !== null);
    return { logs, perPage, restAsked };
  }

  it.each([
    ['zyzzyva', 'desc', 5],
    ['zyzzyva', 'asc', 100],
    ['sometimes', 'desc', 100],
    ['always', 'asc', 250],
  ] as const)('q=%s order=%s limit=%i: the same pages whatever density a search remembers; asked again, a rare word is one query', async (q, order, limit) => {
    const want = rows.filter((r) => hasWord(r.body, q));
    const times = want.map((r) => r.ns).sort((a, b) => (order === 'asc' ? (a < b ? -1 : a > b ? 1 : 0) : a > b ? -1 : a < b ? 1 : 0));
    const kept = (ttlMs: number) => ({
      kept: new TtlMap<number>(ttlMs, 100),
      hits: 0,
      counted(hit: boolean) {
        if (hit) this.hits++;
      },
    });

    const none = await pagesWith(q, order, limit);
    expect(none.logs.map((l) => nsOf(l.timestamp))).toEqual(times);

    // Learned: the first page from the default window, the next pages and
    // the search asked again from the density seen.
    const learned = kept(60_000);
    const first = await pagesWith(q, order, limit, learned);
    const again = await pagesWith(q, order, limit, learned);
    expect(first.logs).toEqual(none.logs);
    expect(again.logs).toEqual(none.logs);
    expect(learned.hits).toBe(first.perPage.length - 1 + again.perPage.length);
    // Only a search not asked before asks whether the rest of the range has rows (its first window, when narrower than the range):
    // a window sized by a kept density is sized to hold the page.
    expect(again.restAsked).toBe(0);
    expect(first.restAsked).toBe(1);
    if (q === 'zyzzyva' && limit === 100) {
      // All of it in one page: the default first window and then the rest; asked again, one query.
      expect(first.perPage[0]).toBeGreaterThanOrEqual(2);
      expect(again.perPage).toEqual([1]);
    }

    // Stale either way: a density that says the whole range (a rare word
    // that became common) and one far denser than the data.
    for (const density of [1e-30, 1e6]) {
      const stale = kept(60_000);
      const key = [...learned.kept.keys()][0] as string;
      stale.kept.set(key, density);
      const got = await pagesWith(q, order, limit, stale);
      expect(got.logs).toEqual(none.logs);
      expect(stale.hits).toBeGreaterThanOrEqual(1);
    }
  });
});
