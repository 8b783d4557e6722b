import { describe, expect, it } from 'vitest';
import { bodyTokens, FOLDED_BODY, foldCase } from '../../query/logs/body-tokens.js';
import { HIGHLIGHT_BODY_CHARS, highlighter } from '../../query/logs/highlight.js';
import { decodeCursor, encodeCursor, searchFingerprint } from '../../query/logs/log-cursor.js';
import { parseLogQuery, positiveSearches } from '../../query/logs/log-query.js';
import type { LogQuery } from '../../query/logs/log-query.js';
import { logSearchSql, phrasePattern, windowProbeSql } from '../../query/logs/log-sql.js';
import { nextWindowWidth, nsToRfc3339, rememberedWidth, traceLink } from '../../query/logs/search-logs.js';

/** The tree as a short string, to compare shapes at a glance. */
function show(n: LogQuery): string {
  switch (n.kind) {
    case 'term':
      return n.tokens.length === 1 ? n.text : `${n.text}[${n.tokens.join(',')}]`;
    case 'phrase':
      return `"${n.text}"`;
    case 'service':
      return `service=${n.value}`;
    case 'severity':
      return `severity${n.op}${n.value}`;
    case 'attribute':
      return `attr[${n.key}]=${n.value}`;
    case 'not':
      return `NOT ${show(n.operand)}`;
    case 'and':
      return `(${n.operands.map(show).join(' AND ')})`;
    case 'or':
      return `(${n.operands.map(show).join(' OR ')})`;
  }
}

function refusal(q: string): string {
  try {
    parseLogQuery(q);
  } catch (err) {
    expect((err as { code?: string }).code).toBe('QUERY_ERR_BAD_REQUEST');
    return (err as { reason: string }).reason;
  }
  throw new Error(`"${q}" was accepted`);
}

describe('body tokens (splitByNonAlpha)', () => {
  it('splits on ASCII non-alphanumerics, keeps non-ASCII inside tokens, gives UTF-16 offsets', () => {
    // ClickHouse: tokens('héllo wörld-x user_id=42 café😀ok a.b', 'splitByNonAlpha')
    //   = ['héllo','wörld','x','user','id','42','café😀ok','a','b']
    const text = 'héllo wörld-x user_id=42 café😀ok a.b';
    const tokens = bodyTokens(text);
    expect(tokens.map((t) => t.text)).toEqual(['héllo', 'wörld', 'x', 'user', 'id', '42', 'café😀ok', 'a', 'b']);
    for (const t of tokens) expect(text.slice(t.start, t.end)).toBe(t.text);
    expect(bodyTokens('  ,;  ')).toEqual([]);
  });

  it('case folding: Unicode lowercase, the final sigma as sigma, by each character alone', () => {
    expect(['timeout', 'TimeOut', 'TIMEOUT', 'tImEoUt'].map(foldCase)).toEqual(['timeout', 'timeout', 'timeout', 'timeout']);
    expect(foldCase('42')).toBe('42');
    expect(foldCase('CAFÉ Ünïcödé')).toBe('café ünïcödé');
    // toLowerCase gives ς for a capital sigma at a word's end and σ elsewhere: folded, the same.
    expect(['ΟΔΟΣ', 'ΟΔΟΣ.Α', 'οδος', 'οδοσ'].map(foldCase)).toEqual(['οδοσ', 'οδοσ.α', 'οδοσ', 'οδοσ']);
    // Two characters that fold to ASCII letters, and one to two UTF-16 units.
    expect(foldCase('İ\u212A')).toBe('i\u0307k');
    expect(FOLDED_BODY).toBe("replaceAll(lowerUTF8(body), 'ς', 'σ')");
  });

  it('parses a word to its folded index tokens', () => {
    expect(parseLogQuery('TimeOut')).toEqual({ kind: 'term', text: 'TimeOut', tokens: ['timeout'] });
    expect(parseLogQuery('"Connection RESET"')).toEqual({ kind: 'phrase', text: 'Connection RESET', tokens: ['connection', 'reset'] });
  });
});

describe('parser', () => {
  it.each([
    ['timeout', 'timeout'],
    ['timeout refused', '(timeout AND refused)'],
    ['timeout AND refused', '(timeout AND refused)'],
    ['timeout OR refused disk', '(timeout OR (refused AND disk))'],
    ['a OR b OR c', '(a OR b OR c)'],
    ['NOT timeout', 'NOT timeout'],
    ['-timeout retry', '(NOT timeout AND retry)'],
    ['NOT NOT x', 'NOT NOT x'],
    ['(a OR b) c', '((a OR b) AND c)'],
    ['-(a OR b)', 'NOT (a OR b)'],
    ['"connection reset" peer', '("connection reset" AND peer)'],
    ['"say \\"hi\\" \\\\ there"', '"say "hi" \\ there"'],
    ['user_id=42', 'user_id=42[user,id,42]'],
    ['a-b', 'a-b[a,b]'],
    ['12:30:00', '12:30:00[12,30,00]'],
    ['service:web', 'service=web'],
    ['service:"web api"', 'service=web api'],
    ['severity:>=WARN', 'severity>=warn'],
    ['severity:error', 'severity=error'],
    ['severity:<info', 'severity<info'],
    ['attr.http.method:GET', 'attr[http.method]=GET'],
    ['attr.user:"Ann Lee" -service:web', '(attr[user]=Ann Lee AND NOT service=web)'],
    ['a AND (b OR (c -d))', '(a AND (b OR (c AND NOT d)))'],
    ['and or not', '(and AND or AND not)'],
  ])('%s', (q, expected) => {
    expect(show(parseLogQuery(q))).toBe(expected);
  });

  it.each([
    ['(timeout', 'q (position 0): unbalanced parenthesis: this ( is never closed'],
    ['a (b (c)', 'q (position 2): unbalanced parenthesis: this ( is never closed'],
    ['timeout)', 'q (position 7): unbalanced parenthesis: this ) has no ('],
    ['x "connection reset', 'q (position 2): unterminated quote: this " has no closing "'],
    ['', 'q (position 0): the search is empty (leave q out to list every log)'],
    ['   ', 'q (position 0): the search is empty (leave q out to list every log)'],
    ['()', 'q (position 0): empty parentheses'],
    ['timeout AND', 'q (position 11): AND at position 8 needs a search after it'],
    ['OR timeout', 'q (position 0): OR needs a search before it'],
    ['a OR OR b', 'q (position 5): OR at position 2 needs a search after it'],
    ['NOT', 'q (position 3): NOT at position 0 needs a search after it'],
    ['"!!"', 'q (position 0): the phrase "!!" has no letters or digits to search for'],
    ['ok ...', 'q (position 3): the word "..." has no letters or digits to search for'],
    [
      'sevrity:error',
      'q (position 0): unknown field "sevrity": the fields are service:, severity: and attr.<key>: (put the text in quotes to search it as words)',
    ],
    ['severity:loud', 'q (position 9): severity: "loud" is not a severity: give trace, debug, info, warn, error or fatal, optionally after >=, >, <=, < or ='],
    ['service: web', 'q (position 8): service: needs a value'],
  ])('refuses %j', (q, reason) => {
    expect(refusal(q)).toBe(reason);
  });

  it('bounds depth, number of searches and length', () => {
    expect(refusal(`${'('.repeat(40)}x${')'.repeat(40)}`)).toMatch(/nested deeper than 32 levels/);
    expect(refusal(Array.from({ length: 65 }, (_, i) => `w${i}`).join(' '))).toMatch(/more than 64 searches/);
    expect(refusal('x'.repeat(5000))).toMatch(/longer than 4096 characters/);
  });

  it('bounds the index words a search costs, per word or phrase and per query: at most 128 hasToken and 64 match calls', () => {
    // 4,096 characters of -aB.aB...: 1,365 index words were 1,365 hasToken calls, under a NOT (every row pays).
    expect(refusal(`-${'aB.'.repeat(1365)}`)).toMatch(
      /^q \(position 1\): the word "aB\.aB\..*\.\.\." is 1365 words to the index \(punctuation separates words\), more than 32$/,
    );
    expect(refusal(`x "${Array.from({ length: 33 }, (_, i) => `w${i}`).join(' ')}"`)).toMatch(
      /^q \(position 2\): the phrase "w0 w1 .*" is 33 words to the index/,
    );
    const word32 = (k: number): string => Array.from({ length: 32 }, (_, i) => `aB${k}x${i}`).join('.');
    expect(parseLogQuery(word32(0))).toMatchObject({ kind: 'term' });
    const four = [0, 1, 2, 3].map(word32).join(' ');
    expect(parseLogQuery(four)).toMatchObject({ kind: 'and' });
    expect(refusal(`${four} -more`)).toMatch(/^q \(position \d+\): more than 128 words to the index in one query/);
    // The costliest search it takes: 128 index words in 64 searches (phrases of two: each a match() too), one hasToken a word.
    const q = Array.from({ length: 64 }, (_, i) => `-"aB${i} cD${i}"`).join(' ');
    const { sql } = logSearchSql('ssf.logs', { tenant: 't', fromMs: 0, toMs: 1, services: [], query: parseLogQuery(q), order: 'desc', limit: 1 });
    expect(sql.split('hasToken(').length - 1).toBe(128);
    expect(sql.split('match(').length - 1).toBe(64);
  });

  it('positive searches leave out what is under NOT', () => {
    const s = positiveSearches(parseLogQuery('timeout -retry "connection reset" NOT (disk OR "cache miss") NOT NOT again'));
    expect(s.terms.map((t) => t.text)).toEqual(['timeout', 'again']);
    expect(s.phrases.map((p) => p.text)).toEqual(['connection reset']);
  });
});

describe('SQL translation', () => {
  it('binds every value as a parameter', () => {
    const { sql, params } = logSearchSql('ssf.logs', {
      tenant: 'acme',
      fromMs: 1_700_000_000_000,
      toMs: 1_700_000_360_000,
      services: ['web', 'api'],
      minSeverity: 'warn',
      traceId: -5n,
      query: parseLogQuery('(TimeOut OR "Connection RESET") -USER_id=42 service:web severity:>=error attr.region:eu'),
      order: 'desc',
      limit: 101,
      after: { ns: '1700000000000000001', hash: '42', skip: 1 },
    });
    expect(sql).toMatchInlineSnapshot(`
      "SELECT
        toUnixTimestamp64Nano(timestamp) AS ts_ns,
        row_hash, service, severity, body, trace_id, trace_id_high, span_id, attributes
      FROM ssf.logs
      WHERE tenant = {tenant:String}
        AND timestamp >= fromUnixTimestamp64Milli({fromMs:Int64})
        AND timestamp <= fromUnixTimestamp64Milli({toMs:Int64})
        AND service IN {services:Array(String)}
        AND CAST(severity, 'Int8') >= {minSeverity:Int8}
        AND trace_id = {traceId:Int64}
        AND ((hasToken(replaceAll(lowerUTF8(body), 'ς', 'σ'), {p0:String}) OR ((hasToken(replaceAll(lowerUTF8(body), 'ς', 'σ'), {p1:String}) AND hasToken(replaceAll(lowerUTF8(body), 'ς', 'σ'), {p2:String})) AND match(replaceAll(lowerUTF8(body), 'ς', 'σ'), {p3:String}))) AND NOT ((hasToken(replaceAll(lowerUTF8(body), 'ς', 'σ'), {p4:String}) AND hasToken(replaceAll(lowerUTF8(body), 'ς', 'σ'), {p5:String}) AND hasToken(replaceAll(lowerUTF8(body), 'ς', 'σ'), {p6:String}))) AND service = {p7:String} AND CAST(severity, 'Int8') >= {p8:Int8} AND attributes[{p9:String}] = {p10:String})
        AND timestamp <= fromUnixTimestamp64Nano({afterNs:Int64})
        AND (timestamp < fromUnixTimestamp64Nano({afterNs:Int64}) OR row_hash <= {afterHash:UInt32})
      ORDER BY timestamp DESC, row_hash DESC
      LIMIT {limit:UInt32} OFFSET {skip:UInt32}"
    `);
    expect(params).toEqual({
      tenant: 'acme',
      fromMs: 1_700_000_000_000,
      toMs: 1_700_000_360_000,
      limit: 101,
      skip: 1,
      services: ['web', 'api'],
      minSeverity: 4,
      traceId: '-5',
      afterNs: '1700000000000000001',
      afterHash: '42',
      p0: 'timeout',
      p1: 'connection',
      p2: 'reset',
      p3: phrasePattern(['connection', 'reset']),
      p4: 'user',
      p5: 'id',
      p6: '42',
      p7: 'web',
      p8: 5,
      p9: 'region',
      p10: 'eu',
    });
    // Nothing from the request is in the text.
    for (const v of ['acme', 'timeout', 'connection', 'eu', 'region']) expect(sql).not.toContain(v);
  });

  it('ascending pages and no optional filters', () => {
    const { sql } = logSearchSql('ssf.logs', {
      tenant: 't',
      fromMs: 0,
      toMs: 1,
      services: [],
      order: 'asc',
      limit: 10,
      after: { ns: '1', hash: '2', skip: 3 },
    });
    expect(sql).toContain(
      'AND timestamp >= fromUnixTimestamp64Nano({afterNs:Int64})\n  AND (timestamp > fromUnixTimestamp64Nano({afterNs:Int64}) OR row_hash >= {afterHash:UInt32})',
    );
    expect(sql).toContain('ORDER BY timestamp ASC, row_hash ASC');
    expect(sql).not.toMatch(/service IN|CAST\(severity|trace_id =|hasToken/);
  });

  it('a first window also reads one row of the rest of the range, in a part of its own, values bound', () => {
    const { sql, params } = logSearchSql('ssf.logs', {
      tenant: 't',
      fromMs: 0,
      toMs: 10,
      services: [],
      order: 'desc',
      limit: 10,
      window: { loNs: 5_000_000n, hiNs: 11_000_000n },
      rest: { loNs: 0n, hiNs: 5_000_000n },
    });
    expect(sql).toMatch(/^\(SELECT 1 AS part,\n {2}toUnixTimestamp64Nano\(timestamp\) AS ts_ns,/);
    expect(sql).toContain('LIMIT {limit:UInt32} OFFSET {skip:UInt32})\nUNION ALL\n(SELECT 2 AS part,');
    expect(sql).toContain(
      'WHERE tenant = {tenant:String} AND timestamp >= fromUnixTimestamp64Nano({restLoNs:Int64}) AND timestamp < fromUnixTimestamp64Nano({restHiNs:Int64}) LIMIT 1)',
    );
    expect(params).toMatchObject({ restLoNs: '0', restHiNs: '5000000', windowLoNs: '5000000', windowHiNs: '11000000' });
    // Without `rest`: the page alone, no part column.
    const { sql: alone } = logSearchSql('ssf.logs', { tenant: 't', fromMs: 0, toMs: 10, services: [], order: 'desc', limit: 10 });
    expect(alone).toMatch(/^SELECT\n/);
    expect(alone).not.toContain('UNION');
  });

  it('the window probe: one row at most of the window and of the rest, values bound', () => {
    const { sql, params } = windowProbeSql('ssf.logs', 'acme', { loNs: 5n, hiNs: 9n }, { loNs: 1n, hiNs: 5n });
    expect(sql).toBe(
      "(SELECT 'window' AS part FROM ssf.logs WHERE tenant = {tenant:String} AND timestamp >= fromUnixTimestamp64Nano({windowLoNs:Int64}) AND timestamp < fromUnixTimestamp64Nano({windowHiNs:Int64}) LIMIT 1)\n" +
        'UNION ALL\n' +
        "(SELECT 'rest' AS part FROM ssf.logs WHERE tenant = {tenant:String} AND timestamp >= fromUnixTimestamp64Nano({restLoNs:Int64}) AND timestamp < fromUnixTimestamp64Nano({restHiNs:Int64}) LIMIT 1)",
    );
    expect(params).toEqual({ tenant: 'acme', windowLoNs: '5', windowHiNs: '9', restLoNs: '1', restHiNs: '5' });
  });

  it('phrase pattern (on the folded body): whole tokens, in order, separated by non-token characters', () => {
    const re = new RegExp(phrasePattern(['connection', 'reset']));
    expect(re.test(foldCase('Connection, RESET by peer'))).toBe(true);
    expect(re.test('connection reset')).toBe(true);
    expect(re.test('disconnection reset')).toBe(false);
    expect(re.test('connection resets')).toBe(false);
    expect(re.test('connection x reset')).toBe(false);
    expect(re.test('reset connection')).toBe(false);
    expect(re.test('ConNection reset')).toBe(false);
    expect(re.test(foldCase('ConNection reset'))).toBe(true);
  });
});

describe('highlights', () => {
  it('UTF-16 offsets of each matched word and phrase, as the SQL matches them', () => {
    const h = highlighter(positiveSearches(parseLogQuery('timeout "connection reset" -retry café')));
    const body = '😀 Timeout: CONNECTION reset; TimeOut timeouts retry CAFÉ! connection  reset';
    const ranges = h(body);
    expect(ranges.map(([s, e]) => body.slice(s, e))).toEqual(['Timeout', 'CONNECTION reset', 'TimeOut', 'CAFÉ', 'connection  reset']);
    expect(ranges[0]).toEqual([3, 10]);
  });

  it('looks at the first HIGHLIGHT_BODY_CHARS of a body, HIGHLIGHT_ANSWER_CHARS of an answer; a token the bound cuts is no token', () => {
    expect(bodyTokens('abc def', 5).map((t) => t.text)).toEqual(['abc']);
    expect(bodyTokens('abc def', 4).map((t) => t.text)).toEqual(['abc']);
    expect(bodyTokens('abc def', 3).map((t) => t.text)).toEqual(['abc']);
    expect(bodyTokens('abc def', 2).map((t) => t.text)).toEqual([]);
    const h = highlighter(positiveSearches(parseLogQuery('ab')), 10);
    expect(h('ab ab ab')).toEqual([
      [0, 2],
      [3, 5],
      [6, 8],
    ]);
    // 2 of the answer's 10 units left: the next body is looked at in its first two.
    expect(h('ab ab')).toEqual([[0, 2]]);
    expect(h('ab')).toEqual([]);
    const long = 'ab '.repeat(HIGHLIGHT_BODY_CHARS);
    const ranges = highlighter(positiveSearches(parseLogQuery('ab')))(long);
    expect(ranges).toHaveLength(Math.floor((HIGHLIGHT_BODY_CHARS + 1) / 3));
    expect(ranges.at(-1)?.[1]).toBeLessThanOrEqual(HIGHLIGHT_BODY_CHARS);
  });

  it('merges overlapping ranges and highlights each token of a word with punctuation', () => {
    const h = highlighter(positiveSearches(parseLogQuery('connection "connection reset" user_id')));
    const body = 'connection reset for user 7, id 9';
    expect(h(body).map(([s, e]) => body.slice(s, e))).toEqual(['connection reset', 'user', 'id']);
    expect(highlighter({ terms: [], phrases: [] })(body)).toEqual([]);
  });
});

describe('cursor', () => {
  it('round-trips and refuses foreign or altered cursors', () => {
    const search = searchFingerprint(['timeout', [], null, null, 'desc']);
    const c = { ns: '1700000000000000001', hash: '4294967295', skip: 2, fromMs: 1_699_999_000_000, toMs: 1_700_000_000_000, search };
    expect(decodeCursor(encodeCursor(c), search)).toEqual(c);
    // A cursor of before migration 0012 (a 64-bit hash) is refused, not read as another position.
    expect(() => decodeCursor(encodeCursor({ ...c, hash: '4294967296' }), search)).toThrow(/not a cursor/);
    expect(() => decodeCursor(encodeCursor({ ...c, hash: '18446744073709551615' }), search)).toThrow(/not a cursor/);
    const other = searchFingerprint(['retry', [], null, null, 'desc']);
    expect(() => decodeCursor(encodeCursor(c), other)).toThrow(/continues a different search/);
    expect(() => decodeCursor('not-a-cursor', search)).toThrow(/not a cursor of GET \/v1\/logs/);
    expect(() => decodeCursor(Buffer.from(JSON.stringify({ ...c, ns: "1' OR 1" })).toString('base64url'), search)).toThrow(/not a cursor/);
  });

  it('refuses a cursor whose range, position or skip was changed past what the API makes', () => {
    const search = searchFingerprint(['timeout', [], null, null, 'desc']);
    const c = { ns: '1700000000000000001', hash: '7', skip: 1, fromMs: 1_699_999_000_000, toMs: 1_700_000_000_000, search };
    const refused = (change: Partial<typeof c>): void => {
      expect(() => decodeCursor(encodeCursor({ ...c, ...change }), search)).toThrow(/: cursor: not a cursor of GET \/v1\/logs/);
    };
    refused({ fromMs: -1 });
    refused({ fromMs: -9_007_199_254_740_991 });
    refused({ toMs: Date.UTC(2262, 3, 11) + 1 });
    refused({ toMs: 9_007_199_254_740_991 });
    refused({ fromMs: 1_700_000_000_001, toMs: 1_700_000_000_000 });
    refused({ ns: '99999999999999999999' });
    refused({ ns: '1699998999999999999' });
    refused({ ns: '1700000000001000000' });
    refused({ skip: 100_001 });
    refused({ skip: 1_000_000 });
    // The edges themselves are a cursor the API can make.
    for (const change of [{ ns: '1699999000000000000' }, { ns: '1700000000000999999' }, { skip: 100_000 }, { fromMs: 0, ns: '0' }]) {
      expect(decodeCursor(encodeCursor({ ...c, ...change }), search)).toEqual({ ...c, ...change });
    }
  });
});

describe('answer fields', () => {
  it('timestamps keep their nanoseconds; trace links are ids parseId reads back', () => {
    expect(nsToRfc3339('1700000000000000001')).toBe('2023-11-14T22:13:20.000000001Z');
    expect(traceLink('42')).toBe('/v1/traces/000000000000002a');
    expect(traceLink('777')).toBe('/v1/traces/0x0000000000000309');
    expect(traceLink('-1')).toBe('/v1/traces/ffffffffffffffff');
  });
});

describe('search windows', () => {
  it('the next window holds twice the rows still wanted at the density seen; all the rest after an empty one', () => {
    // 50 rows in 1000 ns, 51 more wanted: 2 * 51 / 50 * 1000.
    expect(nextWindowWidth(1000n, 50, 51, 1_000_000n)).toBe(2040n);
    // A dense window and one row still wanted: a narrower window.
    expect(nextWindowWidth(1000n, 100, 1, 1_000_000n)).toBe(20n);
    // Never past the rest of the range, never empty.
    expect(nextWindowWidth(1000n, 1, 101, 5000n)).toBe(5000n);
    expect(nextWindowWidth(1n, 1000, 1, 5000n)).toBe(1n);
    // Nothing found: a rare word; the index finds it in all the rest at once.
    expect(nextWindowWidth(1000n, 0, 101, 123_456n)).toBe(123_456n);
  });

  it('a search asked again starts with the usual first window when that holds its page, else twice the width its density needs', () => {
    // 101 rows at 0.01 rows per ns need 10,100 ns: twice that.
    expect(rememberedWidth(0.01, 101, 1000n, 1_000_000n)).toBe(20_200n);
    // The usual first window holds them: a common word reads no more than before.
    expect(rememberedWidth(5, 101, 1000n, 1_000_000n)).toBe(1000n);
    expect(rememberedWidth(0.101, 101, 1000n, 1_000_000n)).toBe(1000n);
    // Rare: the whole range at once, however long.
    expect(rememberedWidth(1e-12, 101, 1000n, 1_000_000n)).toBe(1_000_000n);
    expect(rememberedWidth(1e-300, 101, 1000n, 86_400_000_000_000n * 365n)).toBe(86_400_000_000_000n * 365n);
    expect(rememberedWidth(0.0002, 101, 1000n, 1_000_000n)).toBe(1_000_000n);
    // Nothing sensible: the whole range.
    expect(rememberedWidth(0, 101, 1000n, 5000n)).toBe(5000n);
    expect(rememberedWidth(Number.NaN, 101, 1000n, 5000n)).toBe(5000n);
  });
});
