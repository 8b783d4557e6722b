import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { loadMigrations, migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';

/**
 * Migration 0006 puts the rollups in 256-row granules by swapping in new
 * tables (src/clickhouse/migration-steps.ts). Here on a real server: a
 * database at version 5 with three days of samples and spans, migrated by
 * two processes at once while a third keeps writing. Afterwards every
 * rollup row still equals what the raw tables say (nothing lost, nothing
 * doubled, the hourly rollup not fed twice by the moved minutes), the views
 * feed the new tables, and the new parts have the new granules.
 */

const DAY_S = 86_400;
const T0_S = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S - 3 * DAY_S; // three whole days back: several partitions

/** Samples over `hours` hours from `fromS`: 12 series (3 names x 4 hosts), counters, histograms with a sample rate, gauges. */
function insertSamples(ch: ClickHouse, fromS: number, hours: number, seed: number): Promise<unknown> {
  return ch.client.command({
    query: `INSERT INTO ${ch.database}.samples (tenant, name, type, timestamp, value, sample_rate, tags, service)
      SELECT 'default', ['req.count', 'req.time', 'queue.depth'][1 + number % 3],
             ['counter', 'histogram', 'gauge'][1 + number % 3],
             toDateTime64(${fromS} + intDiv(number * ${hours * 3600}, 20000), 9, 'UTC'),
             (cityHash64(number, ${seed}) % 10000) / 10, if(number % 3 = 1, 0.5, 1),
             map('host', concat('h', toString(number % 4))), 'api'
      FROM numbers(20000)`,
  });
}

function insertSpans(ch: ClickHouse, fromS: number, hours: number, seed: number): Promise<unknown> {
  return ch.client.command({
    query: `INSERT INTO ${ch.database}.spans (tenant, trace_id, span_id, parent_id, service, name, start, duration_ns, error, indicator, root_start, tags)
      SELECT 'default', toInt64(cityHash64(intDiv(number, 5), ${seed})), toInt64(cityHash64(number, ${seed}, 1)), 0,
             concat('svc', toString(number % 3)), concat('op', toString(number % 7)),
             toDateTime64(${fromS} + intDiv(number * ${hours * 3600}, 10000), 9, 'UTC'), toInt64(1000000 + cityHash64(number, ${seed}, 2) % 90000000),
             number % 50 = 0, number % 5 = 0, toDateTime64(${fromS} + intDiv(number * ${hours * 3600}, 10000), 9, 'UTC'), map()
      FROM numbers(10000)`,
  });
}

async function rows<T>(ch: ClickHouse, query: string): Promise<T[]> {
  return (await ch.client.query({ query, format: 'JSONEachRow' })).json<T>();
}

/**
 * Per (name, series, hour): count, sum, p99 and last, read from a rollup
 * table; the per-operation span metrics are left out (the raw reference does
 * not compute them; test/clickhouse/derived-signals checks them).
 */
function fromRollup(ch: ClickHouse, table: string): Promise<unknown[]> {
  return rows(
    ch,
    `SELECT name, tags_hash, toStartOfHour(bucket) AS hour, round(sum(count), 6) AS c, round(sum(sum), 3) AS s,
                          round(quantileDDMerge(0.01, 0.99)(quantiles), 6) AS p99, argMaxMerge(last) AS last
                     FROM ${ch.database}.${table}
                    WHERE name NOT IN ('ssf.span.duration', 'ssf.indicator.duration', 'ssf.objective.duration')
                    GROUP BY name, tags_hash, hour ORDER BY name, tags_hash, hour`,
  );
}

/** The same, computed from the raw samples and spans (the rollups' exact reference). */
function fromRaw(ch: ClickHouse): Promise<unknown[]> {
  return rows(
    ch,
    `SELECT name, tags_hash, hour, round(sum(w), 6) AS c, round(sum(v * w), 3) AS s,
                          round(quantileDDIf(0.01, 0.99)(v, is_histogram), 6) AS p99, argMax(v, ts) AS last
                     FROM (
                       SELECT name, cityHash64(mapSort(tags)) AS tags_hash, toStartOfHour(timestamp) AS hour,
                              1 / toFloat64(toString(sample_rate)) AS w, value AS v, type = 'histogram' AS is_histogram, timestamp AS ts
                         FROM ${ch.database}.samples
                       UNION ALL
                       SELECT 'ssf.service.duration', cityHash64(mapSort(map('service', toString(service), 'error', toString(error)))),
                              toStartOfHour(start), 1, duration_ns / 1e6, true, start
                         FROM ${ch.database}.spans
                     )
                    GROUP BY name, tags_hash, hour ORDER BY name, tags_hash, hour`,
  );
}

describe('migration 0006: rollups in 256-row granules', () => {
  const database = uniqueDatabase('ssf_m0006');
  const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } });
  let ch: ClickHouse;
  let others: ClickHouse[] = [];

  beforeAll(async () => {
    ch = await createClickHouse(config.clickhouse);
    others = [await createClickHouse(config.clickhouse), await createClickHouse(config.clickhouse)];
    const before = await migrate(ch, config, () => {}, { until: 5 });
    expect(before.applied.map((m) => m.version)).toEqual([1, 2, 3, 4, 5]);
    for (let day = 0; day < 3; day++) {
      await insertSamples(ch, T0_S + day * DAY_S, 20, day);
      await insertSpans(ch, T0_S + day * DAY_S, 20, day);
    }
  }, 120_000);

  afterAll(async () => {
    await ch?.client.command({ query: `DROP DATABASE IF EXISTS ${database} SYNC` });
    for (const c of [ch, ...others]) await c?.close();
  });

  it('keeps every rollup row while two processes migrate and a third writes', async () => {
    const ddlBefore = await rows<{ q: string }>(ch, `SELECT create_table_query AS q FROM system.tables WHERE database = '${database}' AND name = 'metrics_1m'`);
    expect(ddlBefore[0]?.q).not.toContain('index_granularity = 256');
    const sampleRollupBefore = await rows(ch, `SELECT count() AS n FROM ${database}.metrics_1m`);
    expect(Number((sampleRollupBefore[0] as { n: string }).n)).toBeGreaterThan(1000);

    // The writer: a day more of samples and spans, in pieces, during the migration.
    const writer = (async () => {
      for (let i = 0; i < 6; i++) {
        await insertSamples(ch, T0_S + 3 * DAY_S + i * 3600, 1, 100 + i);
        await insertSpans(ch, T0_S + 3 * DAY_S + i * 3600, 1, 100 + i);
      }
    })();
    const logs: string[][] = [[], []];
    const results = await Promise.all(others.map((c, i) => migrate(c, config, (l) => logs[i]?.push(l))));
    await writer;

    // One process applied 0006, the other found it done after waiting on the lock.
    // One process applies every migration after version 5 (0006 and whatever came later); the other finds nothing to do.
    const after5 = loadMigrations()
      .map((m) => m.version)
      .filter((v) => v > 5);
    expect(results.map((r) => r.applied.map((m) => m.version)).sort()).toEqual([[], after5]);
    const applier = results.findIndex((r) => r.applied.length > 0);
    expect(logs[applier]?.some((l) => /metrics_1m: swapped in/.test(l))).toBe(true);
    expect(logs[applier]?.some((l) => /metrics_1h: moved and rewrote \d+ partition/.test(l))).toBe(true);

    const raw = await fromRaw(ch);
    expect(raw.length).toBeGreaterThan(100);
    expect(await fromRollup(ch, 'metrics_1m')).toEqual(raw);
    expect(await fromRollup(ch, 'metrics_1h')).toEqual(raw);
  }, 180_000);

  it('leaves the new layout, the views feeding it and nothing else behind', async () => {
    const tables = await rows<{ name: string; q: string }>(
      ch,
      `SELECT name, create_table_query AS q FROM system.tables WHERE database = '${database}' ORDER BY name`,
    );
    const names = tables.map((t) => t.name);
    expect(names).not.toContain('schema_migrations_lock');
    expect(names.filter((n) => n.includes('_0006'))).toEqual([]);
    for (const t of ['metrics_1m', 'metrics_1h']) expect(tables.find((x) => x.name === t)?.q).toContain('index_granularity = 256');
    const ledger = await rows<{ version: number }>(ch, `SELECT version FROM ${database}.schema_migrations FINAL ORDER BY version`);
    expect(ledger.map((r) => Number(r.version))).toEqual(loadMigrations().map((m) => m.version));

    // The moved partitions were rewritten: every part's granules hold at most 256 rows.
    const parts = await rows<{ table: string; rows: string; marks: string }>(
      ch,
      `SELECT table, rows, marks FROM system.parts WHERE database = '${database}' AND table IN ('metrics_1m', 'metrics_1h') AND active`,
    );
    expect(parts.length).toBeGreaterThan(0);
    for (const p of parts) expect(Number(p.rows)).toBeLessThanOrEqual(256 * (Number(p.marks) - 1));

    // Written after the migration: both rollups get it through the views, once.
    await insertSamples(ch, T0_S + 3 * DAY_S + 10 * 3600, 1, 999);
    await insertSpans(ch, T0_S + 3 * DAY_S + 10 * 3600, 1, 999);
    const raw = await fromRaw(ch);
    expect(await fromRollup(ch, 'metrics_1m')).toEqual(raw);
    expect(await fromRollup(ch, 'metrics_1h')).toEqual(raw);

    // Migrating again changes nothing.
    const again = await migrate(ch, config);
    expect(again.applied).toEqual([]);
  }, 120_000);
});
