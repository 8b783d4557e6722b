/**
 * deploy/grafana/: the provisioned dashboard as the Grafana ClickHouse data
 * source (grafana/clickhouse-datasource) reads it, and its SQL on our views.
 *
 * The plugin reads a saved query by `editorType`, `format` and `queryType`.
 * A target without a v4 `pluginVersion` is migrated as a v3 query
 * (src/data/migration.ts, migrateCHQuery): its queryType is then taken from
 * `format` (src/data/utils.ts, mapGrafanaFormatToQueryType: 0 timeSeries,
 * 1 table, 2 logs, anything else table), and the backend shapes the frames
 * by `format` (grafana/sqlds: 0 time series, 1 table, 2 logs). A target
 * without `format` was read as a table whose frames the backend built as a
 * time series: the logs panel got no log lines.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

const GRAFANA = join(import.meta.dirname, '..', '..', 'deploy', 'grafana');

interface Target {
  refId: string;
  editorType?: string;
  format?: number;
  queryType?: string;
  rawSql: string;
}
interface Panel {
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  targets: Target[];
}
interface Dashboard {
  templating: { list: Array<{ name: string; query: string; datasource: { uid: string } }> };
  panels: Panel[];
}

const dashboard = JSON.parse(readFileSync(join(GRAFANA, 'dashboards', 'ssf-otel-overview.json'), 'utf8')) as Dashboard;
const datasources = readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'ssf-clickhouse.yaml'), 'utf8');

/** The plugin's format of each panel type, and the queryType it maps that format to. */
const FORMAT_OF_PANEL: Record<string, number> = { timeseries: 0, table: 1, logs: 2 };
const QUERY_TYPE_OF_FORMAT: Record<number, string> = { 0: 'timeSeries', 1: 'table', 2: 'logs' };

/** Grafana's `${service}`, the dashboard's variable (written without a template literal). */
const GRAFANA_SERVICE_VARIABLE = ['$', '{service}'].join('');

let aio: AllInOne;
const TRACE = '0af7651916cd43dd8448eb211c80319c';

beforeAll(async () => {
  aio = await startAllInOne('grafana_dashboard', {}, 10);
  const now = BigInt(Date.now()) * 1_000_000n;
  const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] };
  const post = (path: string, body: unknown): Promise<Response> =>
    fetch(`${aio.where['otlp_http'] as string}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const spans = [
    { traceId: TRACE, spanId: 'b7ad6b7169203331', name: 'POST /pay', startTimeUnixNano: String(now - 9_000_000n), endTimeUnixNano: String(now) },
    {
      traceId: TRACE,
      spanId: 'b7ad6b7169203332',
      parentSpanId: 'b7ad6b7169203331',
      name: 'charge',
      startTimeUnixNano: String(now - 8_000_000n),
      endTimeUnixNano: String(now - 1_000_000n),
    },
  ];
  expect((await post('/v1/traces', { resourceSpans: [{ resource, scopeSpans: [{ spans }] }] })).status).toBe(200);
  const logRecords = [{ timeUnixNano: String(now), severityNumber: 17, body: { stringValue: 'card declined' }, traceId: TRACE, spanId: 'b7ad6b7169203332' }];
  expect((await post('/v1/logs', { resourceLogs: [{ resource, scopeLogs: [{ logRecords }] }] })).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await aio?.close();
});

/** A dashboard query as the plugin's backend sends it: the macros expanded (pkg/macros: $__timeFilter(c) is c between toDateTime(<unix s>)s), the variable set, our database. */
function expand(sql: string): string {
  const from = Math.floor(Date.now() / 1000) - 3600;
  const to = Math.floor(Date.now() / 1000) + 60;
  return sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_, column: string) => `${column} >= toDateTime(${from}) AND ${column} <= toDateTime(${to})`)
    .replaceAll(GRAFANA_SERVICE_VARIABLE, 'checkout')
    .replace(/\bssf\./g, `${aio.ch.database}.`);
}

async function rows(sql: string): Promise<Array<Record<string, unknown>>> {
  const r = await aio.ch.client.query({ query: expand(sql), format: 'JSONEachRow' });
  return r.json<Record<string, unknown>>();
}

describe('deploy/grafana: the dashboard, as the ClickHouse data source reads it', () => {
  it('every target is raw SQL with the format and query type of its panel', () => {
    for (const panel of dashboard.panels) {
      const format = FORMAT_OF_PANEL[panel.type];
      expect(format, `${panel.title}: a panel type the dashboard test knows`).toBeDefined();
      for (const t of panel.targets) {
        expect({ editorType: t.editorType, format: t.format, queryType: t.queryType }, panel.title).toEqual({
          editorType: 'sql',
          format,
          queryType: QUERY_TYPE_OF_FORMAT[format as number],
        });
      }
    }
  });

  it('uses the provisioned data source', () => {
    const uid = /uid:\s*(\S+)/.exec(datasources)?.[1];
    expect(uid).toBe('ssf-clickhouse');
    for (const p of dashboard.panels) expect(p.datasource, p.title).toEqual({ type: 'grafana-clickhouse-datasource', uid });
    for (const v of dashboard.templating.list) expect(v.datasource.uid, v.name).toBe(uid);
  });

  it("runs every panel's SQL and the service variable's on the OTel views, each finding what was sent", async () => {
    expect(await rows(dashboard.templating.list[0]?.query ?? '')).toEqual([{ ServiceName: 'checkout' }]);
    const answers = new Map<string, Array<Record<string, unknown>>>();
    for (const p of dashboard.panels) answers.set(p.title, await rows(p.targets[0]?.rawSql ?? ''));
    expect(answers.get('Spans per minute')?.reduce((n, r) => n + Number(r['spans']), 0)).toBe(2);
    expect(answers.get('Slowest traces')?.map((r) => [r['TraceId'], r['SpanName']])).toEqual([[TRACE, 'POST /pay']]);
    expect(answers.get('Logs')?.map((r) => [r['body'], r['level'], r['traceID']])).toEqual([['card declined', 'ERROR', TRACE]]);
    expect(answers.get('p99 duration (ms)')?.length).toBeGreaterThan(0);
  });
});
