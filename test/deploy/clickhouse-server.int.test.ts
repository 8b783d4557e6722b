import { stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChdbHelper, startClickHouseServer, type ClickHouseServer } from '../../deploy/local/clickhouse-server.js';

const ROWS = 10_000;
const BASE_SECONDS = 1_767_225_600; // 2026-01-01T00:00:00Z

interface SpanRow {
  ts: string;
  service: string;
  name: string;
  attrs: Record<string, string>;
  duration_ns: number;
}

function row(i: number): SpanRow {
  return {
    // Unix seconds with 9 fractional digits: checks DateTime64(9) keeps nanoseconds.
    ts: `${BASE_SECONDS + i}.${String(i).padStart(9, '0')}`,
    service: `svc-${i % 7}`,
    name: `span-${i}`,
    attrs: { 'http.status': String(200 + (i % 5)), idx: String(i) },
    duration_ns: i * 1_000,
  };
}

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((settle) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      settle(true);
    });
    socket.once('error', () => settle(false));
  });
}

describe('startClickHouseServer (libchdb HTTP endpoint)', () => {
  let server: ClickHouseServer | undefined;
  let client: ClickHouseClient;

  beforeAll(async () => {
    server = await startClickHouseServer();
    // 26.x defaults to unquoted 64-bit integers in JSON: quote them so nanoseconds stay exact.
    client = createClient({
      url: server.url,
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      log: { level: ClickHouseLogLevel.OFF }, // the errors below are expected
    });
  });

  afterAll(async () => {
    await client.close();
    await server?.stop({ removeDataDir: true });
  });

  it('builds the helper once and reuses it', async () => {
    const first = await ensureChdbHelper();
    const before = (await stat(first)).mtimeMs;
    const [a, b] = await Promise.all([ensureChdbHelper(), ensureChdbHelper()]);
    expect(a).toBe(first);
    expect(b).toBe(first);
    expect((await stat(first)).mtimeMs).toBe(before);
  });

  it('stores and reads back DateTime64(9), Map and LowCardinality columns', async () => {
    await client.command({ query: 'CREATE DATABASE IF NOT EXISTS it_chs' });
    await client.command({
      query: `CREATE TABLE it_chs.spans (
        ts DateTime64(9, 'UTC'),
        service LowCardinality(String),
        name String,
        attrs Map(String, String),
        duration_ns UInt64
      ) ENGINE = MergeTree ORDER BY (service, ts)`,
    });
    await client.insert({
      table: 'it_chs.spans',
      values: Array.from({ length: ROWS }, (_, i) => row(i)),
      format: 'JSONEachRow',
    });

    const counts = await client.query({
      query: 'SELECT count() AS n, uniqExact(service) AS services, sum(duration_ns) AS total FROM it_chs.spans',
      format: 'JSONEachRow',
    });
    expect(await counts.json()).toEqual([{ n: String(ROWS), services: '7', total: String(((ROWS - 1) * ROWS * 1_000) / 2) }]);

    const picked = await client.query({
      query: `SELECT name, toString(ts) AS text, toUnixTimestamp64Nano(ts) AS ns, attrs['http.status'] AS status, service
              FROM it_chs.spans WHERE name IN {names:Array(String)} ORDER BY ns`,
      query_params: { names: ['span-0', 'span-1234', 'span-9999'] },
      format: 'JSONEachRow',
    });
    expect(await picked.json()).toEqual([
      { name: 'span-0', text: '2026-01-01 00:00:00.000000000', ns: '1767225600000000000', status: '200', service: 'svc-0' },
      { name: 'span-1234', text: '2026-01-01 00:20:34.000001234', ns: '1767226834000001234', status: '204', service: 'svc-2' },
      { name: 'span-9999', text: '2026-01-01 02:46:39.000009999', ns: '1767235599000009999', status: '204', service: 'svc-3' },
    ]);
  });

  it('refuses writes under readonly=1 with READONLY (164)', async () => {
    const attempt = client.insert({
      table: 'it_chs.spans',
      values: [row(ROWS)],
      format: 'JSONEachRow',
      clickhouse_settings: { readonly: '1' },
    });
    await expect(attempt).rejects.toMatchObject({ code: '164', type: 'READONLY' });
  });

  it('enforces max_result_rows with result_overflow_mode=throw', async () => {
    const attempt = client.query({
      query: 'SELECT name FROM it_chs.spans',
      format: 'JSONEachRow',
      clickhouse_settings: { max_result_rows: '100', result_overflow_mode: 'throw' },
    });
    await expect(attempt.then((result) => result.json())).rejects.toMatchObject({
      code: '396',
      type: 'TOO_MANY_ROWS_OR_BYTES',
    });
  });

  it('keeps MergeTree data across a stop and a restart on the same port and data dir', async () => {
    const first = server;
    if (first === undefined) throw new Error('server not started');
    await first.stop();
    expect(await portAcceptsConnections(first.port)).toBe(false);
    await expect(client.ping()).resolves.toMatchObject({ success: false });

    server = await startClickHouseServer({ port: first.port, dataDir: first.dataDir });
    expect(server.url).toBe(first.url);
    expect(server.pid).not.toBe(first.pid);
    // The same client: its pooled sockets died with the old process.
    const result = await client.query({ query: 'SELECT count() AS n FROM it_chs.spans', format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ n: String(ROWS) }]);
  });

  it('closes the port and ends the process on stop', async () => {
    const running = server;
    if (running === undefined) throw new Error('server not started');
    await running.stop();
    await running.stop(); // idempotent
    expect(await portAcceptsConnections(running.port)).toBe(false);
    await expect(running.exited).resolves.toMatchObject({ signal: 'SIGTERM' });
  });
});
