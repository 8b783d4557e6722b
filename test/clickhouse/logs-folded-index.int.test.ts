import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyTokens, FOLDED_BODY, foldCase } from '../../query/logs/body-tokens.js';
import { parseLogQuery } from '../../query/logs/log-query.js';
import { logSearchSql, searchCondition, SqlParams } from '../../query/logs/log-sql.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { loadMigrations, migrate, probeBodyIndex, renderMigration } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { skipIndexGranules } from './skip-index-granules.js';

/**
 * Migration 0016: the full-text index on the case-folded body
 * (`idx_body_folded`), which GET /v1/logs searches through. Here on a real
 * server: a database at version 15 with logs written before the migration;
 * those logs are found in every spelling while the index does not exist for
 * their parts yet (read from the bodies) and after the migration's mutation
 * built it (read through the index); and the API's folding is ClickHouse's,
 * character for character.
 */

const N = 50_000;
const SPELLINGS = ['timeout', 'TimeOut', 'TIMEOUT', 'tImEoUt', 'ok'];
const PLACES = ['ΟΔΟΣ.Athens', 'οδος', 'CAFÉ', 'café', 'node'];

/** Line `n` as the INSERT below writes it. */
function bodyOf(n: number): string {
  return `Request ${SPELLINGS[n % 5]} from ${PLACES[Math.floor(n / 5) % 5]} id=${n}${n % 10007 === 0 ? ' KafkaEsque' : ''}`;
}

describe('migration 0016: the case-folded full-text index on logs.body', () => {
  const database = uniqueDatabase('ssf_m0016');
  const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } });
  let ch: ClickHouse;
  const toMs = Date.now();
  let otelColumnsBefore: unknown[] = [];
  const otelColumns = async (): Promise<unknown[]> => (await ch.client.query({ query: `DESCRIBE TABLE ${database}.otel_logs`, format: 'JSONEachRow' })).json();

  const insert = (from: number, count: number): Promise<unknown> =>
    ch.client.command({
      query: `INSERT INTO ${database}.logs (tenant, service, timestamp, severity, severity_number, body, trace_id, span_id, attributes)
        SELECT 'default', 'svc', fromUnixTimestamp64Milli(toInt64(${toMs - 3_600_000} + number * 60)), 'info', 9,
               concat('Request ', [${SPELLINGS.map((s) => `'${s}'`).join(', ')}][1 + number % 5],
                      ' from ', [${PLACES.map((s) => `'${s}'`).join(', ')}][1 + intDiv(number, 5) % 5],
                      ' id=', toString(number), if(number % 10007 = 0, ' KafkaEsque', '')),
               0, toInt64(number), map()
        FROM numbers(${from}, ${count})`,
    });

  /** The span ids (line numbers) GET /v1/logs's statement finds for `q`, sorted. */
  async function search(q: string): Promise<number[]> {
    const { sql, params } = logSearchSql(`${database}.logs`, {
      tenant: 'default',
      fromMs: toMs - 3_600_000,
      toMs,
      services: [],
      query: parseLogQuery(q),
      order: 'desc',
      limit: 1_000_000,
    });
    const rows = await (await ch.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<{ span_id: string }>();
    return rows.map((r) => Number(r.span_id)).sort((a, b) => a - b);
  }

  /** The lines with every word of `words` in any spelling, by the documented rule (folded words compared), and none of `not`. */
  function expected(words: string[], not: string[] = [], upTo = N): number[] {
    const has = (n: number, w: string): boolean => bodyTokens(bodyOf(n)).some((t) => foldCase(t.text) === foldCase(w));
    return Array.from({ length: upTo }, (_, n) => n).filter((n) => words.every((w) => has(n, w)) && !not.some((w) => has(n, w)));
  }

  const SEARCHES: Array<[string, string[], string[]]> = [
    ['timeout', ['timeout'], []],
    ['TIMEOUT οδος', ['timeout', 'οδοσ'], []],
    ['Café -TimeOut', ['café'], ['timeout']],
    ['kafkaesque', ['kafkaesque'], []],
  ];

  /** idx_body_folded in `EXPLAIN indexes = 1`: granules selected / considered. */
  async function granules(q: string): Promise<{ selected: number; total: number }> {
    const { sql, params } = logSearchSql(`${database}.logs`, {
      tenant: 'default',
      fromMs: toMs - 3_600_000,
      toMs,
      services: [],
      query: parseLogQuery(q),
      order: 'desc',
      limit: 100,
    });
    const text = await (await ch.client.query({ query: `EXPLAIN indexes = 1 ${sql}`, query_params: params, format: 'TabSeparatedRaw' })).text();
    const g = skipIndexGranules(text, 'idx_body_folded');
    if (!g) throw new Error(`idx_body_folded is not in the plan:\n${text}`);
    return g;
  }

  async function foldedIndex(): Promise<{ expr: string; bytes: number } | undefined> {
    const rows = await (
      await ch.client.query({
        query: `SELECT expr, data_compressed_bytes AS bytes FROM system.data_skipping_indices WHERE database = {db:String} AND table = 'logs' AND name = 'idx_body_folded'`,
        query_params: { db: database },
        format: 'JSONEachRow',
      })
    ).json<{ expr: string; bytes: string }>();
    return rows[0] && { expr: rows[0].expr, bytes: Number(rows[0].bytes) };
  }

  beforeAll(async () => {
    ch = await createClickHouse(config.clickhouse);
    const before = await migrate(ch, config, () => {}, { until: 15 });
    expect(before.applied.at(-1)?.version).toBeLessThan(16);
    await insert(0, N);
    otelColumnsBefore = await otelColumns();
  }, 120_000);

  afterAll(async () => {
    await ch?.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await ch?.close();
  });

  it('while the index is not built for the parts written before, a search finds their lines in every spelling (from the bodies)', async () => {
    // The state of a part that 0016's mutation has not reached yet: the index
    // is on the table, not in the part.
    const m = loadMigrations().find((x) => x.version === 16);
    if (m === undefined) throw new Error('no migration 16');
    const add = renderMigration(m, { database, cluster: '', retention: config.retention, bodyIndex: await probeBodyIndex(ch) })[0] as string;
    expect(add).toContain('ADD INDEX IF NOT EXISTS idx_body_folded');
    await ch.client.command({ query: add });
    expect((await foldedIndex())?.bytes).toBe(0);
    for (const [q, words, not] of SEARCHES) expect(await search(q), q).toEqual(expected(words, not));
  });

  it('after the migration (its mutation done), the same lines, found through the index on the expression the search names', async () => {
    const result = await migrate(ch, config);
    expect(result.applied.map((a) => a.version)).toContain(16);
    for (let i = 0; ; i++) {
      const pending = await (
        await ch.client.query({
          query: `SELECT count() AS n FROM system.mutations WHERE database = {db:String} AND table = 'logs' AND NOT is_done`,
          query_params: { db: database },
          format: 'JSONEachRow',
        })
      ).json<{ n: string }>();
      if (Number(pending[0]?.n) === 0) break;
      if (i > 600) throw new Error('the mutation of migration 0016 is not done after a minute');
      await new Promise((r) => setTimeout(r, 100));
    }
    const index = await foldedIndex();
    expect(index?.bytes).toBeGreaterThan(0);
    expect(index?.expr.replace(/\\'/g, "'")).toBe(FOLDED_BODY);
    for (const [q, words, not] of SEARCHES) expect(await search(q), q).toEqual(expected(words, not));
    // A rare word: 5 lines in ~49 granules of 1,024.
    const g = await granules('KAFKAESQUE');
    expect(g.selected).toBeGreaterThanOrEqual(1);
    expect(g.selected).toBeLessThanOrEqual(5);
    expect(g.total).toBeGreaterThan(40);
    // The OTel view over logs (0008) is the same, and its Body is searched through the index with the same expression.
    expect(await otelColumns()).toEqual(otelColumnsBefore);
    const viaView = await (
      await ch.client.query({
        query: `SELECT count() AS n FROM ${database}.otel_logs WHERE hasToken(${FOLDED_BODY.replace('body', 'Body')}, {w:String})`,
        query_params: { w: 'kafkaesque' },
        format: 'JSONEachRow',
      })
    ).json<{ n: string }>();
    expect(Number(viaView[0]?.n)).toBe(expected(['kafkaesque']).length);
  });

  it('lines written after the migration are found too', async () => {
    await insert(N, 10_000);
    expect(await search('tImEoUt ΟΔΟΣ')).toEqual(expected(['timeout', 'οδοσ'], [], N + 10_000));
  });

  it("folds every code point as ClickHouse's lowerUTF8 does, the final sigma as sigma", async () => {
    // Each code point as UTF-8, in SQL; the ones FOLDED_BODY changes.
    const utf8 = `multiIf(cp < 0x80, char(cp),
      cp < 0x800, char(0xC0 + intDiv(cp, 64), 0x80 + cp % 64),
      cp < 0x10000, char(0xE0 + intDiv(cp, 4096), 0x80 + intDiv(cp, 64) % 64, 0x80 + cp % 64),
      char(0xF0 + intDiv(cp, 262144), 0x80 + intDiv(cp, 4096) % 64, 0x80 + intDiv(cp, 64) % 64, 0x80 + cp % 64))`;
    const changed = await (
      await ch.client.query({
        query: `SELECT toUInt32(cp) AS cp, folded FROM (
                  SELECT number AS cp, ${utf8} AS body, ${FOLDED_BODY} AS folded
                  FROM numbers(0x110000) WHERE NOT (cp >= 0xD800 AND cp <= 0xDFFF)) WHERE folded != body`,
        format: 'JSONEachRow',
      })
    ).json<{ cp: number; folded: string }>();
    const byClickHouse = new Map(changed.map((r) => [Number(r.cp), r.folded]));
    expect(byClickHouse.size).toBeGreaterThan(1000);
    const differ: string[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      if (foldCase(c) !== (byClickHouse.get(cp) ?? c)) differ.push(cp.toString(16));
    }
    expect(differ).toEqual([]);
  }, 60_000);

  it('folds a body to the tokens the API folds its words to, whatever the context (the final sigma, İ, the Kelvin sign)', async () => {
    const bodies = ['ΟΔΟΣ.Athens ΟΔΟΣ', 'a.Σ ΣΑΣ ΣΑΣ.Α', 'İSTANBUL \u212Aelvin', 'Straße STRASSE café CAFÉ', 'user_id=42 TimeOut'];
    const rows = await (
      await ch.client.query({
        query: `SELECT tokens(${FOLDED_BODY}, 'splitByNonAlpha') AS t FROM (SELECT arrayJoin({bodies:Array(String)}) AS body)`,
        query_params: { bodies },
        format: 'JSONEachRow',
      })
    ).json<{ t: string[] }>();
    expect(rows.map((r) => r.t)).toEqual(bodies.map((b) => bodyTokens(b).map((t) => foldCase(t.text))));
  });

  it.each(['text', 'tokenbf'] as const)(
    'as a %s index, it serves every form the search writes: words, spellings, phrases, OR, NOT beside a word',
    async (kind) => {
      // A table named logs with the body alone, 0016's statements as rendered for this kind of index.
      const scratch = `${database}_${kind}`;
      await ch.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${scratch}` });
      try {
        await ch.client.command({
          query: `CREATE TABLE ${scratch}.logs (n UInt32, body String) ENGINE = MergeTree ORDER BY n SETTINGS index_granularity = 1024`,
        });
        const m = loadMigrations().find((x) => x.version === 16);
        if (m === undefined) throw new Error('no migration 16');
        for (const statement of renderMigration(m, { database: scratch, cluster: '', retention: config.retention, bodyIndex: kind })) {
          await ch.client.command({ query: statement });
        }
        await ch.client.command({
          query: `INSERT INTO ${scratch}.logs SELECT number, if(number % 10007 = 0, 'Kernel PANIC: NeedLe ΟΔΟΣ.x', concat('filler line ', toString(number))) FROM numbers(${N})`,
        });
        const granulesOf = async (q: string): Promise<{ selected: number; total: number; rows: number }> => {
          const params = new SqlParams();
          const where = searchCondition(parseLogQuery(q), params);
          const sql = `SELECT count() AS n FROM ${scratch}.logs WHERE ${where}`;
          const plan = await (await ch.client.query({ query: `EXPLAIN indexes = 1 ${sql}`, query_params: params.values, format: 'TabSeparatedRaw' })).text();
          const g = skipIndexGranules(plan, 'idx_body_folded');
          if (!g) throw new Error(`idx_body_folded is not in the plan of ${q}:\n${plan}`);
          const [row] = await (await ch.client.query({ query: sql, query_params: params.values, format: 'JSONEachRow' })).json<{ n: string }>();
          return { ...g, rows: Number(row?.n) };
        };
        for (const q of [
          'needle',
          'NEEDLE',
          '"kernel panic"',
          '"KERNEL panic: needle"',
          'needle OR nothinglikethis',
          'needle -filler',
          'needle kernel',
          'οδος',
        ]) {
          const g = await granulesOf(q);
          expect(g.rows, q).toBe(5);
          expect(g.selected, q).toBeLessThanOrEqual(5);
          expect(g.total, q).toBeGreaterThan(40);
        }
      } finally {
        await ch.client.command({ query: `DROP DATABASE IF EXISTS ${scratch}` });
      }
    },
  );
});
