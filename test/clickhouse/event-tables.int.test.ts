import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../src/codec/index.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { appendRows, emptyRows } from '../../src/clickhouse/event-rows.js';
import { insertRows } from '../../src/clickhouse/event-writer.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { spanEvent } from '../../src/codec/span-event.js';

// Recent enough to be inside the tables' retention (TTL drops older rows at insert).
const T0 = BigInt(Math.floor(Date.now() / 60_000) * 60_000) * 1_000_000n;

function span(over: Partial<SpanEvent>): SpanEvent {
  return spanEvent({ service: 'svc', tenant: 'acme', isTrace: false, ...over });
}

const events: SpanEvent[] = [
  span({
    traceId: 9223372036854775807n,
    id: 9223372036854775807n,
    startTimestamp: T0,
    endTimestamp: T0 + 5_000_000n,
    name: 'GET /pay',
    service: 'web',
    indicator: true,
    tags: { route: '/pay' },
    isTrace: true,
  }),
  span({
    traceId: 9223372036854775807n,
    id: -5n,
    parentId: 9223372036854775807n,
    startTimestamp: T0 + 1_000_000n,
    endTimestamp: T0 + 4_000_123n,
    name: 'charge',
    service: 'payments',
    error: true,
    isTrace: true,
    logs: [{ timestamp: T0 + 2_000_000n, severity: 'error', severityNumber: 17, body: 'card declined: insufficient funds', attributes: { code: '51' } }],
  }),
  span({
    metrics: [
      { type: 'counter', name: 'hits', value: 3, timestamp: T0, message: '', status: 'ok', sampleRate: 0.5, tags: { code: '200' }, unit: '', scope: 'default' },
      { type: 'gauge', name: 'depth', value: 7, timestamp: T0 + 1n, message: '', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'default' },
      { type: 'set', name: 'users', value: 0, timestamp: T0 + 2n, message: 'alice', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'global' },
    ],
  }),
];

async function roundTrip(ch: ClickHouse): Promise<void> {
  const cfg = loadConfig({ env: {} });
  const first = await migrate(ch, cfg);
  expect(first.applied.length).toBeGreaterThanOrEqual(4);
  expect((await migrate(ch, cfg)).applied).toEqual([]);

  const rows = emptyRows();
  for (const e of events) appendRows(rows, { ...e, receivedTimestamp: T0 });
  await insertRows(ch, rows, 'test-batch-1');
  // The same batch retried with the same token: deduplicated, rollups included.
  await insertRows(ch, rows, 'test-batch-1');
  // The insert's settings held for the insert only (the embedded connection would keep SETs for the session).
  const [left] = await (
    await ch.client.query({
      query: "SELECT getSetting('insert_deduplication_token') AS token, toString(getSetting('min_insert_block_size_rows')) AS min",
      format: 'JSONEachRow',
    })
  ).json<{ token: string; min: string }>();
  expect(left).toEqual({ token: '', min: '1048449' });

  const db = ch.database;
  const q = async <T>(query: string): Promise<T[]> => (await ch.client.query({ query, format: 'JSONEachRow' })).json<T>();
  const spans = await q<{
    trace_id: string;
    span_id: string;
    parent_id: string;
    start: string;
    duration_ns: string;
    error: boolean;
    tags: Record<string, string>;
  }>(`SELECT trace_id, span_id, parent_id, toString(toUnixTimestamp64Nano(start)) AS start, duration_ns, error, tags FROM ${db}.spans ORDER BY start`);
  expect(spans).toEqual([
    {
      trace_id: '9223372036854775807',
      span_id: '9223372036854775807',
      parent_id: '0',
      start: T0.toString(),
      duration_ns: '5000000',
      error: false,
      tags: { route: '/pay' },
    },
    {
      trace_id: '9223372036854775807',
      span_id: '-5',
      parent_id: '9223372036854775807',
      start: (T0 + 1_000_000n).toString(),
      duration_ns: '3000123',
      error: true,
      tags: {},
    },
  ]);
  const traces = await q<{ spans: string; errors: string; services: string[] }>(
    `SELECT sum(spans) AS spans, sum(errors) AS errors, arraySort(groupUniqArrayArray(services)) AS services FROM ${db}.trace_index WHERE trace_id = 9223372036854775807`,
  );
  expect(traces).toEqual([{ spans: '2', errors: '1', services: ['payments', 'web'] }]);
  const logs = await q<{ body: string; trace_id: string; span_id: string; severity: string }>(
    `SELECT body, trace_id, span_id, severity FROM ${db}.logs WHERE hasToken(body, 'declined')`,
  );
  expect(logs).toEqual([{ body: 'card declined: insufficient funds', trace_id: '9223372036854775807', span_id: '-5', severity: 'error' }]);
  const counter = await q<{ total: number }>(`SELECT sum(sum) AS total FROM ${db}.metrics_1m WHERE name = 'hits'`);
  expect(counter).toEqual([{ total: 6 }]);
  const set = await q<{ n: string }>(`SELECT uniqHLL12Merge(uniq) AS n FROM ${db}.metrics_1h WHERE name = 'users'`);
  expect(set).toEqual([{ n: '1' }]);
  const spanMetrics = await q<{ name: string; n: number }>(
    `SELECT name, sum(count) AS n FROM ${db}.metrics_1m WHERE name LIKE 'ssf.%' GROUP BY name ORDER BY name`,
  );
  expect(spanMetrics).toEqual([
    { name: 'ssf.indicator.duration', n: 1 },
    { name: 'ssf.objective.duration', n: 1 },
    { name: 'ssf.service.duration', n: 2 },
    { name: 'ssf.span.duration', n: 2 },
  ]);

  // A change of retention in the configuration reaches the tables at the next migrate.
  const shorter = loadConfig({ env: { SSF_RETENTION_LOGS_DAYS: '7', SSF_RETENTION_ROLLUP1H_DAYS: '400' } });
  expect((await migrate(ch, shorter)).retentionChanged.sort()).toEqual(['logs', 'metrics_1h']);
  expect((await migrate(ch, shorter)).retentionChanged).toEqual([]);
  const ddl = await q<{ create_table_query: string }>(`SELECT create_table_query FROM system.tables WHERE database = '${db}' AND name = 'logs'`);
  expect(ddl[0]?.create_table_query).toContain('toIntervalDay(7)');
}

describe('the event tables, through the same code on both kinds of ClickHouse', () => {
  describe('a ClickHouse server over HTTP', () => {
    let ch: ClickHouse;
    beforeAll(async () => {
      const cfg = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: uniqueDatabase('ssf_http') } });
      ch = await createClickHouse(cfg.clickhouse);
    });
    afterAll(async () => ch.close());
    it('migrates, writes, deduplicates a retried insert, and reads back exactly', async () => {
      expect(ch.endpoint).toBe(clickhouseUrl());
      await roundTrip(ch);
    });
  });

  describe('the local engine (chDB over HTTP in a child process, as `ssf serve` runs it)', () => {
    let ch: ClickHouse;
    beforeAll(async () => {
      const dataPath = mkdtempSync(join(tmpdir(), 'ssf-chdb-'));
      const cfg = loadConfig({ env: { SSF_CLICKHOUSE_DATA_PATH: dataPath, SSF_CLICKHOUSE_DATABASE: uniqueDatabase('ssf_embedded') } });
      ch = await createClickHouse(cfg.clickhouse);
    });
    afterAll(async () => ch.close());
    it('migrates, writes, deduplicates a retried insert, and reads back exactly', async () => {
      expect(ch.endpoint).toContain('local engine');
      await roundTrip(ch);
    });
  });
});
