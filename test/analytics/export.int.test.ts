import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query as chdbQuery } from 'chdb';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { clickhouseUrl } from '../setup/services.js';
import { runCli } from '../cli/run-cli.js';
import { HOUR_MS, pastHour, postAll, traffic } from './analytics-data.js';

/**
 * `ssf analytics export` as a user runs it: a separate process against the
 * integration ClickHouse, over rows that went through the real gateway. The
 * Parquet files are read back with chDB (in this process) and compared with
 * the table read through the writer client.
 */

const H0 = pastHour(3);
const ENDPOINTS = [
  { service: 'web', name: 'GET /', indicator: true, failEvery: 10, durationsMs: [3, 5, 8] },
  { service: 'api', name: 'POST /pay', indicator: false, failEvery: 4, durationsMs: [20, 40] },
];

let aio: AllInOne;
let out: string;
let db: string;

const cli = (args: string[]) => runCli(['analytics', ...args, '--clickhouse-url', clickhouseUrl(), '--database', db], {}, 60_000);

/** Rows of a query on the integration server, as JSON objects. */
async function rows(sql: string): Promise<Array<Record<string, unknown>>> {
  return (await aio.ch.client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
}

/** Rows of a query on the Parquet files, read by chDB in this process. */
function parquetRows(sql: string): Array<Record<string, unknown>> {
  const text = chdbQuery(`${sql} SETTINGS output_format_json_quote_64bit_integers = 1`, 'JSONEachRow');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  aio = await startAllInOne('analytics_export', { SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokB=globex' });
  db = aio.ch.database;
  // Two hours of acme's traffic, and globex's in the same hours (which must not be exported).
  await postAll(aio.post, traffic(ENDPOINTS, H0, H0 + 2 * HOUR_MS, 150, 1), 'tokA');
  await postAll(aio.post, traffic(ENDPOINTS, H0, H0 + 2 * HOUR_MS, 40, 2), 'tokB');
  out = mkdtempSync(join(tmpdir(), 'ssf-export-'));
});

afterAll(async () => {
  await aio?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

const SPAN_COLUMNS = `toString(trace_id) AS t, toString(span_id) AS s, toString(parent_id) AS p, toString(service) AS service, toString(name) AS name,
  toString(toUnixTimestamp64Nano(start)) AS start_ns, toString(duration_ns) AS d, error, indicator, toString(toUnixTimestamp64Nano(root_start)) AS root_ns,
  mapSort(CAST(tags, 'Map(String, String)')) AS tags`;

describe('ssf analytics export', () => {
  it("writes one Parquet file per hour holding exactly the tenant's rows of the table", async () => {
    const dir = join(out, 'spans');
    const r = await cli([
      'export',
      '--table',
      'spans',
      '--from',
      new Date(H0).toISOString(),
      '--to',
      new Date(H0 + 2 * HOUR_MS).toISOString(),
      '--out',
      dir,
      '--tenant',
      'acme',
      '--json',
      '--state',
      join(out, 'spans.state.json'),
    ]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { rows: number; parts: Array<{ file: string; rows: number }> };
    expect(readdirSync(dir).sort()).toEqual(result.parts.map((p) => p.file).sort());
    expect(result.parts).toHaveLength(2);
    // Plain progress on a pipe: the closing line says what was done.
    expect(r.stderr).toMatch(/export 2 parts written, 0 already done; 300 rows/);

    const table = await rows(`SELECT ${SPAN_COLUMNS} FROM ${db}.spans WHERE tenant = 'acme' ORDER BY s`);
    expect(table).toHaveLength(300);
    const fromParquet = parquetRows(`SELECT ${SPAN_COLUMNS} FROM file('${dir}/*.parquet', Parquet) ORDER BY s`);
    expect(fromParquet).toEqual(table);
    // Each file holds its own hour.
    for (const [i, part] of result.parts.entries()) {
      const [span] = parquetRows(
        `SELECT min(toUnixTimestamp64Milli(start)) AS lo, max(toUnixTimestamp64Milli(start)) AS hi, count() AS n FROM file('${join(dir, part.file)}', Parquet)`,
      );
      expect(Number(span?.['lo'])).toBeGreaterThanOrEqual(H0 + i * HOUR_MS);
      expect(Number(span?.['hi'])).toBeLessThan(H0 + (i + 1) * HOUR_MS);
      expect(Number(span?.['n'])).toBe(part.rows);
    }
  });

  it('resumes: a rerun rewrites only the missing file, and a third run writes nothing', async () => {
    const dir = join(out, 'logs');
    const state = join(out, 'logs.state.json');
    const args = [
      'export',
      '--table',
      'logs',
      '--from',
      String(H0),
      '--to',
      String(H0 + 2 * HOUR_MS),
      '--out',
      dir,
      '--tenant',
      'acme',
      '--state',
      state,
      '--json',
    ];
    const first = await cli(args);
    expect(first.code).toBe(0);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    const sizes = files.map((f) => statSync(join(dir, f)).size);

    rmSync(join(dir, files[1] as string));
    const second = await cli(args);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/1 parts written, 1 already done/);
    expect(readdirSync(dir).sort()).toEqual(files);
    expect(files.map((f) => statSync(join(dir, f)).size)).toEqual(sizes);

    const third = await cli(args);
    expect(third.stderr).toMatch(/0 parts written, 2 already done/);

    const logColumns = `toString(toUnixTimestamp64Nano(timestamp)) AS ts, toString(service) AS service, body, toString(severity) AS severity, severity_number, toString(trace_id) AS t, toString(span_id) AS s`;
    const table = await rows(`SELECT ${logColumns} FROM ${db}.logs WHERE tenant = 'acme' ORDER BY body`);
    expect(table).toHaveLength(300);
    expect(parquetRows(`SELECT ${logColumns} FROM file('${dir}/*.parquet', Parquet) ORDER BY body`)).toEqual(table);
  });

  it('exports the rollups merged and finalized, one row per series and minute', async () => {
    const dir = join(out, 'metrics_1m');
    const r = await cli([
      'export',
      '--table',
      'metrics_1m',
      '--from',
      String(H0),
      '--to',
      String(H0 + 2 * HOUR_MS),
      '--out',
      dir,
      '--tenant',
      'acme',
      '--chunk',
      '30m',
      '--state',
      join(out, 'm.state.json'),
    ]);
    expect(r.code).toBe(0);
    expect(readdirSync(dir)).toHaveLength(4);
    const expected = await rows(`SELECT name, toString(tags_hash) AS h, toUnixTimestamp(bucket) AS b, sum(count) AS c, round(sum(sum), 6) AS s
      FROM ${db}.metrics_1m WHERE tenant = 'acme' GROUP BY name, tags_hash, bucket ORDER BY name, h, b`);
    const got = parquetRows(
      `SELECT name, toString(tags_hash) AS h, toUnixTimestamp(bucket) AS b, count AS c, round(sum, 6) AS s FROM file('${dir}/*.parquet', Parquet) ORDER BY name, h, b`,
    );
    expect(got).toEqual(expected);
    // The counter was sent with sample rate 0.5: each of the 300 samples counts 2.
    const requests = got.filter((x) => x['name'] === 'requests').reduce((n, x) => n + Number(x['c']), 0);
    expect(requests).toBe(600);
  });

  it.each([
    [['export', '--from', 'now-1h', '--to', 'now', '--out', '/tmp/x'], /--table is required/],
    [['export', '--table', 'spans', '--from', 'now-1h', '--to', 'now'], /--out DIR is required/],
    [['export', '--table', 'spans', '--from', 'now', '--to', 'now-1h', '--out', '/tmp/x'], /--to must be after --from/],
    [['export', '--table', 'spans', '--from', 'now-1h', '--to', 'now', '--out', '/tmp/x', '--chunk', '90s'], /--chunk must be whole minutes/],
    [['export', '--table', 'users', '--from', 'now-1h', '--to', 'now', '--out', '/tmp/x'], /--table "users" is not one of/],
  ])('refuses bad arguments with exit 2: %j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
