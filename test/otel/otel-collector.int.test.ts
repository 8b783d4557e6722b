import { createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net/free-port.js';
import { buildOtelCollector, clickhouseConfig, forwardingConfig, startOtelCollector } from '../setup/otel-collector.js';
import type { OtelCollector } from '../setup/otel-collector.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';

// The real OpenTelemetry Collector (test/fixtures/otel-collector) in the two
// roles the project needs: (b) the side-by-side baseline writing into
// ClickHouse through the contrib exporter, whose tables are recorded in
// docs/reference/otel-exporter-tables.sql; (a) a forwarder exporting OTLP
// over gRPC and HTTP (checked here against a stub; the gateway's own test
// is elsewhere). Payloads are OTLP/JSON posted with fetch: no SDK needed.

const root = join(import.meta.dirname, '..', '..');
const DDL_FILE = join(root, 'docs', 'reference', 'otel-exporter-tables.sql');
const EXPORTER_MODULE = 'github.com/open-telemetry/opentelemetry-collector-contrib/exporter/clickhouseexporter v0.165.1';
// Stands for the test's random database in the recorded DDL.
const DDL_DATABASE = 'otel';

const running: OtelCollector[] = [];
const log = (line: string): void => {
  process.stderr.write(`[otelcol] ${line}\n`);
};

async function start(config: string): Promise<OtelCollector> {
  const collector = await startOtelCollector({ config, log });
  running.push(collector);
  return collector;
}

beforeAll(async () => {
  // A cold build compiles gRPC, the collector and clickhouse-go: minutes on 2 CPUs.
  await buildOtelCollector({ log });
}, 1_200_000);

afterAll(async () => {
  await Promise.allSettled(running.map((c) => c.stop()));
});

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
const service = 'otelcol-int-test';
const resource = { attributes: [{ key: 'service.name', value: { stringValue: service } }] };
const scope = { name: 'otel-collector.int.test', version: '1.0.0' };

interface TestSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  start: bigint;
  durationNs: bigint;
}

function tracesPayload(spans: TestSpan[]): unknown {
  return {
    resourceSpans: [
      {
        resource,
        scopeSpans: [
          {
            scope,
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId,
              name: s.name,
              kind: 2,
              startTimeUnixNano: String(s.start),
              endTimeUnixNano: String(s.start + s.durationNs),
              attributes: [{ key: 'test.span', value: { stringValue: s.name } }],
              status: { code: 1 },
            })),
          },
        ],
      },
    ],
  };
}

async function postOtlp(port: number, signal: 'traces' | 'logs' | 'metrics', body: unknown): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  await response.arrayBuffer();
}

describe('OpenTelemetry Collector -> contrib ClickHouse exporter (bench baseline)', () => {
  let client: ClickHouseClient;
  let database: string;
  let httpPort: number;
  let collector: OtelCollector;

  beforeAll(async () => {
    database = uniqueDatabase('otelcol');
    client = createClient({ url: clickhouseUrl() });
    httpPort = await freePort();
    const grpcPort = await freePort();
    // The exporter over ClickHouse's HTTP interface: the chDB endpoint of
    // the integration run serves HTTP only (deploy/local/clickhouse-server.ts).
    collector = await start(clickhouseConfig({ grpcPort, httpPort, endpoint: clickhouseUrl(), database }));
  });

  afterAll(async () => {
    // Stopped first: its exporter should not see the database vanish.
    await collector.stop();
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client.close();
  });

  it('creates its tables at start and writes exactly the spans and logs sent', async () => {
    const traceId = hex(16);
    const rootId = hex(8);
    const t0 = nowNs();
    const spans: TestSpan[] = [
      { traceId, spanId: rootId, parentSpanId: '', name: 'root', start: t0, durationNs: 5_000_000n },
      { traceId, spanId: hex(8), parentSpanId: rootId, name: 'child-1', start: t0 + 1_000n, durationNs: 1_000_000n },
      { traceId, spanId: hex(8), parentSpanId: rootId, name: 'child-2', start: t0 + 2_000n, durationNs: 2_000_000n },
    ];
    await postOtlp(httpPort, 'traces', tracesPayload(spans));
    const logs = [
      { body: 'first log line', severityText: 'INFO', severityNumber: 9, spanId: rootId },
      { body: 'second log line', severityText: 'ERROR', severityNumber: 17, spanId: spans[1]?.spanId ?? '' },
    ];
    await postOtlp(httpPort, 'logs', {
      resourceLogs: [
        {
          resource,
          scopeLogs: [
            {
              scope,
              logRecords: logs.map((l, i) => ({
                timeUnixNano: String(t0 + BigInt(i)),
                observedTimeUnixNano: String(t0 + BigInt(i)),
                severityNumber: l.severityNumber,
                severityText: l.severityText,
                body: { stringValue: l.body },
                attributes: [{ key: 'i', value: { intValue: String(i) } }],
                traceId,
                spanId: l.spanId,
              })),
            },
          ],
        },
      ],
    });

    const tracesSql = `SELECT SpanName, SpanId, ParentSpanId, ServiceName, toString(Duration) AS Duration, SpanAttributes['test.span'] AS attr, StatusCode
      FROM ${database}.otel_traces WHERE TraceId = {traceId:String} ORDER BY Timestamp`;
    const logsSql = `SELECT Body, SeverityText, SeverityNumber, SpanId, ServiceName, LogAttributes['i'] AS i
      FROM ${database}.otel_logs WHERE TraceId = {traceId:String} ORDER BY Timestamp`;
    const rows = async (query: string): Promise<Array<Record<string, unknown>>> =>
      (await client.query({ query, query_params: { traceId }, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const [t, l] = await Promise.all([rows(tracesSql), rows(logsSql)]);
      if (t.length >= spans.length && l.length >= logs.length) break;
      await sleep(200);
    }
    // Well past the batch timeout: a duplicate would have landed by now.
    await sleep(1_000);

    expect(await rows(tracesSql)).toEqual(
      spans.map((s) => ({
        SpanName: s.name,
        SpanId: s.spanId,
        ParentSpanId: s.parentSpanId,
        ServiceName: service,
        Duration: String(s.durationNs),
        attr: s.name,
        StatusCode: 'Ok',
      })),
    );
    expect(await rows(logsSql)).toEqual(
      logs.map((l, i) => ({
        Body: l.body,
        SeverityText: l.severityText,
        SeverityNumber: l.severityNumber,
        SpanId: l.spanId,
        ServiceName: service,
        i: String(i),
      })),
    );
  });

  it('writes metrics into its per-type tables', async () => {
    const name = `otelcol_int_${hex(4)}`;
    const t = String(nowNs());
    const attributes = [{ key: 'k', value: { stringValue: 'v' } }];
    await postOtlp(httpPort, 'metrics', {
      resourceMetrics: [
        {
          resource,
          scopeMetrics: [
            {
              scope,
              metrics: [
                { name: `${name}_sum`, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes, timeUnixNano: t, asInt: '7' }] } },
                { name: `${name}_gauge`, gauge: { dataPoints: [{ attributes, timeUnixNano: t, asDouble: 1.5 }] } },
                {
                  name: `${name}_histogram`,
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [{ attributes, timeUnixNano: t, count: '3', sum: 6, bucketCounts: ['1', '2'], explicitBounds: [1] }],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const count = async (table: string, suffix: string): Promise<number> => {
      const result = await client.query({
        query: `SELECT count() AS n FROM ${database}.${table} WHERE MetricName = {name:String}`,
        query_params: { name: `${name}_${suffix}` },
        format: 'JSONEachRow',
      });
      const [row] = await result.json<{ n: string }>();
      return Number(row?.n ?? 0);
    };
    const counts = async (): Promise<number[]> =>
      Promise.all([count('otel_metrics_sum', 'sum'), count('otel_metrics_gauge', 'gauge'), count('otel_metrics_histogram', 'histogram')]);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await counts()).some((n) => n === 0)) await sleep(200);
    await sleep(1_000);
    expect(await counts()).toEqual([1, 1, 1]);
  });

  it('creates the tables recorded in docs/reference/otel-exporter-tables.sql', async () => {
    const tables = await (
      await client.query({
        query: 'SELECT name FROM system.tables WHERE database = {database:String} ORDER BY name',
        query_params: { database },
        format: 'JSONEachRow',
      })
    ).json<{ name: string }>();
    const statements: string[] = [];
    for (const { name } of tables) {
      const [row] = await (await client.query({ query: `SHOW CREATE TABLE ${database}.${name}`, format: 'JSONEachRow' })).json<{ statement: string }>();
      statements.push(`${(row?.statement ?? '').split(`${database}.`).join(`${DDL_DATABASE}.`)};\n`);
    }
    const [version] = await (await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json<{ v: string }>();
    const header = [
      `-- Tables created by the OpenTelemetry Collector's ClickHouse exporter`,
      `-- (${EXPORTER_MODULE}, collector core v0.165.0,`,
      `-- default settings: Map attributes, json: false, MergeTree, no TTL, create_schema: true),`,
      `-- as SHOW CREATE TABLE prints them on ClickHouse ${version?.v ?? '?'} (chDB). The exporter`,
      `-- adapts to the server: from ClickHouse 26.2 the logs table gets text() indexes instead of`,
      `-- bloom filters. Database \`${DDL_DATABASE}\` stands for the exporter's \`database\` setting.`,
      '-- Its Nested columns (Events, Links, Exemplars, ValueAtQuantiles) are stored flattened, as',
      '-- Array columns named `Events.Name` etc. (flatten_nested = 1, the default). Not here: the',
      '-- `json: true` variants of otel_traces / otel_logs, and otel_profiles (profiles need the',
      '-- collector feature gate service.profilesSupport).',
      `-- Written by test/otel/otel-collector.int.test.ts (OTEL_EXPORTER_DDL_WRITE=1 to rewrite).`,
      '',
    ].join('\n');
    const body = statements.join('\n');
    if (process.env.OTEL_EXPORTER_DDL_WRITE === '1') await writeFile(DDL_FILE, `${header}\n${body}`);
    // Only the statements are compared: a new server patch release that
    // leaves the DDL alone must not fail this.
    const recorded = (await readFile(DDL_FILE, 'utf8'))
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n')
      .trim();
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['otel_logs', 'otel_traces', 'otel_metrics_sum', 'otel_metrics_gauge', 'otel_metrics_histogram']),
    );
    expect(body.trim(), `the exporter's tables changed: rerun with OTEL_EXPORTER_DDL_WRITE=1 and review ${DDL_FILE}`).toBe(recorded);
  });
});

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

describe('OpenTelemetry Collector forwarding OTLP (gRPC and HTTP exporters)', () => {
  let stub: Server;
  const requests: Recorded[] = [];

  beforeAll(async () => {
    // Stands in for the gateway: records what the otlphttp exporter posts
    // and answers an empty (valid) protobuf Export*ServiceResponse.
    stub = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    stub.listen(0, '127.0.0.1');
    await once(stub, 'listening');
  });

  afterAll(async () => {
    stub.close();
    await once(stub, 'close');
  });

  it('client -> collector A (otlp_grpc exporter) -> collector B (otlp_http exporter) -> stub POST /v1/traces', async () => {
    const address = stub.address();
    const stubPort = typeof address === 'object' && address !== null ? address.port : 0;
    const bGrpc = await freePort();
    const aHttp = await freePort();
    await start(forwardingConfig({ grpcPort: bGrpc, protocol: 'http', endpoint: `http://127.0.0.1:${stubPort}`, batchTimeout: '100ms' }));
    await start(forwardingConfig({ httpPort: aHttp, protocol: 'grpc', endpoint: `127.0.0.1:${bGrpc}`, batchTimeout: '100ms' }));

    const traceId = hex(16);
    const spanName = `forwarded-${hex(4)}`;
    await postOtlp(aHttp, 'traces', tracesPayload([{ traceId, spanId: hex(8), parentSpanId: '', name: spanName, start: nowNs(), durationNs: 1_000n }]));

    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !requests.some((r) => r.url === '/v1/traces')) await sleep(100);
    const request = requests.find((r) => r.url === '/v1/traces');
    expect(request?.method).toBe('POST');
    expect(request?.headers['content-type']).toBe('application/x-protobuf');
    const raw = request?.body ?? Buffer.alloc(0);
    const body = request?.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
    // The protobuf carries the trace id as 16 raw bytes and the name as UTF-8.
    expect(body.includes(Buffer.from(traceId, 'hex'))).toBe(true);
    expect(body.includes(Buffer.from(spanName))).toBe(true);
  });
});
