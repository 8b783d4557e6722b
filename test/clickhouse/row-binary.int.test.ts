import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSpan, encodeSpan } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { EventRowBinary, ROW_BINARY_COLUMNS } from '../../src/clickhouse/event-row-binary.js';
import { appendRows, emptyRows } from '../../src/clickhouse/event-rows.js';
import { TABLES } from '../../src/clickhouse/event-batch.js';
import { createEventBatch, insertBatch, insertRows } from '../../src/clickhouse/event-writer.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { appendSpanBytes } from '../../src/clickhouse/span-row-binary.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { seededRandom } from '../setup/random.js';
import { spanEvent } from '../../src/codec/span-event.js';

// Inside the tables' retention: TTL drops older rows at insert.
const NOW = BigInt(Date.now()) * 1_000_000n;

function span(over: Partial<SpanEvent>): SpanEvent {
  return spanEvent({ service: 'svc', tenant: 'acme', receivedTimestamp: NOW, isTrace: false, ...over });
}

/** Valid events with the values that differ most between text and binary: ids at the Int64 ends, times 0 and near the epoch, -0, UTF-8, empty maps and strings. */
function events(): SpanEvent[] {
  const rand = seededRandom(3);
  const out: SpanEvent[] = [
    span({
      traceId: 9223372036854775807n,
      id: -9223372036854775808n,
      parentId: -1n,
      startTimestamp: NOW,
      endTimestamp: NOW + 1n,
      name: 'édge ✓',
      service: '',
      tenant: '',
      tags: {},
      isTrace: true,
    }),
    span(
      spanEvent({
        traceId: 1n,
        id: 2n,
        startTimestamp: NOW,
        endTimestamp: NOW + 9_000_000_000n,
        rootStartTimestamp: 1n,
        name: 'root 1ns after the epoch',
        error: true,
        indicator: true,
        tags: { 'a b': 'c\td"e', '': '' },
        isTrace: true,
      }),
    ),
    span({
      metrics: [
        { type: 'gauge', name: 'g', value: -0, timestamp: 0n, message: '', status: 'unknown', sampleRate: 0.1, tags: {}, unit: 'By', scope: 'global' },
        {
          type: 'set',
          name: 's',
          value: 0,
          timestamp: NOW,
          message: 'ünïcödé',
          status: 'critical',
          sampleRate: 1,
          tags: { k: 'v'.repeat(1000) },
          unit: '',
          scope: 'local',
        },
      ],
    }),
    span({
      logs: [
        { timestamp: 0n, severity: 'fatal', severityNumber: 24, body: '', attributes: { only: 'attributes' } },
        { timestamp: NOW, severity: 'unspecified', severityNumber: 0, body: 'x'.repeat(5000), attributes: {} },
      ],
    }),
  ];
  for (let i = 0; i < 2_000; i++) {
    const t = NOW - BigInt(Math.floor(rand() * 3.6e12));
    out.push(
      span({
        traceId: BigInt(1 + Math.floor(rand() * 1e15)),
        id: BigInt(1 + i),
        parentId: BigInt(Math.floor(rand() * 1e6)),
        startTimestamp: t,
        endTimestamp: t + BigInt(Math.floor(rand() * 1e9)),
        name: `op ${i % 17}`,
        service: `svc-${i % 5}`,
        error: rand() < 0.1,
        tags: { host: `h${i % 7}`, region: 'eu' },
        isTrace: true,
        metrics: [
          {
            type: 'histogram',
            name: 'lat',
            value: Math.fround(rand() * 1000),
            timestamp: rand() < 0.5 ? 0n : t,
            message: '',
            status: 'ok',
            sampleRate: 0.5,
            tags: { route: `/r${i % 3}` },
            unit: 'ms',
            scope: 'default',
          },
        ],
        logs: [{ timestamp: rand() < 0.5 ? 0n : t, severity: 'warn', severityNumber: 13, body: `line ${i} — ok`, attributes: { n: String(i) } }],
      }),
    );
  }
  return out;
}

/** Rows of `a` that `b` lacks (at most 3), and the row counts. */
async function difference(a: ClickHouse, b: ClickHouse, table: (typeof TABLES)[number]): Promise<unknown> {
  const cols = ROW_BINARY_COLUMNS[table];
  const q = async (query: string): Promise<unknown[]> => (await a.client.query({ query, format: 'JSONEachRow' })).json();
  return {
    counts: await q(`SELECT (SELECT count() FROM ${a.database}.${table}) AS a, (SELECT count() FROM ${b.database}.${table}) AS b`),
    missing: await q(`SELECT * FROM (SELECT ${cols} FROM ${a.database}.${table} EXCEPT SELECT ${cols} FROM ${b.database}.${table}) LIMIT 3`),
    extra: await q(`SELECT * FROM (SELECT ${cols} FROM ${b.database}.${table} EXCEPT SELECT ${cols} FROM ${a.database}.${table}) LIMIT 3`),
  };
}

describe('RowBinary inserts (server mode)', () => {
  let json: ClickHouse;
  let binary: ClickHouse;
  let fast: ClickHouse;

  beforeAll(async () => {
    const open = async (name: string): Promise<ClickHouse> => {
      const cfg = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: uniqueDatabase(name) } });
      const ch = await createClickHouse(cfg.clickhouse);
      await migrate(ch, cfg);
      return ch;
    };
    json = await open('rb_json');
    binary = await open('rb_binary');
    fast = await open('rb_fast');
  });
  afterAll(async () => {
    await json?.close();
    await binary?.close();
    await fast?.close();
  });

  it('store exactly what JSONEachRow stores, from events and straight from span bytes, rollups included; a retried insert is dropped', async () => {
    const all = events();
    const rows = emptyRows();
    for (const e of all) appendRows(rows, e, 'dflt');
    await insertRows(json, rows, 'same');

    const batch = createEventBatch(binary, 'dflt');
    expect(batch).toBeInstanceOf(EventRowBinary);
    for (const e of all) batch.append(e);
    await insertBatch(binary, batch, 'same');
    await insertBatch(binary, batch, 'same');

    const direct = new EventRowBinary('dflt');
    let taken = 0;
    for (const e of all) {
      const bytes = encodeSpan(e);
      if (appendSpanBytes(direct, bytes, () => NOW)) taken++;
      else {
        const v = decodeSpan(bytes);
        if (!v.ok) throw new Error('invalid test event');
        direct.append(v.span);
      }
    }
    expect(taken).toBeGreaterThan(2_000);
    await insertBatch(fast, direct, 'same');

    for (const table of TABLES) {
      const n = rows[table].length;
      expect(n).toBeGreaterThan(0);
      for (const other of [binary, fast]) {
        expect({ table, ...((await difference(json, other, table)) as object) }).toEqual({
          table,
          counts: [{ a: String(n), b: String(n) }],
          missing: [],
          extra: [],
        });
      }
    }
    const rollups = async (ch: ClickHouse): Promise<unknown> =>
      (
        await ch.client.query({
          query: `SELECT (SELECT sum(count) FROM ${ch.database}.metrics_1m) AS m1, (SELECT sum(spans) FROM ${ch.database}.trace_index) AS ti`,
          format: 'JSONEachRow',
        })
      ).json();
    expect(await rollups(binary)).toEqual(await rollups(json));
    expect(await rollups(fast)).toEqual(await rollups(json));
  });
});
