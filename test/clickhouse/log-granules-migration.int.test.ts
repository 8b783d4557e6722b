import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { loadMigrations, migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { fingerprint, insertLogs, migrateAtOnce, rows } from './log-migration-rows.js';

/**
 * Migration 0010 puts the logs in 1024-row granules and small compressed
 * blocks by swapping in a new table (src/clickhouse/migration-steps.ts), as
 * 0006 did for the rollups. Here on a real server: a database at version 8
 * with three days of logs, migrated by two processes at once while a third
 * keeps writing. Afterwards every row is there once, the text index answers
 * searches, and the parts have the new granules.
 */

const DAY_S = 86_400;
const T0_S = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S - 3 * DAY_S; // three whole days back: several partitions

describe('migration 0010: logs in 1024-row granules', () => {
  const database = uniqueDatabase('ssf_m0010');
  const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } });
  let ch: ClickHouse;
  let others: ClickHouse[] = [];
  let written = 0;
  /** Every insert, to write the same rows again into a reference table. */
  const inserts: Array<[number, number, number, number]> = [];
  const write = async (fromS: number, hours: number, n: number, seed: number): Promise<void> => {
    await insertLogs(ch, fromS, hours, n, seed);
    inserts.push([fromS, hours, n, seed]);
    written += n;
  };

  beforeAll(async () => {
    ch = await createClickHouse(config.clickhouse);
    others = [await createClickHouse(config.clickhouse), await createClickHouse(config.clickhouse)];
    const before = await migrate(ch, config, () => {}, { until: 8 });
    expect(before.applied.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (let day = 0; day < 3; day++) await write(T0_S + day * DAY_S, 20, 30_000, day);
  }, 120_000);

  afterAll(async () => {
    await ch?.client.command({ query: `DROP DATABASE IF EXISTS ${database} SYNC` });
    for (const c of [ch, ...others]) await c?.close();
  });

  it('keeps every log row while two processes migrate and a third writes', async () => {
    const ddlBefore = await rows<{ q: string }>(ch, `SELECT create_table_query AS q FROM system.tables WHERE database = '${database}' AND name = 'logs'`);
    expect(ddlBefore[0]?.q).not.toContain('index_granularity = 1024');

    const writer = (async () => {
      for (let i = 0; i < 6; i++) await write(T0_S + 3 * DAY_S + i * 3600, 1, 2_000, 100 + i);
    })();
    const { applied, log } = await migrateAtOnce(others, config);
    await writer;

    // One process applies every migration after version 8; the other finds nothing to do.
    const after8 = loadMigrations()
      .map((m) => m.version)
      .filter((v) => v > 8);
    expect(after8).toContain(10);
    expect(applied).toEqual([[], after8]);
    expect(log.some((l) => /logs: swapped in the table with index_granularity = 1024/.test(l))).toBe(true);
    expect(log.some((l) => /logs: moved and rewrote \d+ partition/.test(l))).toBe(true);

    const counts = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.logs`);
    expect(Number(counts[0]?.n)).toBe(written);
  }, 240_000);

  it('leaves the new layout, a working text index and nothing else behind', async () => {
    const tables = await rows<{ name: string; q: string }>(ch, `SELECT name, create_table_query AS q FROM system.tables WHERE database = '${database}'`);
    const names = tables.map((t) => t.name);
    expect(names).not.toContain('schema_migrations_lock');
    expect(names.filter((n) => n.includes('_0010'))).toEqual([]);
    const ddl = tables.find((t) => t.name === 'logs')?.q ?? '';
    for (const s of [
      'index_granularity = 1024',
      'min_compress_block_size = 8192',
      'max_compress_block_size = 65536',
      'INDEX idx_body body TYPE',
      'trace_id_high',
    ]) {
      expect(ddl).toContain(s);
    }
    // The moved partitions were rewritten: every part's granules hold at most 1024 rows.
    const parts = await rows<{ rows: string; marks: string }>(
      ch,
      `SELECT rows, marks FROM system.parts WHERE database = '${database}' AND table = 'logs' AND active`,
    );
    expect(parts.length).toBeGreaterThan(0);
    for (const p of parts) expect(Number(p.marks)).toBeGreaterThanOrEqual(Math.ceil(Number(p.rows) / 1024));

    // The same rows as a reference table written by the same inserts, and the
    // index finds what a scan finds; the OTel view reads the new table.
    await ch.client.command({ query: `CREATE TABLE ${database}.logs_reference AS ${database}.logs ENGINE = MergeTree PRIMARY KEY tuple() ORDER BY tuple()` });
    for (const [fromS, hours, n, seed] of inserts) await insertLogs(ch, fromS, hours, n, seed, 'logs_reference');
    expect(await fingerprint(ch)).toEqual(await fingerprint(ch, 'logs_reference'));
    const scanned = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.logs WHERE body LIKE '% quokka%' SETTINGS use_skip_indexes = 0`);
    const found = (await fingerprint(ch)) as Array<{ quokkas: string }>;
    expect(found.reduce((a, r) => a + Number(r.quokkas), 0)).toBe(Number(scanned[0]?.n));
    expect(Number(scanned[0]?.n)).toBeGreaterThan(10);
    const view = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.otel_logs`);
    expect(Number(view[0]?.n)).toBe(written);

    // Written after the migration lands in the new table; migrating again changes nothing.
    await write(T0_S + 3 * DAY_S + 10 * 3600, 1, 1_000, 999);
    const counts = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.logs`);
    expect(Number(counts[0]?.n)).toBe(written);
    const again = await migrate(ch, config);
    expect(again.applied).toEqual([]);
  }, 120_000);
});
