import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClickHouseError } from '../../src/clickhouse/clickhouse-error.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { insertSettings } from '../../src/clickhouse/event-writer.js';
import { loadMigrations, migrate, renderMigration } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';

/**
 * Migration 0015 folds service_metrics_1m_mv into span_metrics_1m_mv (one
 * rollup part per insert instead of two). The change is made while `spans`
 * refuses inserts, so that no insert runs with the new view beside the old
 * one (ssf.service.duration counted twice) or with neither (not counted).
 * Here on a real server: a run stopped half-way, then two processes
 * migrating while a third keeps writing and retrying, as the materializer
 * does. Afterwards ssf.service.duration is exactly ssf.span.duration summed
 * over the name tag, in every minute and every hour.
 */

const MINUTE_S = 60;
const T0_S = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3 * 3600;

async function rows<T>(ch: ClickHouse, query: string): Promise<T[]> {
  return (await ch.client.query({ query, format: 'JSONEachRow' })).json<T>();
}

/** `n` spans of 4 services, 10 operations, 2 tenants, over a few minutes from `fromS`; inserted as the writers insert (insertSettings), with deduplication token `token`. */
function insertSpans(ch: ClickHouse, fromS: number, n: number, seed: number, token: string): Promise<unknown> {
  return ch.client.command({
    query: `INSERT INTO ${ch.database}.spans (tenant, trace_id, span_id, parent_id, service, name, start, duration_ns, error, indicator, root_start, tags)
      SELECT ['default', 'other'][1 + number % 2], toInt64(cityHash64(intDiv(number, 8), ${seed})), toInt64(cityHash64(number, ${seed})), 0,
             ['checkout', 'cart', 'payments', 'search'][1 + number % 4], concat('op', toString(number % 10)),
             toDateTime64(${fromS} + intDiv(number * ${5 * MINUTE_S}, ${n}), 9, 'UTC') + toIntervalNanosecond(number % 1000),
             1000 + cityHash64(number, ${seed}, 1) % 50000000, cityHash64(number, ${seed}, 2) % 50 = 0, number % 97 = 0,
             toDateTime64(${fromS}, 9, 'UTC'), map('k', toString(number % 3))
      FROM numbers(${n})`,
    clickhouse_settings: insertSettings(n, 'spans', token),
  });
}

/**
 * Per rollup table, tenant, service, error and bucket: ssf.span.duration's
 * count and sum (over every name) beside ssf.service.duration's. The two
 * add the same floats in different orders: `sameSpans` compares the sums
 * within float error (rounded to 3 decimals, 6678.4265 could still read
 * 6678.426 on one side and 6678.427 on the other).
 */
function comparison(
  ch: ClickHouse,
  table: 'metrics_1m' | 'metrics_1h',
): Promise<Array<{ span_n: number; service_n: number; span_sum: number; service_sum: number }>> {
  return rows(
    ch,
    `SELECT tenant, tags['service'] AS service, tags['error'] AS error, bucket,
            sumIf(count, name = 'ssf.span.duration') AS span_n, sumIf(count, name = 'ssf.service.duration') AS service_n,
            sumIf(sum, name = 'ssf.span.duration') AS span_sum, sumIf(sum, name = 'ssf.service.duration') AS service_sum
       FROM ${ch.database}.${table}
      WHERE name IN ('ssf.span.duration', 'ssf.service.duration')
      GROUP BY tenant, service, error, bucket ORDER BY tenant, service, error, bucket`,
  );
}

/** One row of `comparison`: the same count, and the same sum up to the order of its additions. */
function sameSpans(r: { span_n: number; service_n: number; span_sum: number; service_sum: number }): void {
  expect(Number(r.service_n)).toBe(Number(r.span_n));
  expect(Math.abs(Number(r.service_sum) - Number(r.span_sum))).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(Number(r.span_sum))));
}

describe('migration 0015: the span rollups in one view', () => {
  const database = uniqueDatabase('ssf_m0015');
  const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } });
  let ch: ClickHouse;
  let others: ClickHouse[] = [];
  let written = 0;
  let tokens = 0;
  /** Writes one insert, retried with its token until ClickHouse takes it (as the materializer retries a batch); counts the refusals. */
  const refusals = new Map<string, number>();
  const write = async (c: ClickHouse, fromS: number, n: number): Promise<void> => {
    const token = `w${++tokens}`;
    for (;;) {
      try {
        await insertSpans(c, fromS, n, tokens, token);
        written += n;
        return;
      } catch (err) {
        const failure = parseClickHouseError(err);
        if (!failure.retriable) throw err;
        refusals.set(failure.name, (refusals.get(failure.name) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };

  /** `spans` holds every span written, once, and so do both rollups, in ssf.span.duration and in ssf.service.duration alike. */
  const expectEverySpanOnce = async (): Promise<void> => {
    const count = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.spans`);
    expect(Number(count[0]?.n)).toBe(written);
    for (const table of ['metrics_1m', 'metrics_1h'] as const) {
      const compared = await comparison(ch, table);
      expect(compared.reduce((a, r) => a + Number(r.span_n), 0)).toBe(written);
      for (const r of compared) sameSpans(r);
    }
  };

  beforeAll(async () => {
    ch = await createClickHouse(config.clickhouse);
    others = [await createClickHouse(config.clickhouse), await createClickHouse(config.clickhouse), await createClickHouse(config.clickhouse)];
    const before = await migrate(ch, config, () => {}, { until: 14 });
    expect(before.applied.at(-1)?.version).toBe(14);
    for (let i = 0; i < 3; i++) await write(ch, T0_S + i * 10 * MINUTE_S, 4_000);
  }, 120_000);

  afterAll(async () => {
    await ch?.client.command({ query: `DROP DATABASE IF EXISTS ${database} SYNC` });
    for (const c of [ch, ...others]) await c?.close();
  });

  it('refuses inserts, retriably and writing nothing, from the first statement of a run that stopped before the old view went', async () => {
    const statements = renderMigration(loadMigrations().find((m) => m.version === 15)!, {
      database,
      cluster: '',
      retention: config.retention,
      bodyIndex: 'text',
    });
    const drop = statements.findIndex((s) => s.startsWith('DROP VIEW'));
    expect(drop).toBeGreaterThan(0);
    // Stopped between the new view and the old one's drop: both would count ssf.service.duration.
    for (const s of statements.slice(0, drop)) await ch.client.command({ query: s });
    const failure = await insertSpans(ch, T0_S + 40 * MINUTE_S, 1_000, 777, 'stopped').then(
      () => undefined,
      (err: unknown) => parseClickHouseError(err),
    );
    expect(failure?.name).toBe('VIOLATED_CONSTRAINT');
    expect(failure?.retriable).toBe(true);
    await expectEverySpanOnce();
  });

  it('counts every span once in ssf.service.duration while two processes migrate and a third writes', async () => {
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing || i < 3; i++) await write(others[2] as ClickHouse, T0_S + (50 + (i % 60)) * MINUTE_S, 1_000);
    })();
    const results = await Promise.all(others.slice(0, 2).map((c) => migrate(c, config)));
    writing = false;
    await writer;
    expect(results.map((r) => r.applied.map((m) => m.version)).sort()).toEqual([
      [],
      loadMigrations()
        .map((m) => m.version)
        .filter((v) => v > 14),
    ]);

    await expectEverySpanOnce();
  }, 240_000);

  it('leaves one view on spans into metrics_1m, no constraint, and nothing to do on the next run', async () => {
    const views = await rows<{ name: string }>(
      ch,
      `SELECT name FROM system.tables WHERE database = '${database}' AND engine = 'MaterializedView' ORDER BY name`,
    );
    expect(views.map((v) => v.name)).toEqual(['metrics_1h_mv', 'metrics_1m_mv', 'span_metrics_1m_mv', 'trace_index_mv']);
    const ddl = await rows<{ q: string }>(ch, `SELECT create_table_query AS q FROM system.tables WHERE database = '${database}' AND name = 'spans'`);
    expect(ddl[0]?.q).not.toContain('CONSTRAINT');
    // One rollup part per insert: the parts of metrics_1m an insert of spans adds.
    const parts = async (): Promise<number> =>
      Number((await rows<{ n: string }>(ch, `SELECT count() AS n FROM system.parts WHERE database = '${database}' AND table = 'metrics_1m' AND active`))[0]?.n);
    await ch.client.command({ query: `SYSTEM STOP MERGES ${database}.metrics_1m` });
    const partsBefore = await parts();
    await write(ch, T0_S + 2 * 3600, 500);
    expect((await parts()) - partsBefore).toBe(1);
    await ch.client.command({ query: `SYSTEM START MERGES ${database}.metrics_1m` });
    for (const r of await comparison(ch, 'metrics_1m')) sameSpans(r);
    // A retry of an insert acknowledged before the change (the writer did not see the answer) adds nothing: spans and the view's block are deduplicated.
    await insertSpans(ch, T0_S, 4_000, 1, 'w1');
    await expectEverySpanOnce();
    expect((await migrate(ch, config)).applied).toEqual([]);
  }, 120_000);
});
