import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { COPY_SETTINGS, copyToken } from '../../src/clickhouse/migration-steps.js';
import { loadMigrations, migrate, probeBodyIndex, renderMigration } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { fingerprint, insertLogs, migrateAtOnce, rows } from './log-migration-rows.js';

/**
 * Migration 0020 keys the logs by (tenant, hour, service) by creating the
 * table anew and copying the old one's rows into it part by part, through a
 * staging table (src/clickhouse/migration-steps.ts, copyParts). Here on a
 * real server: a database at version 19 with three days of logs of two
 * tenants and an insert landing in the old table after the swap; a first
 * run of the step that copied every part but the last and stopped in it
 * (its copy staged and the part still in the old table, or the part dropped
 * and its copy not yet moved on), a pause; then two processes migrate at once while a third keeps
 * writing. Afterwards every row is there exactly once, the new key is in
 * place and a search over a window finds its marks by binary search.
 */

const DAY_S = 86_400;
const T0_S = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S - 3 * DAY_S;
const KEY = 'PRIMARY KEY (tenant, toStartOfHour(timestamp), service)';

/** Where the first run stopped, for one part of the old table (copyParts' steps). */
type StopPoint = 'copied, not dropped' | 'dropped, not moved';

describe.each<StopPoint>(['copied, not dropped', 'dropped, not moved'])(
  'migration 0020: logs keyed by (tenant, hour, service), a first run stopped %s',
  (stop) => {
    const database = uniqueDatabase('ssf_m0020');
    const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } });
    let ch: ClickHouse;
    let others: ClickHouse[] = [];
    let written = 0;
    const inserts: Array<[number, number, number, number]> = [];
    const write = async (fromS: number, hours: number, n: number, seed: number, table = 'logs'): Promise<void> => {
      await insertLogs(ch, fromS, hours, n, seed, table);
      inserts.push([fromS, hours, n, seed]);
      written += n;
    };

    beforeAll(async () => {
      ch = await createClickHouse(config.clickhouse);
      others = [await createClickHouse(config.clickhouse), await createClickHouse(config.clickhouse)];
      const before = await migrate(ch, config, () => {}, { until: 19 });
      expect(before.applied.at(-1)?.version).toBe(19);
      for (let day = 0; day < 3; day++) await write(T0_S + day * DAY_S, 20, 30_000, day);
      await write(T0_S + DAY_S + 3600, 2, 5_000, 50); // a second part in the second day's partition
    }, 120_000);

    afterAll(async () => {
      await ch?.client.command({ query: `DROP DATABASE IF EXISTS ${database} SYNC` });
      for (const c of [ch, ...others]) await c?.close();
    });

    it('copies every row once when run again, while two processes migrate and a third writes', async () => {
      const ddlBefore = await rows<{ q: string }>(ch, `SELECT create_table_query AS q FROM system.tables WHERE database = '${database}' AND name = 'logs'`);
      expect(ddlBefore[0]?.q).not.toContain(KEY);

      // The first run, as the step does it, up to the stop point in its last part.
      const m20 = loadMigrations().find((m) => m.version === 20);
      if (m20 === undefined) throw new Error('no migration 0020');
      const ctx = { database, cluster: '', retention: config.retention, bodyIndex: await probeBodyIndex(ch) };
      for (const statement of renderMigration(m20, ctx)) await ch.client.command({ query: statement });
      await ch.client.command({ query: `EXCHANGE TABLES ${database}.logs AND ${database}.logs_0020` });
      await ch.client.command({
        query: `ALTER TABLE ${database}.logs_0020 MODIFY SETTING max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1`,
      });
      // An insert that resolved its table before the swap lands in the old one: it is copied too.
      await write(T0_S + 2 * DAY_S + 7200, 1, 3_000, 60, 'logs_0020');
      // Every part but the last copied as copyParts does; the last stopped at the stop point.
      const parts = await rows<{ name: string; rows: string; partition_id: string }>(
        ch,
        `SELECT name, rows, partition_id FROM system.parts WHERE database = '${database}' AND table = 'logs_0020' AND active ORDER BY name`,
      );
      expect(parts.length).toBeGreaterThan(2);
      for (const [i, part] of parts.entries()) {
        await ch.client.command({ query: `ALTER TABLE ${database}.logs_0020_copy MODIFY COMMENT 'copying part ${part.name}'` });
        await ch.client.command({
          query: `INSERT INTO ${database}.logs_0020_copy SELECT * FROM ${database}.logs_0020 WHERE _part = {part:String}`,
          query_params: { part: part.name },
          clickhouse_settings: {
            ...COPY_SETTINGS,
            deduplicate_insert_select: 'enable_even_for_bad_queries',
            insert_deduplication_token: copyToken('logs_0020', part.name),
          },
        });
        const last = i === parts.length - 1;
        if (last && stop === 'copied, not dropped') break;
        await ch.client.command({ query: `ALTER TABLE ${database}.logs_0020 DROP PART '${part.name}'` });
        if (last) break;
        await ch.client.command({ query: `ALTER TABLE ${database}.logs_0020_copy MOVE PARTITION ID '${part.partition_id}' TO TABLE ${database}.logs` });
      }
      const staged = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.logs_0020_copy`);
      expect(Number(staged[0]?.n)).toBe(Number(parts.at(-1)?.rows));
      const left = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.logs_0020`);
      expect(Number(left[0]?.n)).toBe(stop === 'copied, not dropped' ? Number(parts.at(-1)?.rows) : 0);
      // A pause past the old parts' lifetime (ClickHouse forgets a dropped part's blocks when it removes it).
      await ch.client.command({ query: `ALTER TABLE ${database}.logs_0020_copy MODIFY SETTING old_parts_lifetime = 1` });
      await new Promise((r) => setTimeout(r, 3_000));

      const writer = (async () => {
        for (let i = 0; i < 6; i++) await write(T0_S + 3 * DAY_S + i * 3600, 1, 2_000, 100 + i);
      })();
      const { applied, log } = await migrateAtOnce(others, config);
      await writer;

      const after19 = loadMigrations()
        .map((m) => m.version)
        .filter((v) => v > 19);
      expect(applied).toEqual([[], after19]);
      // The swap was done by the first run: the step finds it and copies what is left.
      expect(log.some((l) => /logs: swapped in/.test(l))).toBe(false);
      expect(log.some((l) => /logs: copied \d+ part\(s\) into the new table/.test(l))).toBe(true);

      const counts = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.logs`);
      expect(Number(counts[0]?.n)).toBe(written);
    }, 240_000);

    it('leaves the new key, the same rows and indexes, and nothing else behind', async () => {
      const tables = await rows<{ name: string; q: string }>(ch, `SELECT name, create_table_query AS q FROM system.tables WHERE database = '${database}'`);
      const names = tables.map((t) => t.name);
      expect(names).not.toContain('schema_migrations_lock');
      expect(names.filter((n) => n.includes('_0020'))).toEqual([]);
      const ddl = tables.find((t) => t.name === 'logs')?.q ?? '';
      for (const s of [
        KEY,
        'ORDER BY (tenant, toStartOfHour(timestamp), service, timestamp)',
        'index_granularity = 1024',
        'INDEX idx_body_folded',
        'INDEX idx_timestamp',
        'row_hash',
      ]) {
        expect(ddl).toContain(s);
      }

      // The same rows (row_hash recomputed alike) as a reference table written by the same inserts.
      await ch.client.command({ query: `CREATE TABLE ${database}.logs_reference AS ${database}.logs ENGINE = MergeTree PRIMARY KEY tuple() ORDER BY tuple()` });
      for (const [fromS, hours, n, seed] of inserts) await insertLogs(ch, fromS, hours, n, seed, 'logs_reference');
      expect(await fingerprint(ch)).toEqual(await fingerprint(ch, 'logs_reference'));
      const scanned = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.logs WHERE body LIKE '% quokka%' SETTINGS use_skip_indexes = 0`);
      const found = (await fingerprint(ch)) as Array<{ quokkas: string }>;
      expect(found.reduce((a, r) => a + Number(r.quokkas), 0)).toBe(Number(scanned[0]?.n));
      expect(Number(scanned[0]?.n)).toBeGreaterThan(10);

      // A tenant and a window, no service: the primary key finds the marks by binary search.
      const plan = await rows<{ explain: string }>(
        ch,
        `EXPLAIN indexes = 1 SELECT body FROM ${database}.logs WHERE tenant = 'default'
         AND timestamp >= toDateTime64(${T0_S + DAY_S + 1800}, 9, 'UTC') AND timestamp < toDateTime64(${T0_S + DAY_S + 7200}, 9, 'UTC')`,
      );
      const text = plan.map((p) => p.explain).join('\n');
      expect(text).toMatch(/PrimaryKey[\s\S]*Search Algorithm: binary search/);
      // The same through otel_logs (Grafana's range on Timestamp): its time reaches the key too.
      const viewPlan = await rows<{ explain: string }>(
        ch,
        `EXPLAIN indexes = 1 SELECT Body FROM ${database}.otel_logs
         WHERE Timestamp >= toDateTime64(${T0_S + DAY_S + 1800}, 9, 'UTC') AND Timestamp < toDateTime64(${T0_S + DAY_S + 7200}, 9, 'UTC')`,
      );
      const viewText = viewPlan.map((p) => p.explain).join('\n');
      expect(viewText).toMatch(/PrimaryKey\s+Keys:\s+toStartOfHour\(timestamp\)/);
      const window = await rows<{ n: string; s: string }>(
        ch,
        `SELECT count() AS n, toString(sum(cityHash64(body))) AS s FROM ${database}.logs WHERE tenant = 'default'
         AND timestamp >= toDateTime64(${T0_S + DAY_S + 1800}, 9, 'UTC') AND timestamp < toDateTime64(${T0_S + DAY_S + 7200}, 9, 'UTC')`,
      );
      const windowByScan = await rows<{ n: string; s: string }>(
        ch,
        `SELECT count() AS n, toString(sum(cityHash64(body))) AS s FROM ${database}.logs_reference WHERE tenant = 'default'
         AND timestamp >= toDateTime64(${T0_S + DAY_S + 1800}, 9, 'UTC') AND timestamp < toDateTime64(${T0_S + DAY_S + 7200}, 9, 'UTC')`,
      );
      expect(window).toEqual(windowByScan);
      expect(Number(window[0]?.n)).toBeGreaterThan(1000);

      // Written after the migration lands in the new table; migrating again changes nothing.
      await write(T0_S + 3 * DAY_S + 10 * 3600, 1, 1_000, 999);
      const counts = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.logs`);
      expect(Number(counts[0]?.n)).toBe(written);
      const again = await migrate(ch, config);
      expect(again.applied).toEqual([]);
    }, 120_000);
  },
);
