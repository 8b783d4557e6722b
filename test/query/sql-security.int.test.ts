import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import type { SpanEvent } from '../../src/codec/index.js';
import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createHttpServer } from '../../src/http/create-http-server.js';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import type { ClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { registerQueryApi } from '../../query/query-api.js';
import type { QueryMetrics } from '../../query/query-metrics.js';
import { DATETIME_PARAM_HINT, TOO_LONG_PARAM } from '../../query/query-errors.js';
import { PUBLIC_TABLES } from '../../query/query-runner.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { uniqueDatabase } from '../setup/services.js';
import { spanEvent } from '../../src/codec/span-event.js';

const NOW = BigInt(Date.now()) * 1_000_000n;

/** A trace span of `service` with one sample and one log line, all naming the tenant. */
function spanOf(tenant: string, i: number): SpanEvent {
  return spanEvent({
    traceId: BigInt(1000 + i),
    id: BigInt(i + 1),
    startTimestamp: NOW + BigInt(i) * 1_000n,
    endTimestamp: NOW + BigInt(i) * 1_000n + 3_000_000n,
    service: `svc-${tenant}`,
    name: 'GET /',
    tags: { owner: tenant },
    isTrace: true,
    metrics: [
      {
        type: 'counter',
        name: `hits.${tenant}`,
        value: 1,
        timestamp: 0n,
        message: '',
        status: 'ok',
        sampleRate: 1,
        tags: { owner: tenant },
        unit: '',
        scope: 'default',
      },
    ],
    logs: [{ timestamp: 0n, severity: 'info', severityNumber: 9, body: `secret of ${tenant}`, attributes: {} }],
  });
}

interface Answer {
  status: number;
  body: string;
  json: () => { error?: { code: string; reason: string }; data?: Array<Record<string, unknown>> };
}

async function sql(http: string, request: object, token = 'tok-acme'): Promise<Answer> {
  const res = await fetch(`${http}/v1/sql`, {
    method: 'POST',
    body: JSON.stringify(request),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  const body = await res.text();
  return { status: res.status, body, json: () => JSON.parse(body) as ReturnType<Answer['json']> };
}

/** Every row count per table and tenant, and every table and database: what "nothing changed" compares. */
async function fingerprint(ch: ClickHouse): Promise<string> {
  const parts: string[] = [];
  for (const t of PUBLIC_TABLES) {
    const rows = await (
      await ch.client.query({ query: `SELECT tenant, count() AS n FROM ${ch.database}.${t} GROUP BY tenant ORDER BY tenant`, format: 'JSONEachRow' })
    ).json();
    parts.push(`${t}:${JSON.stringify(rows)}`);
  }
  const tables = await (
    await ch.client.query({
      query: "SELECT database, name FROM system.tables WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema') ORDER BY database, name",
      format: 'JSONEachRow',
    })
  ).json();
  parts.push(JSON.stringify(tables));
  return parts.join('\n');
}

interface RunningApi {
  http: string;
  metrics: QueryMetrics;
  close: () => Promise<void>;
}

/** The query API on its own server over `reader`, stopping what it gives up on through `killer` (default: the reader). */
async function startApi(config: Config, reader: ClickHouse, killer?: ClickHouse): Promise<RunningApi> {
  const app = createHttpServer({ logLevel: false, bodyLimit: 1_048_576 });
  const { metrics } = registerQueryApi(app, config, reader, { standalone: true, ...(killer ? { killer } : {}) });
  const http = await app.listen({ host: '127.0.0.1', port: 0 });
  return { http, metrics, close: () => app.close() };
}

/** How many queries whose text holds `marker` ClickHouse runs now (asked as the writer). */
async function running(writer: ClickHouse, marker: string): Promise<number> {
  const result = await writer.client.query({
    query: "SELECT count() AS n FROM system.processes WHERE position(query, {m:String}) > 0 AND query NOT ILIKE '%system.processes%'",
    query_params: { m: marker },
    format: 'JSONEachRow',
  });
  return Number(((await result.json<{ n: string }>())[0] as { n: string }).n);
}

describe('POST /v1/sql: one read-only statement over the public tables, whatever the text tries', () => {
  let aio: AllInOne;
  let before: string;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_sqlsec', {
      SSF_GATEWAY_AUTH_TOKENS: "tok-acme=acme,tok-globex=globex,tok-write=acme:write,tok-quote=o'q\\x",
      SSF_QUERY_MAX_EXECUTION_TIME_S: '1',
      SSF_QUERY_MAX_RESULT_ROWS: '1000',
      SSF_QUERY_MAX_MEMORY_USAGE: '100000000',
    });
    expect(
      (
        await aio.post(
          [0, 1, 2].map((i) => spanOf('acme', i)),
          'tok-acme',
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await aio.post(
          [0, 1, 2, 3].map((i) => spanOf('globex', i)),
          'tok-globex',
        )
      ).status,
    ).toBe(200);
    expect((await aio.post([spanOf('quote', 9)], 'tok-quote')).status).toBe(200);
    before = await fingerprint(aio.ch);
  });
  afterAll(async () => aio?.close());

  it("answers a SELECT in ClickHouse's JSON format, with parameters bound by ClickHouse", async () => {
    const a = await sql(aio.http, { sql: 'SELECT service, count() AS n FROM spans WHERE name = {name:String} GROUP BY service', params: { name: 'GET /' } });
    expect(a.status).toBe(200);
    const body = a.json() as unknown as { meta: Array<{ name: string }>; data: unknown[]; rows: number };
    expect(body.meta.map((m) => m.name)).toEqual(['service', 'n']);
    expect(body.data).toEqual([{ service: 'svc-acme', n: '3' }]);
    expect(body.rows).toBe(1);
    // A parameter is a value, never SQL.
    const injected = await sql(aio.http, { sql: 'SELECT {s:String} AS s', params: { s: "x'; DROP TABLE spans; --" } });
    expect(injected.json().data).toEqual([{ s: "x'; DROP TABLE spans; --" }]);
  });

  it('streams CSV, TSV, NDJSON and Parquet', async () => {
    const csv = await sql(aio.http, { sql: 'SELECT span_id, service FROM spans ORDER BY span_id', format: 'csv' });
    expect(csv.body).toBe('"span_id","service"\n1,"svc-acme"\n2,"svc-acme"\n3,"svc-acme"\n');
    const tsv = await sql(aio.http, { sql: 'SELECT span_id FROM spans ORDER BY span_id', format: 'tsv' });
    expect(tsv.body).toBe('span_id\n1\n2\n3\n');
    const nd = await sql(aio.http, { sql: 'SELECT span_id FROM spans ORDER BY span_id', format: 'ndjson' });
    expect(
      nd.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([{ span_id: '1' }, { span_id: '2' }, { span_id: '3' }]);
    const res = await fetch(`${aio.http}/v1/sql`, {
      method: 'POST',
      body: JSON.stringify({ sql: 'SELECT span_id FROM spans', format: 'parquet' }),
      headers: { 'content-type': 'application/json', authorization: 'Bearer tok-acme' },
    });
    expect(res.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect(bytes.subarray(-4).toString()).toBe('PAR1');
  });

  // Each forbidden form, the code it gets, and the status of that code.
  const refusals: Array<[string, string, number]> = [
    // Writes and DDL
    ['DROP TABLE spans', 'QUERY_ERR_NOT_SELECT', 403],
    ['TRUNCATE TABLE spans', 'QUERY_ERR_NOT_SELECT', 403],
    ['CREATE TABLE evil (a Int8) ENGINE = Memory', 'QUERY_ERR_NOT_SELECT', 403],
    ['ALTER TABLE spans DELETE WHERE 1', 'QUERY_ERR_NOT_SELECT', 403],
    ["ALTER TABLE spans UPDATE name = 'x' WHERE 1", 'QUERY_ERR_NOT_SELECT', 403],
    ['DELETE FROM spans WHERE 1', 'QUERY_ERR_NOT_SELECT', 403],
    ['INSERT INTO spans SELECT * FROM spans', 'QUERY_ERR_NOT_SELECT', 403],
    ["INSERT INTO FUNCTION file('out.csv') SELECT 1", 'QUERY_ERR_NOT_SELECT', 403],
    ['OPTIMIZE TABLE spans FINAL', 'QUERY_ERR_NOT_SELECT', 403],
    ['RENAME TABLE spans TO spans2', 'QUERY_ERR_NOT_SELECT', 403],
    ['SET max_threads = 1', 'QUERY_ERR_NOT_SELECT', 403],
    ['SYSTEM STOP MERGES', 'QUERY_ERR_NOT_SELECT', 403],
    ['SYSTEM DROP DNS CACHE', 'QUERY_ERR_NOT_SELECT', 403],
    ['KILL QUERY WHERE 1', 'QUERY_ERR_NOT_SELECT', 403],
    ['GRANT ALL ON *.* TO default', 'QUERY_ERR_NOT_SELECT', 403],
    ["CREATE USER evil IDENTIFIED BY 'x'", 'QUERY_ERR_NOT_SELECT', 403],
    ['USE system', 'QUERY_ERR_NOT_SELECT', 403],
    ['SHOW TABLES', 'QUERY_ERR_NOT_SELECT', 403],
    ['DESCRIBE TABLE spans', 'QUERY_ERR_NOT_SELECT', 403],
    // A second statement, however it is dressed
    ['SELECT 1; DROP TABLE spans', 'QUERY_ERR_MULTI_STATEMENT', 400],
    ["SELECT ';'; DROP TABLE spans", 'QUERY_ERR_MULTI_STATEMENT', 400],
    ['SELECT 1 /* a comment */; DROP TABLE spans', 'QUERY_ERR_MULTI_STATEMENT', 400],
    ['SELECT 1 -- one\n; DROP TABLE spans', 'QUERY_ERR_MULTI_STATEMENT', 400],
    ['/* SELECT 1; */ DROP TABLE spans', 'QUERY_ERR_NOT_SELECT', 403],
    ['SELECT 1 /* unterminated', 'QUERY_ERR_SYNTAX', 400],
    // Settings from the text, at any depth
    ['SELECT count() FROM spans SETTINGS max_threads = 1', 'QUERY_ERR_SETTINGS', 403],
    ["SELECT count() FROM spans SETTINGS additional_table_filters = {'x': 'true'}", 'QUERY_ERR_SETTINGS', 403],
    ['SELECT * FROM (SELECT count() FROM spans SETTINGS max_execution_time = 1000)', 'QUERY_ERR_SETTINGS', 403],
    // Output options
    ['SELECT 1 FORMAT TSV', 'QUERY_ERR_FORMAT_CLAUSE', 400],
    ["SELECT 1 INTO OUTFILE '/tmp/ssf-evil'", 'QUERY_ERR_FORMAT_CLAUSE', 400],
    // Table functions
    ["SELECT * FROM file('/etc/passwd', 'LineAsString')", 'QUERY_ERR_TABLE_FUNCTION', 403],
    ["SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')", 'QUERY_ERR_TABLE_FUNCTION', 403],
    ["SELECT * FROM remote('127.0.0.1', system.tables)", 'QUERY_ERR_TABLE_FUNCTION', 403],
    ["SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV')", 'QUERY_ERR_TABLE_FUNCTION', 403],
    ["SELECT * FROM merge(currentDatabase(), '.*')", 'QUERY_ERR_TABLE_FUNCTION', 403],
    ["SELECT * FROM cluster('default', system.one)", 'QUERY_ERR_TABLE_FUNCTION', 403],
    ['SELECT * FROM view(SELECT * FROM spans)', 'QUERY_ERR_TABLE_FUNCTION', 403],
    ["SELECT * FROM executable('id', 'TSV', 'x String')", 'QUERY_ERR_TABLE_FUNCTION', 403],
    ["SELECT count() FROM spans WHERE trace_id IN (SELECT toInt64(c1) FROM file('/etc/hosts'))", 'QUERY_ERR_TABLE_FUNCTION', 403],
    ["SELECT * FROM spans JOIN url('http://127.0.0.1:1/', 'CSV', 'a Int64') AS u ON u.a = spans.trace_id", 'QUERY_ERR_TABLE_FUNCTION', 403],
    // System tables, other databases, non-public tables
    ['SELECT * FROM system.tables', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM system.query_log', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM `system`.`users`', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM INFORMATION_SCHEMA.TABLES', 'QUERY_ERR_TABLE', 403],
    ['SELECT count() FROM spans WHERE service IN (SELECT name FROM system.databases)', 'QUERY_ERR_TABLE', 403],
    ['WITH t AS (SELECT * FROM system.processes) SELECT * FROM t', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM default.anything', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM schema_migrations', 'QUERY_ERR_TABLE', 403],
    // Non-public tables read with FINAL: the query tree writes `table_name: ssf.x, final: 1`
    ['SELECT * FROM trace_index_mv FINAL', 'QUERY_ERR_TABLE', 403],
    ['SELECT name, tags, sum FROM metrics_1m_mv FINAL', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM metrics_1h_mv FINAL', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM span_metrics_1m_mv FINAL', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM service_metrics_1m_mv FINAL', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM schema_migrations FINAL', 'QUERY_ERR_TABLE', 403],
    ['SELECT count() FROM spans WHERE trace_id IN (SELECT trace_id FROM trace_index_mv FINAL)', 'QUERY_ERR_TABLE', 403],
    ['SELECT * FROM (WITH trace_index_mv AS (SELECT 1) SELECT 1) AS q, trace_index_mv FINAL', 'QUERY_ERR_TABLE', 403],
    ['SELECT 1 AS `QUERY id: 1, cte_name: trace_index_mv` FROM trace_index_mv FINAL', 'QUERY_ERR_TABLE', 403],
    ['SELECT count() FROM spans WHERE name IN schema_migrations', 'QUERY_ERR_TABLE', 403],
    // Functions that reach outside the tables
    ["SELECT file('/etc/passwd')", 'QUERY_ERR_FUNCTION', 403],
    ["SELECT dictGet('d', 'a', toUInt64(1))", 'QUERY_ERR_FUNCTION', 403],
    ["SELECT getSetting('additional_table_filters')", 'QUERY_ERR_FUNCTION', 403],
    ['SELECT sleepEachRow(1) FROM spans', 'QUERY_ERR_FUNCTION', 403],
    ['SELECT hostName()', 'QUERY_ERR_FUNCTION', 403],
    ["SELECT joinGet('j', 'v', 1)", 'QUERY_ERR_FUNCTION', 403],
    ['SELECT enabledProfiles()', 'QUERY_ERR_FUNCTION', 403],
    ['SELECT defaultProfiles()', 'QUERY_ERR_FUNCTION', 403],
    ["SELECT logTrace(repeat('x', 1000000)) FROM spans", 'QUERY_ERR_FUNCTION', 403],
    ['SELECT authUser()', 'QUERY_ERR_FUNCTION', 403],
    ['SELECT authenticatedUser()', 'QUERY_ERR_FUNCTION', 403],
    ['SELECT user()', 'QUERY_ERR_FUNCTION', 403],
    ['SELECT connectionId()', 'QUERY_ERR_FUNCTION', 403],
    ['SELECT showCertificate()', 'QUERY_ERR_FUNCTION', 403],
    ["SELECT generateSerialID('x')", 'QUERY_ERR_FUNCTION', 403],
    ['SELECT regionToName(toUInt32(1))', 'QUERY_ERR_FUNCTION', 403],
    ["SELECT naiveBayesClassifier('m', 'x')", 'QUERY_ERR_FUNCTION', 403],
    // Limits: time, result size, memory
    ['SELECT sum(number) FROM numbers(1000000000000)', 'QUERY_ERR_TIMEOUT', 422],
    ['SELECT number FROM numbers(100000)', 'QUERY_ERR_TOO_LARGE', 422],
    ['SELECT groupArray(toString(number)) FROM numbers(100000000)', 'QUERY_ERR_MEMORY', 422],
    // The result limits at the top of a set operation too (ClickHouse checks them on a top-level SELECT only)
    ['SELECT number FROM numbers(100000) EXCEPT SELECT 1', 'QUERY_ERR_TOO_LARGE', 422],
    ['SELECT number FROM numbers(100000) UNION ALL SELECT 1', 'QUERY_ERR_TOO_LARGE', 422],
    ['SELECT number FROM numbers(100000) UNION DISTINCT SELECT 1', 'QUERY_ERR_TOO_LARGE', 422],
    ['SELECT number FROM numbers(100000) INTERSECT SELECT number FROM numbers(100000)', 'QUERY_ERR_TOO_LARGE', 422],
    ['(SELECT number FROM numbers(100000) EXCEPT SELECT 1) UNION ALL SELECT 1', 'QUERY_ERR_TOO_LARGE', 422],
    ['SELECT count() FROM numbers(1000000000000) EXCEPT SELECT 1', 'QUERY_ERR_TIMEOUT', 422],
    ['SELECT length(groupArray(toString(number))) FROM numbers(100000000) EXCEPT SELECT 1', 'QUERY_ERR_MEMORY', 422],
    // Plain mistakes
    ['SELEC 1', 'QUERY_ERR_SYNTAX', 400],
    ['', 'QUERY_ERR_SYNTAX', 400],
    ['SELECT no_such_column FROM spans', 'QUERY_ERR_INVALID', 400],
    ['SELECT {missing:String}', 'QUERY_ERR_PARAMS', 400],
  ];

  it.each(refusals)('%j is refused with %s', async (text, code, status) => {
    const a = await sql(aio.http, { sql: text });
    expect(a.json().error?.code, a.body).toBe(code);
    expect(a.status).toBe(status);
    expect(a.json().error?.reason.length).toBeGreaterThan(5);
  });

  it('a DateTime64 parameter given as RFC 3339: 400 QUERY_ERR_PARAMS saying how to write it, and both ways it says work', async () => {
    const wrong = await sql(aio.http, { sql: "SELECT {t:DateTime64(9, 'UTC')} AS t", params: { t: '2026-11-21T14:00:00Z' } });
    expect(wrong.status).toBe(400);
    expect(wrong.json().error?.code).toBe('QUERY_ERR_PARAMS');
    expect(wrong.json().error?.reason).toContain(DATETIME_PARAM_HINT);
    const plain = await sql(aio.http, { sql: "SELECT toString({t:DateTime64(9, 'UTC')}) AS t", params: { t: '2026-11-21 14:00:00.123456789' } });
    expect(plain.json().data, plain.body).toEqual([{ t: '2026-11-21 14:00:00.123456789' }]);
    const rfc = await sql(aio.http, {
      sql: "SELECT toString(parseDateTime64BestEffort({t:String}, 9, 'UTC')) AS t",
      params: { t: '2026-11-21T16:00:00.5+02:00' },
    });
    expect(rfc.json().data, rfc.body).toEqual([{ t: '2026-11-21 14:00:00.500000000' }]);
  });

  it('reads a comment as a comment: the hidden statement never runs', async () => {
    for (const text of ['SELECT 1 AS one -- ; DROP TABLE spans', 'SELECT 1 AS one /* ; DROP TABLE spans */', 'SELECT 1 AS one # ; DROP TABLE spans']) {
      const a = await sql(aio.http, { sql: text });
      expect(a.status, `${text}: ${a.body}`).toBe(200);
      expect(a.json().data).toEqual([{ one: 1 }]);
    }
  });

  it("never shows another tenant's rows, wherever the table appears in the query", async () => {
    const acme = async (text: string): Promise<unknown> => {
      const a = await sql(aio.http, { sql: text, params: { other: 'globex' } });
      expect(a.status, a.body).toBe(200);
      return a.json().data;
    };
    expect(await acme('SELECT DISTINCT tenant FROM spans')).toEqual([{ tenant: 'acme' }]);
    expect(await acme("SELECT count() AS n FROM spans WHERE tenant = 'globex'")).toEqual([{ n: '0' }]);
    expect(await acme('SELECT count() AS n FROM logs WHERE tenant = {other:String}')).toEqual([{ n: '0' }]);
    for (const t of PUBLIC_TABLES) {
      expect(await acme(`SELECT groupUniqArray(tenant) AS tenants FROM ${t}`), t).toEqual([{ tenants: ['acme'] }]);
      expect(await acme(`SELECT groupUniqArray(tenant) AS tenants FROM ${aio.ch.database}.${t}`), t).toEqual([{ tenants: ['acme'] }]);
    }
    expect(await acme('SELECT count() AS n FROM spans AS a JOIN logs AS b ON a.trace_id = b.trace_id')).toEqual([{ n: '3' }]);
    expect(await acme('SELECT (SELECT count() FROM samples) AS n')).toEqual([{ n: '3' }]);
    expect(await acme("WITH x AS (SELECT * FROM logs) SELECT count() AS n FROM x WHERE body LIKE '%globex%'")).toEqual([{ n: '0' }]);
    expect(await acme('SELECT count() AS n FROM (SELECT tenant FROM spans UNION ALL SELECT tenant FROM logs)')).toEqual([{ n: '6' }]);
    // An error message cannot carry the other tenant's data either: the check ran under the same filter.
    const leak = await sql(aio.http, { sql: "SELECT throwIf(1, concat('rows: ', toString((SELECT groupArray(body) FROM logs))))" });
    expect(leak.status).toBe(400);
    expect(leak.body).toContain('secret of acme');
    expect(leak.body).not.toContain('globex');
    // And globex sees its own four.
    const g = await sql(aio.http, { sql: 'SELECT count() AS n FROM spans' }, 'tok-globex');
    expect(g.json().data).toEqual([{ n: '4' }]);
  });

  it('gives a tenant only its own trace ids through otel_traces_trace_id_ts: trace_index is filtered inside the view', async () => {
    const hex = (n: number): string => n.toString(16).padStart(32, '0');
    const ids = async (token: string): Promise<unknown> =>
      (await sql(aio.http, { sql: 'SELECT DISTINCT TraceId FROM otel_traces_trace_id_ts ORDER BY TraceId' }, token)).json().data;
    // Both tenants have traces 1000-1002 (each its own); 1003 is globex's alone.
    expect(await ids('tok-acme')).toEqual([1000, 1001, 1002].map((n) => ({ TraceId: hex(n) })));
    expect(await ids('tok-globex')).toEqual([1000, 1001, 1002, 1003].map((n) => ({ TraceId: hex(n) })));
    // Asked for by id, as Grafana's trace view asks: nothing of the other tenant's trace.
    const lookup = `SELECT count() AS n FROM otel_traces_trace_id_ts WHERE TraceId = '${hex(1003)}'`;
    expect((await sql(aio.http, { sql: lookup })).json().data).toEqual([{ n: '0' }]);
    expect((await sql(aio.http, { sql: lookup }, 'tok-globex')).json().data).toEqual([{ n: '1' }]);
  });

  // Every shape in which a trailing SETTINGS clause would not be the whole statement's.
  const SET_SHAPES = [
    "SELECT tenant, service, name, tags FROM spans EXCEPT SELECT '', '', '', map()",
    'SELECT tenant, service FROM spans INTERSECT SELECT tenant, service FROM spans',
    "SELECT tenant, service FROM spans EXCEPT SELECT 'x', 'y' EXCEPT SELECT 'z', 'w'",
    "(SELECT tenant, service FROM spans EXCEPT SELECT 'x', 'y') UNION ALL SELECT tenant, service FROM logs",
    "SELECT tenant, service FROM logs UNION ALL (SELECT tenant, service FROM spans EXCEPT SELECT 'x', 'y')",
    "(SELECT tenant, service FROM spans UNION ALL SELECT tenant, service FROM logs) EXCEPT SELECT 'x', 'y'",
    "SELECT tenant, service FROM spans EXCEPT (SELECT 'x', 'y' UNION ALL SELECT 'z', 'w')",
    'SELECT tenant, service FROM spans UNION DISTINCT SELECT tenant, service FROM logs',
    "SELECT tenant, service FROM spans EXCEPT ALL SELECT 'x', 'y'",
    'SELECT tenant, service FROM spans INTERSECT DISTINCT SELECT tenant, service FROM logs UNION ALL SELECT tenant, service FROM samples',
    '((SELECT tenant, service FROM spans))',
    "SELECT * FROM (SELECT tenant, service FROM spans EXCEPT SELECT 'x', 'y')",
    "WITH t AS (SELECT tenant, service FROM spans EXCEPT SELECT 'x', 'y') SELECT * FROM t",
    "WITH `my t` AS (SELECT tenant, service FROM spans) SELECT * FROM `my t` EXCEPT SELECT 'x', 'y'",
    "SELECT tenant, service FROM spans WHERE trace_id IN (SELECT trace_id FROM spans EXCEPT SELECT 0) EXCEPT SELECT 'x', 'y'",
    "SELECT tenant, toString(trace_id) FROM trace_index EXCEPT SELECT 'x', 'y'",
    "SELECT tenant, name FROM metrics_1m EXCEPT SELECT 'x', 'y'",
    "SELECT s.tenant, t.ServiceName FROM otel_traces AS t JOIN spans AS s ON t.SpanName = s.name EXCEPT SELECT 'x', 'y'",
  ];

  it.each(SET_SHAPES)("gives tenant A none of B's rows from %j (either side of UNION, EXCEPT, INTERSECT, in every format)", async (text) => {
    const a = await sql(aio.http, { sql: text });
    expect(a.status, a.body).toBe(200);
    expect(a.body).not.toContain('globex');
    const rows = a.json().data ?? [];
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(Object.values(row)[0]).toBe('acme');
    const csv = await sql(aio.http, { sql: text, format: 'csv' });
    expect(csv.status, csv.body).toBe(200);
    expect(csv.body).toContain('acme');
    expect(csv.body).not.toContain('globex');
    // B asking the same sees its own rows: the filter is each tenant's, not a blanket refusal.
    const b = await sql(aio.http, { sql: text }, 'tok-globex');
    expect(b.body).toContain('globex');
    expect(b.body).not.toContain('acme');
  });

  it('writes the tenant into the filter as a value: a quote and a backslash in its name change nothing', async () => {
    const q = await sql(aio.http, { sql: "SELECT tenant, count() AS n FROM spans GROUP BY tenant EXCEPT SELECT '', 0" }, 'tok-quote');
    expect(q.status, q.body).toBe(200);
    expect(q.json().data).toEqual([{ tenant: "o'q\\x", n: '1' }]);
  });

  it('needs a token with read access', async () => {
    const none = await fetch(`${aio.http}/v1/sql`, {
      method: 'POST',
      body: JSON.stringify({ sql: 'SELECT 1' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('AUTH_ERR_MISSING_TOKEN');
    const writeOnly = await sql(aio.http, { sql: 'SELECT 1' }, 'tok-write');
    expect(writeOnly.status).toBe(403);
    expect(writeOnly.json().error?.code).toBe('AUTH_ERR_FORBIDDEN');
    const unknown = await sql(aio.http, { sql: 'SELECT 1' }, 'nope');
    expect(unknown.json().error?.code).toBe('AUTH_ERR_BAD_TOKEN');
  });

  it('refuses a malformed request with the field named', async () => {
    const bad = async (body: string): Promise<string> => {
      const res = await fetch(`${aio.http}/v1/sql`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok-acme' },
      });
      expect(res.status).toBe(400);
      const e = ((await res.json()) as { error: { code: string; reason: string } }).error;
      expect(e.code).toBe('QUERY_ERR_BAD_REQUEST');
      return e.reason;
    };
    expect(await bad('{"sql": 1}')).toMatch(/sql/);
    expect(await bad('{"sql": "SELECT 1", "format": "xml"}')).toMatch(/format/);
    expect(await bad('{"sql": "SELECT 1", "settings": {"readonly": 0}}')).toMatch(/settings/);
    expect(await bad('{"sql": "SELECT 1", "params": {"1bad": 1}}')).toMatch(/params/);
    expect(await bad('not json')).toMatch(/JSON/);
    // Under the API's 262,144 characters, past what ClickHouse takes as a query parameter (131,072 bytes URL-encoded):
    // it said "Poco::Exception ... HTML Form Exception: Field value too long" as QUERY_ERR_INVALID.
    const long = await bad(JSON.stringify({ sql: `SELECT 1${'+1'.repeat(50_000)}` }));
    expect(long).toBe(TOO_LONG_PARAM);
    expect(await bad(JSON.stringify({ sql: 'SELECT length({s:String}) AS n', params: { s: '/'.repeat(50_000) } }))).toBe(TOO_LONG_PARAM);
    // Within it, a long statement runs.
    const fine = await sql(aio.http, { sql: `SELECT length('${'a'.repeat(120_000)}') AS n` });
    expect(fine.status, fine.body.slice(0, 300)).toBe(200);
    expect(fine.json().data).toEqual([{ n: '120000' }]);
  });

  it('changed nothing, counted every refusal, and lists itself in /openapi.json', async () => {
    expect(await fingerprint(aio.ch)).toBe(before);
    expect(aio.query.metrics.get('QUERY_ERR_NOT_SELECT')).toBeGreaterThanOrEqual(refusals.filter((r) => r[1] === 'QUERY_ERR_NOT_SELECT').length);
    const metrics = await (await fetch(`${aio.http}/metrics`)).text();
    expect(metrics).toMatch(/ssf_query_refused_total\{code="QUERY_ERR_TABLE_FUNCTION"\} \d+/);
    const doc = (await (await fetch(`${aio.http}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/v1/sql']?.['post']?.requestBody).toBeDefined();
  });
});

describe('POST /v1/sql: nothing of the storage tells a tenant how much the others wrote', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_sqlvol', { SSF_GATEWAY_AUTH_TOKENS: 'tok-acme=acme,tok-globex=globex' });
    // One insert of both tenants, as the sink writes a batch: one part, one granule, acme's 2 rows first (the key starts with tenant).
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
    const span = (tenant: string, i: number): Record<string, unknown> => ({
      tenant,
      trace_id: String(i + 1),
      span_id: String(i + 1),
      parent_id: '0',
      service: `svc-${tenant}`,
      name: 'x',
      start: now,
      duration_ns: '5',
      error: false,
      indicator: false,
      root_start: now,
      tags: {},
    });
    await aio.ch.client.insert({
      table: `${aio.ch.database}.spans`,
      values: [...[0, 1].map((i) => span('acme', i)), ...Array.from({ length: 500 }, (_, i) => span('globex', i))],
      format: 'JSONEachRow',
    });
  });
  afterAll(async () => aio?.close());

  it("answers JSON without statistics: rows_read counted the other tenant's rows of the granule", async () => {
    const a = await sql(aio.http, { sql: 'SELECT count() AS n FROM spans' });
    expect(a.status, a.body).toBe(200);
    const body = JSON.parse(a.body) as Record<string, unknown>;
    expect(body['data']).toEqual([{ n: '2' }]);
    expect(Object.keys(body).sort()).toEqual(['data', 'meta', 'rows']);
    expect(a.body).not.toContain('502');
  });

  it('refuses the virtual columns of the tables (offsets in a part shared with the other tenant), however they are named', async () => {
    for (const text of [
      'SELECT max(_part_offset) AS o FROM spans',
      'SELECT any(_part_starting_offset) FROM spans',
      'SELECT s._part FROM spans AS s',
      'SELECT o FROM (SELECT _block_number AS o FROM spans)',
      'WITH _part_offset AS o SELECT o FROM logs',
      'SELECT count() FROM spans WHERE _part_offset > 100',
      'SELECT _partition_id, _part_uuid, _disk_name FROM trace_index',
      'SELECT _table FROM otel_traces',
    ]) {
      const a = await sql(aio.http, { sql: text }, 'tok-globex');
      expect(a.status, `${text}: ${a.body}`).toBe(403);
      expect(a.json().error?.code, text).toBe('QUERY_ERR_VIRTUAL_COLUMN');
    }
    // A column of the query's own that starts with _ is no virtual column.
    const own = await sql(aio.http, { sql: 'SELECT _x, arrayMap(_y -> _y + 1, [_x]) AS a FROM (SELECT 1 AS _x)' }, 'tok-globex');
    expect(own.status, own.body).toBe(200);
    expect(own.json().data).toEqual([{ _x: 1, a: [2] }]);
  });
});

describe('enforced by ClickHouse itself: the read-only user of deploy/clickhouse/ssf-users.xml', () => {
  let server: ClickHouseServer;
  let writer: ClickHouse;
  let reader: ClickHouse;
  let api: RunningApi;
  // Short limits, one query per tenant: a query given up on holds the slot until ClickHouse let it go.
  let killing: RunningApi;
  let unkilling: RunningApi;
  beforeAll(async () => {
    server = await startClickHouseServer({ usersFile: join(import.meta.dirname, '..', '..', 'deploy', 'clickhouse', 'ssf-users.xml') });
    const env = {
      SSF_CLICKHOUSE_URL: server.url,
      SSF_CLICKHOUSE_DATABASE: 'ssf',
      SSF_CLICKHOUSE_QUERY_USER: 'ssf_query',
      SSF_CLICKHOUSE_QUERY_PASSWORD: 'change-me',
    };
    const config = loadConfig({ env });
    writer = await createClickHouse(config.clickhouse);
    await migrate(writer, config);
    await writer.client.command({ query: 'CREATE DATABASE IF NOT EXISTS private' });
    await writer.client.command({ query: 'CREATE TABLE IF NOT EXISTS private.t (a Int8) ENGINE = MergeTree ORDER BY a' });
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
    const span = {
      trace_id: '1',
      span_id: '1',
      parent_id: '0',
      name: 'x',
      start: now,
      duration_ns: '5',
      error: false,
      indicator: false,
      root_start: now,
      tags: {},
    };
    // Two tenants with rows: the API's tenant here is `default`; `other` must never show.
    await writer.client.insert({
      table: 'ssf.spans',
      values: [
        { ...span, tenant: 'default', service: 'web' },
        { ...span, tenant: 'other', service: 'web-of-other' },
      ],
      format: 'JSONEachRow',
    });
    // A table of the pipeline's database outside the public ones that can be read with FINAL and SAMPLE (a tenant column, no filter on it).
    await writer.client.command({
      query:
        'CREATE TABLE IF NOT EXISTS ssf.sampled (tenant String, k UInt64, v String) ENGINE = ReplacingMergeTree ORDER BY (tenant, intHash32(k)) SAMPLE BY intHash32(k)',
    });
    await writer.client.command({
      query: "INSERT INTO ssf.sampled SELECT if(number % 2 = 0, 'default', 'other'), number, if(number % 2 = 0, 'mine', 'row-of-other') FROM numbers(100)",
    });
    reader = await createClickHouse(config.clickhouse, { readonlyUser: true });
    api = await startApi(config, reader);
    const slow = loadConfig({
      env: {
        ...env,
        SSF_QUERY_MAX_EXECUTION_TIME_S: '1',
        SSF_QUERY_CANCEL_GRACE_MS: '200',
        SSF_QUERY_MAX_CONCURRENT_PER_TENANT: '1',
        SSF_QUERY_MAX_BLOCK_SIZE: '8192',
      },
    });
    killing = await startApi(slow, reader, writer);
    unkilling = await startApi(slow, reader);
  });
  afterAll(async () => {
    await api?.close();
    await killing?.close();
    await unkilling?.close();
    await reader?.close();
    await writer?.close();
    await server?.stop({ removeDataDir: true });
  });

  it('the API reads through the read-only user, with its limits and tenant filter', async () => {
    const a = await sql(api.http, { sql: 'SELECT count() AS n FROM spans' }, '');
    expect(a.status, a.body).toBe(200);
    expect(a.json().data).toEqual([{ n: '1' }]);
    const ready = await fetch(`${api.http}/-/ready`);
    expect(ready.status).toBe(200);
  });

  it.each([
    'SELECT * FROM sampled FINAL',
    'SELECT * FROM sampled SAMPLE 1/2',
    'SELECT * FROM sampled SAMPLE 100',
    'SELECT * FROM sampled FINAL SAMPLE 1/2',
    'SELECT * FROM sampled FINAL SAMPLE 1/2 OFFSET 1/2',
    'SELECT v FROM spans AS s JOIN sampled AS t FINAL ON s.tenant = t.tenant',
    "SELECT tenant, v FROM sampled FINAL SAMPLE 1/2 EXCEPT SELECT '', ''",
    "SELECT * FROM trace_index_mv FINAL WHERE tenant = 'other'",
  ])("refuses %j: no table outside the public ones, however it is read, and none of the other tenant's rows", async (text) => {
    const a = await sql(api.http, { sql: text }, '');
    expect(a.json().error?.code, a.body).toBe('QUERY_ERR_TABLE');
    expect(a.body).not.toContain('other');
  });

  it("gives none of the other tenant's rows on either side of a set operation, as the read-only user", async () => {
    for (const text of [
      "SELECT tenant, service FROM spans EXCEPT SELECT '', ''",
      'SELECT tenant, service FROM spans INTERSECT SELECT tenant, service FROM spans',
      "(SELECT tenant, service FROM spans EXCEPT SELECT '', '') UNION ALL SELECT tenant, service FROM spans",
    ]) {
      const a = await sql(api.http, { sql: text }, '');
      expect(a.status, a.body).toBe(200);
      expect(a.body).toContain('web');
      expect(a.body).not.toContain('other');
    }
  });

  // One block of some seconds (about 0.5 ms a row here).
  const SLOW = "SELECT max(editDistance(repeat('a', 2500 + number % 2), repeat('b', 2500))) FROM numbers(8192)";

  it("holds the tenant's slot until ClickHouse let a query given up on go: KILL QUERY goes through the writer", async () => {
    const answer = await sql(killing.http, { sql: SLOW }, '');
    expect(answer.json().error?.code, answer.body).toBe('QUERY_ERR_TIMEOUT');
    expect(await running(writer, 'editDistance'), 'the query outlived the deadline, as this test needs').toBe(1);
    // One query per tenant: the next is refused (429) until the kill answered.
    let next = await sql(killing.http, { sql: 'SELECT 1 AS one' }, '');
    for (let i = 0; next.status === 429 && i < 1200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      next = await sql(killing.http, { sql: 'SELECT 1 AS one' }, '');
    }
    expect(next.status, next.body).toBe(200);
    // Once the slot is free, the query is gone from ClickHouse: not one block later.
    expect(await running(writer, 'editDistance')).toBe(0);
    expect(killing.metrics.killFailures()).toBe(0);
  }, 120_000);

  it('counts a KILL QUERY that failed: the read-only user may not see or stop its own queries', async () => {
    const answer = await sql(unkilling.http, { sql: SLOW }, '');
    expect(answer.json().error?.code, answer.body).toBe('QUERY_ERR_TIMEOUT');
    for (let i = 0; unkilling.metrics.killFailures() === 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
    expect(unkilling.metrics.killFailures()).toBe(1);
    expect(await (await fetch(`${unkilling.http}/metrics`)).text()).toMatch(/^ssf_query_kill_failed_total 1$/m);
    // Let it end before the next test (ClickHouse stops it at its next block).
    for (let i = 0; (await running(writer, 'editDistance')) > 0 && i < 600; i++) await new Promise((r) => setTimeout(r, 100));
  }, 120_000);

  it('refuses writes, DDL, other databases and loosened limits to that user, whoever sends them', async () => {
    // Straight to ClickHouse with the API's credentials, bypassing every check of the API.
    const direct = createClient({ url: server.url, username: 'ssf_query', password: 'change-me', database: 'ssf' });
    const code = async (query: string): Promise<string> => {
      try {
        await direct.command({ query });
        return 'ran';
      } catch (err) {
        return String((err as { type?: string }).type);
      }
    };
    try {
      // No grant for it (ACCESS_DENIED), and readonly=2 besides (READONLY): whichever ClickHouse checks first.
      expect(await code('DROP TABLE ssf.spans')).toMatch(/^(READONLY|ACCESS_DENIED)$/);
      expect(await code("INSERT INTO ssf.spans (tenant) VALUES ('x')")).toMatch(/^(READONLY|ACCESS_DENIED)$/);
      expect(await code('CREATE TABLE ssf.evil (a Int8) ENGINE = Memory')).toMatch(/^(READONLY|ACCESS_DENIED)$/);
      expect(await code('SET readonly = 0')).toMatch(/READONLY|SETTING_CONSTRAINT_VIOLATION/);
      expect(await code('SELECT * FROM private.t')).toBe('ACCESS_DENIED');
      expect(await code('SELECT 1 SETTINGS max_execution_time = 100000')).toBe('SETTING_CONSTRAINT_VIOLATION');
      expect(await code('SELECT count() FROM ssf.spans')).toBe('ran');
    } finally {
      await direct.close();
    }
    const rows = await (await writer.client.query({ query: 'SELECT count() AS n FROM ssf.spans', format: 'JSONEachRow' })).json();
    expect(rows).toEqual([{ n: '2' }]);
  });
});

describe('the same checks on the local engine (`ssf serve` without clickhouse.url)', () => {
  let ch: ClickHouse;
  let reader: ClickHouse;
  let api: { http: string; close: () => Promise<void> };
  beforeAll(async () => {
    const config = loadConfig({
      env: { SSF_CLICKHOUSE_DATA_PATH: mkdtempSync(join(tmpdir(), 'ssf-sqlsec-')), SSF_CLICKHOUSE_DATABASE: uniqueDatabase('ssf_sqlsec_emb') },
    });
    ch = await createClickHouse(config.clickhouse);
    await migrate(ch, config);
    reader = await createClickHouse(config.clickhouse, { readonlyUser: true });
    const app = createHttpServer({ logLevel: false, bodyLimit: 1_048_576 });
    registerQueryApi(app, config, reader, { standalone: true });
    const http = await app.listen({ host: '127.0.0.1', port: 0 });
    api = {
      http,
      close: async () => {
        await app.close();
      },
    };
  });
  afterAll(async () => {
    await api?.close();
    await reader?.close();
    await ch?.close();
  });

  it('refuses a second statement, DDL, settings and table functions, and leaves no session state behind', async () => {
    expect((await sql(api.http, { sql: 'SELECT 1; DROP TABLE spans' }, '')).json().error?.code).toBe('QUERY_ERR_MULTI_STATEMENT');
    expect((await sql(api.http, { sql: 'DROP TABLE spans' }, '')).json().error?.code).toBe('QUERY_ERR_NOT_SELECT');
    // Refused either by the guard or, first, by ClickHouse itself: the API reads as the read-only user here too.
    expect((await sql(api.http, { sql: 'SELECT 1 SETTINGS readonly = 0' }, '')).json().error?.code).toMatch(/^QUERY_ERR_(SETTINGS|FORBIDDEN)$/);
    expect((await sql(api.http, { sql: "SELECT * FROM file('/etc/passwd', 'LineAsString')" }, '')).json().error?.code).toBe('QUERY_ERR_TABLE_FUNCTION');
    expect((await sql(api.http, { sql: 'SELECT count() AS n FROM spans' }, '')).json().data).toEqual([{ n: '0' }]);
    // The tenant filter and limits went with the query, not onto the writer's settings.
    const session = await (
      await ch.client.query({ query: "SELECT getSetting('additional_table_filters') AS f, getSetting('max_result_rows') AS r", format: 'JSONEachRow' })
    ).json();
    expect(session.map((r) => ({ ...(r as object), r: Number((r as { r: unknown }).r) }))).toEqual([{ f: {}, r: 0 }]);
    const tables = await (
      await ch.client.query({ query: `SELECT count() AS n FROM system.tables WHERE database = '${ch.database}' AND name = 'spans'`, format: 'JSONEachRow' })
    ).json();
    expect(tables).toEqual([{ n: '1' }]);
  });
});
