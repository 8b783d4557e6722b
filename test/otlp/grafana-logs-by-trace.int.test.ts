import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { skipIndexGranules } from '../clickhouse/skip-index-granules.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { pluginSql } from './grafana-plugin-sql.js';

/**
 * Migration 0018: Grafana's "View logs" of a trace (the plugin's own SQL, on
 * otel_logs, by the 32-hex TraceId and no time range) reads the granules of
 * that trace through the bloom filter on otel_logs' TraceId expression, not
 * every log of the tenant, and finds exactly the trace's records.
 */

const N = 60_000;
/** Log records per trace, written one after the other. */
const PER_TRACE = 10;

/** 32 hex digits of a 128-bit trace id, as otel_logs writes it (each half as unsigned 64 bits). */
function hex128(high: bigint, low: bigint): string {
  const half = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');
  return half(high) + half(low);
}

describe("migration 0018: Grafana's logs of a trace through the TraceId bloom filter", () => {
  const database = uniqueDatabase('ssf_m0018');
  const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } });
  let ch: ClickHouse;

  const rows = async <T>(query: string): Promise<T[]> => (await ch.client.query({ query, format: 'JSONEachRow' })).json<T>();

  beforeAll(async () => {
    ch = await createClickHouse(config.clickhouse);
    await migrate(ch, config);
    // Every trace's records in a row; odd traces have 128-bit ids (a high half), even ones 64-bit ids (high 0).
    await ch.client.command({
      query: `INSERT INTO ${database}.logs (tenant, service, timestamp, severity, severity_number, body, trace_id, trace_id_high, span_id, attributes)
        SELECT 'default', concat('svc', toString(intDiv(number, ${PER_TRACE}) % 4)),
               now64(9) - toIntervalSecond(${N} - number), 'info', 9, concat('record ', toString(number)),
               toInt64(cityHash64(intDiv(number, ${PER_TRACE}), 1)),
               if(intDiv(number, ${PER_TRACE}) % 2 = 1, toInt64(cityHash64(intDiv(number, ${PER_TRACE}), 2)), 0),
               toInt64(number + 1), map()
        FROM numbers(${N})`,
    });
  }, 120_000);

  afterAll(async () => {
    await ch?.client.command({ query: `DROP DATABASE IF EXISTS ${database} SYNC` });
    await ch?.close();
  });

  for (const [what, row] of [
    ['a 128-bit trace id', 12_345],
    ['a 64-bit trace id (high half 0)', 23_456],
  ] as const) {
    it(`finds the records of ${what} reading a few granules`, async () => {
      const trace = Math.floor(row / PER_TRACE);
      const [ids] = await rows<{ low: string; high: string }>(
        `SELECT toString(trace_id) AS low, toString(trace_id_high) AS high FROM ${database}.logs WHERE body = 'record ${trace * PER_TRACE}'`,
      );
      const traceId = hex128(BigInt(ids?.high ?? '0'), BigInt(ids?.low ?? '0'));
      const sql = pluginSql('logsByTraceId', { database, traceId });

      const found = await rows<{ body: string; traceID: string }>(sql);
      expect(found.map((r) => r.body)).toEqual(Array.from({ length: PER_TRACE }, (_, i) => `record ${trace * PER_TRACE + i}`));
      expect(new Set(found.map((r) => r.traceID))).toEqual(new Set([traceId]));

      const plan = await (await ch.client.query({ query: `EXPLAIN indexes = 1 ${sql}`, format: 'TabSeparatedRaw' })).text();
      const granules = skipIndexGranules(plan, 'idx_trace_id_hex');
      if (!granules) throw new Error(`idx_trace_id_hex is not in the plan:\n${plan}`);
      // 60 granules of 1,024 rows; the trace's 10 records sit in one or two, false positives at 0.001 add almost none.
      expect(granules.total).toBeGreaterThan(50);
      expect(granules.selected).toBeLessThanOrEqual(3);
    });
  }
});
