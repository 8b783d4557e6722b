// Query API latency on 10M spans and 10M log lines, each against the same
// question asked of ClickHouse directly, in the same run: the fastest query
// written by hand for the same answer, and a full scan. The server keeps a
// query_log, so each API row also says what its ClickHouse queries cost
// (queries per request, rows read, ClickHouse time): the rest is the API's
// own (HTTP, auth, tenant scope, SQL building, JSON, highlights).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createHttpServer } from '../../src/http/create-http-server.js';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { FOLDED_BODY } from '../../query/logs/body-tokens.js';
import { registerQueryApi } from '../../query/query-api.js';
import { printNote, printTable } from './measure.js';

const SPANS = Number(process.env['SSF_BENCH_QUERY_SPANS'] ?? 10_000_000);
const LOGS = Number(process.env['SSF_BENCH_QUERY_LOGS'] ?? 10_000_000);
const CHUNK = 1_000_000;
const SPANS_PER_TRACE = 10;
const SERVICES = 20;
const RARE_EVERY = 100_003; // one log line in this many holds the rare term
const DAY_NS = 86_400n * 1_000_000_000n;
const WARM_UPS = 10;
const TRACE_LOOKUPS = 300;
/** Requests per measured log or metric question (a p99 wants a few hundred). */
const SEARCHES = 200;
const PAGE = 100;
/** `trace`: only the trace-by-id measures (the log and metric ones take minutes on 2 cores). */
const ONLY = process.env['SSF_BENCH_QUERY_ONLY'] ?? '';

const WORDS = [
  'request',
  'completed',
  'started',
  'user',
  'session',
  'payment',
  'declined',
  'accepted',
  'cache',
  'miss',
  'hit',
  'retry',
  'timeout',
  'connection',
  'reset',
  'upstream',
  'database',
  'query',
  'slow',
  'fast',
  'queue',
  'full',
  'empty',
  'worker',
  'shutdown',
  'config',
  'reload',
  'token',
  'expired',
  'refreshed',
  'order',
  'shipped',
  'invoice',
  'created',
  'deleted',
  'updated',
  'login',
  'logout',
  'password',
  'changed',
  'rate',
  'limited',
  'throttled',
  'batch',
  'flushed',
  'index',
  'rebuilt',
];

interface Latencies {
  p50: number;
  p99: number;
  n: number;
}

function percentiles(ms: number[]): Latencies {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { p50: at(0.5), p99: at(0.99), n: s.length };
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Times fn(0..n-1) one after another, after WARM_UPS calls fn(-1), fn(-2), ... that are not timed. */
async function repeat(n: number, fn: (i: number) => Promise<void>): Promise<Latencies> {
  // Warm-up: a server's first requests compile its code paths (JIT) and load
  // each part's marks; a p99 of a few hundred calls would otherwise be made of them.
  for (let w = 1; w <= WARM_UPS; w++) await fn(-w);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push(await timed(() => fn(i)));
  return percentiles(ms);
}

/**
 * Like repeat, for two functions taking turns on the same i: both see the
 * same moments of a busy machine. Which goes first alternates: the first to
 * read a trace's granules pays for loading them (with `a` always first, a
 * trace by id seemed slower through the API than it is: the same statement
 * run twice per trace took about 4 ms more the first time).
 */
async function sideBySide(n: number, a: (i: number) => Promise<void>, b: (i: number) => Promise<void>): Promise<[Latencies, Latencies]> {
  for (let w = 1; w <= WARM_UPS; w++) {
    await a(-w);
    await b(-w);
  }
  const ms: [number[], number[]] = [[], []];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      ms[0].push(await timed(() => a(i)));
      ms[1].push(await timed(() => b(i)));
    } else {
      ms[1].push(await timed(() => b(i)));
      ms[0].push(await timed(() => a(i)));
    }
  }
  return [percentiles(ms[0]), percentiles(ms[1])];
}

export async function generate(ch: ClickHouse, t0Ns: bigint): Promise<void> {
  const db = ch.database;
  const traces = SPANS / SPANS_PER_TRACE;
  const traceStepNs = DAY_NS / BigInt(traces);
  for (let offset = 0; offset < SPANS; offset += CHUNK) {
    await ch.client.command({
      query: `INSERT INTO ${db}.spans (tenant, trace_id, span_id, parent_id, service, name, start, duration_ns, error, indicator, root_start, tags)
        SELECT 'default',
          toInt64(cityHash64(intDiv(number, ${SPANS_PER_TRACE}))),
          toInt64(cityHash64(number, 1)),
          if(number % ${SPANS_PER_TRACE} = 0, 0, toInt64(cityHash64(intDiv(number, ${SPANS_PER_TRACE}) * ${SPANS_PER_TRACE}, 1))),
          concat('svc', toString(cityHash64(number, 2) % ${SERVICES})),
          concat('op', toString(cityHash64(number, 3) % 50)),
          fromUnixTimestamp64Nano(toInt64(${t0Ns} + intDiv(number, ${SPANS_PER_TRACE}) * ${traceStepNs} + (number % ${SPANS_PER_TRACE}) * 1000000)),
          toInt64(100000 + cityHash64(number, 4) % 500000000),
          cityHash64(number, 5) % 100 = 0,
          number % ${SPANS_PER_TRACE} = 0 AND cityHash64(number, 6) % 2 = 0,
          fromUnixTimestamp64Nano(toInt64(${t0Ns} + intDiv(number, ${SPANS_PER_TRACE}) * ${traceStepNs})),
          map('region', concat('r', toString(number % 4)), 'http.method', 'GET')
        FROM numbers(${offset}, ${Math.min(CHUNK, SPANS - offset)})`,
    });
  }
  const logStepNs = DAY_NS / BigInt(LOGS);
  const words = `[${WORDS.map((w) => `'${w}'`).join(', ')}]`;
  for (let offset = 0; offset < LOGS; offset += CHUNK) {
    await ch.client.command({
      query: `INSERT INTO ${db}.logs (tenant, service, timestamp, severity, severity_number, body, trace_id, span_id, attributes)
        SELECT 'default',
          concat('svc', toString(number % ${SERVICES})),
          fromUnixTimestamp64Nano(toInt64(${t0Ns} + number * ${logStepNs})),
          ['info', 'info', 'info', 'warn', 'error', 'debug'][1 + number % 6],
          [9, 9, 9, 13, 17, 5][1 + number % 6],
          concat(${words}[1 + cityHash64(number, 7) % ${WORDS.length}], ' ', ${words}[1 + cityHash64(number, 8) % ${WORDS.length}],
                 ' user ', toString(number % 100000), ' in ', toString(number % 977), ' ms',
                 if(number % ${RARE_EVERY} = 0, ' kafkaesque', '')),
          toInt64(cityHash64(intDiv(number, ${SPANS_PER_TRACE}))),
          toInt64(cityHash64(number, 1)),
          map('host', concat('h', toString(number % 16)))
        FROM numbers(${offset}, ${Math.min(CHUNK, LOGS - offset)})`,
    });
  }
}

/** What ClickHouse did for the requests of one measured phase (from its query_log). */
interface ServerShare {
  queriesPerRequest: number;
  rowsPerRequest: number;
  msPerRequest: number;
}

export async function queryBench(): Promise<void> {
  // A query_log, to tell ClickHouse's time from the API's own.
  const confDir = await mkdtemp(join(tmpdir(), 'ssf-qbench-'));
  const configFile = join(confDir, 'query-log.xml');
  await writeFile(configFile, '<clickhouse><query_log><database>system</database><table>query_log</table></query_log></clickhouse>\n');
  const server = await startClickHouseServer({ log: () => {}, configFile });
  // Inserting 1M generated rows at a time can take minutes on a busy machine.
  const env = { SSF_CLICKHOUSE_URL: server.url, SSF_CLICKHOUSE_DATABASE: 'ssf_qbench', SSF_CLICKHOUSE_REQUEST_TIMEOUT_MS: '900000' };
  const config = loadConfig({ env });
  const ch = await createClickHouse(config.clickhouse);
  const reader = await createClickHouse(config.clickhouse, { readonlyUser: true });
  const app = createHttpServer({ logLevel: false, bodyLimit: 1_048_576 });
  registerQueryApi(app, config, reader, { standalone: true });
  const http = await app.listen({ host: '127.0.0.1', port: 0 });
  // The same API remembering no search's density (query.logDensityTtlMs 0):
  // what the first search of a word costs.
  const forgetful = createHttpServer({ logLevel: false, bodyLimit: 1_048_576 });
  registerQueryApi(forgetful, loadConfig({ env: { ...env, SSF_QUERY_LOG_DENSITY_TTL_MS: '0' } }), reader, { standalone: true });
  const forgetfulHttp = await forgetful.listen({ host: '127.0.0.1', port: 0 });
  try {
    await migrate(ch, config);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const t0Ns = nowNs - DAY_NS;
    const genMs = await timed(() => generate(ch, t0Ns));
    await ch.client.command({ query: `OPTIMIZE TABLE ${ch.database}.trace_index FINAL` });
    // Measure the steady state: background merges of the fresh parts would compete for the two cores.
    const settleStart = Date.now();
    while (Date.now() - settleStart < 180_000) {
      const merging = await (await ch.client.query({ query: 'SELECT count() AS n FROM system.merges', format: 'JSONEachRow' })).json<{ n: string }>();
      if (Number(merging[0]?.n) === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const sizes = await (
      await ch.client.query({
        query: `SELECT table, sum(rows) AS rows, formatReadableSize(sum(bytes_on_disk)) AS size FROM system.parts WHERE database = {db:String} AND active GROUP BY table ORDER BY table`,
        query_params: { db: ch.database },
        format: 'JSONEachRow',
      })
    ).json<{ table: string; rows: string; size: string }>();
    printNote(
      `(generated ${SPANS.toLocaleString('en')} spans and ${LOGS.toLocaleString('en')} log lines over 24 h in ${(genMs / 1000).toFixed(1)} s: ${sizes.map((s) => `${s.table} ${Number(s.rows).toLocaleString('en')} rows ${s.size}`).join(', ')})`,
    );

    const get = async (path: string, base = http): Promise<void> => {
      const res = await fetch(`${base}${path}`);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer();
    };
    const scan = async (query: string, params: Record<string, unknown> = {}): Promise<void> => {
      const rs = await ch.client.query({ query, query_params: params, format: 'JSONEachRow' });
      await rs.json();
    };
    const one = async <T>(query: string, params: Record<string, unknown> = {}): Promise<T> =>
      (await (await ch.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>())[0] as T;

    /**
     * The API requests of a phase, taking turns with the hand-written query
     * of the same question (both see the same moments of a busy machine),
     * then what the API's queries cost from the query_log: those sent with
     * the API's request settings (additional_table_filters), which no
     * hand-written query has.
     */
    const apiPhase = async (
      n: number,
      fn: (i: number) => Promise<void>,
      byHand: (i: number) => Promise<void>,
    ): Promise<{ api: Latencies; hand: Latencies; server: ServerShare }> => {
      const since = await one<{ t: string }>('SELECT toString(now64(6)) AS t');
      const [api, hand] = await sideBySide(n, fn, byHand);
      await ch.client.command({ query: 'SYSTEM FLUSH LOGS' });
      const share = await one<{ q: string; rows: string; ms: string }>(
        `SELECT count() AS q, sum(read_rows) AS rows, sum(query_duration_ms) AS ms FROM system.query_log
          WHERE type = 'QueryFinish' AND event_time_microseconds > toDateTime64({since:String}, 6) AND query_kind = 'Select'
            AND has(databases, {db:String}) AND mapContains(Settings, 'additional_table_filters')`,
        { since: since.t, db: ch.database },
      );
      const requests = n + WARM_UPS;
      return {
        api,
        hand,
        server: { queriesPerRequest: Number(share.q) / requests, rowsPerRequest: Number(share.rows) / requests, msPerRequest: Number(share.ms) / requests },
      };
    };

    // Trace ids of random traces (the generator's id of trace k is cityHash64(k)).
    const traces = SPANS / SPANS_PER_TRACE;
    // Distinct traces: the measured ones, then the warm-up ones (never the same trace twice).
    const ks = Array.from({ length: TRACE_LOOKUPS + WARM_UPS }, (_, i) => Math.floor((((i * 7919) % 997) / 997) * traces));
    const ids = await (
      await ch.client.query({
        query: 'SELECT toString(toInt64(cityHash64(k))) AS id FROM (SELECT arrayJoin({ks:Array(UInt64)}) AS k)',
        query_params: { ks },
        format: 'JSONEachRow',
      })
    ).json<{ id: string }>();
    const idOf = (i: number): string => (ids[i >= 0 ? i : TRACE_LOOKUPS - 1 - i] as { id: string }).id;

    const rows: Array<Record<string, string | number>> = [];
    const add = (what: string, measured: { api: Latencies; hand: Latencies; server: ServerShare }, full: Latencies, target: string): void => {
      const hand = measured.hand;
      rows.push({
        query: what,
        'API p50 ms': measured.api.p50.toFixed(1),
        'API p99 ms': measured.api.p99.toFixed(1),
        'by hand p50 ms': hand.p50.toFixed(1),
        'by hand p99 ms': hand.p99.toFixed(1),
        'API / by hand (p99)': `${(measured.api.p99 / hand.p99).toFixed(2)}x`,
        'API / by hand (p50)': `${(measured.api.p50 / hand.p50).toFixed(2)}x`,
        'ClickHouse queries per request': measured.server.queriesPerRequest.toFixed(1),
        'ClickHouse ms per request': measured.server.msPerRequest.toFixed(1),
        'rows read per request': Math.round(measured.server.rowsPerRequest).toLocaleString('en'),
        'full scan p50 ms': full.p50.toFixed(1),
        target,
      });
    };

    // p99 wants a few hundred samples: of 50 it would be the slowest one.
    // Each answer must hold the trace's 10 spans and all its 10 logs (the
    // generator writes a trace's logs from services other than its spans').
    const traceApiCall = async (i: number): Promise<void> => {
      const res = await fetch(`${http}/v1/traces/${idOf(i)}`);
      if (res.status !== 200) throw new Error(`GET /v1/traces/${idOf(i)}: ${res.status} ${(await res.text()).slice(0, 300)}`);
      const t = (await res.json()) as { span_count: number; logs: unknown[] };
      if (t.span_count !== SPANS_PER_TRACE || (LOGS === SPANS && t.logs.length !== SPANS_PER_TRACE)) {
        throw new Error(`trace ${idOf(i)}: ${t.span_count} spans and ${t.logs.length} logs, expected ${SPANS_PER_TRACE} of each`);
      }
    };
    // The fastest single statement written by hand that returns the same
    // rows: the trace's time range from trace_index (a scalar subquery),
    // its spans by the key of spans, its logs by the trace-id bloom filter of
    // logs in that range (its samples: none here). No tenant settings, no casts.
    const handWritten = `WITH (SELECT (min(start), max(end)) FROM ${ch.database}.trace_index WHERE tenant = 'default' AND trace_id = {id:Int64}) AS r
      SELECT 1 AS part, start AS ts, span_id, parent_id, service, name, duration_ns, error, indicator, tags AS fields, '' AS severity, '' AS body
        FROM ${ch.database}.spans WHERE tenant = 'default' AND start >= r.1 AND start <= r.2 AND trace_id = {id:Int64}
      UNION ALL
      WITH (SELECT (min(start), max(end)) FROM ${ch.database}.trace_index WHERE tenant = 'default' AND trace_id = {id:Int64}) AS r
      SELECT 2, timestamp, span_id, 0, service, '', 0, false, false, attributes, toString(severity), body
        FROM ${ch.database}.logs WHERE tenant = 'default' AND timestamp >= r.1 - INTERVAL 60 SECOND AND timestamp <= r.2 + INTERVAL 60 SECOND AND trace_id = {id:Int64}`;
    const traceHandCall = async (i: number): Promise<void> => {
      const rs = await ch.client.query({ query: handWritten, query_params: { id: idOf(i) }, format: 'JSONEachRow' });
      const got = await rs.json();
      if (LOGS === SPANS && got.length !== 2 * SPANS_PER_TRACE) throw new Error(`hand-written query: ${got.length} rows for trace ${idOf(i)}`);
    };
    // Taking turns, trace by trace: the two see the same load. The query_log
    // tells ClickHouse's time from the rest (HTTP, JSON, the API's own work).
    const traceSince = await one<{ t: string }>('SELECT toString(now64(6)) AS t');
    const [traceApi, traceHand] = await sideBySide(TRACE_LOOKUPS, traceApiCall, traceHandCall);
    await ch.client.command({ query: 'SYSTEM FLUSH LOGS' });
    const traceServer = await one<{ api: number[]; hand: number[] }>(
      `SELECT quantilesExactIf(0.5, 0.99)(query_duration_ms, mapContains(Settings, 'additional_table_filters')) AS api,
              quantilesExactIf(0.5, 0.99)(query_duration_ms, NOT mapContains(Settings, 'additional_table_filters')) AS hand
         FROM system.query_log
        WHERE type = 'QueryFinish' AND event_time_microseconds > toDateTime64({since:String}, 6) AND query_kind = 'Select'
          AND has(databases, {db:String}) AND query LIKE '%UNION ALL%'`,
      { since: traceSince.t, db: ch.database },
    );
    const traceScan = await repeat(5, (i) => scan(`SELECT * FROM ${ch.database}.spans WHERE toString(trace_id) = {id:String}`, { id: idOf(i) }));
    printTable(`Trace by id with all its logs: the API against one hand-written ClickHouse statement for the same rows (${TRACE_LOOKUPS} traces each)`, [
      {
        query: 'GET /v1/traces/{id} (spans, logs, samples; assembled)',
        'p50 ms': traceApi.p50.toFixed(1),
        'p99 ms': traceApi.p99.toFixed(1),
      },
      {
        query: "  of which ClickHouse's own time (query_log)",
        'p50 ms': String(traceServer.api[0] ?? ''),
        'p99 ms': String(traceServer.api[1] ?? ''),
      },
      {
        query: 'hand-written statement (spans and logs rows)',
        'p50 ms': traceHand.p50.toFixed(1),
        'p99 ms': traceHand.p99.toFixed(1),
      },
      {
        query: "  of which ClickHouse's own time (query_log)",
        'p50 ms': String(traceServer.hand[0] ?? ''),
        'p99 ms': String(traceServer.hand[1] ?? ''),
      },
      {
        query: 'API / hand-written',
        'p50 ms': `${(traceApi.p50 / traceHand.p50).toFixed(2)}x`,
        'p99 ms': `${(traceApi.p99 / traceHand.p99).toFixed(2)}x`,
      },
      { query: 'full scan of spans (no key, no index)', 'p50 ms': traceScan.p50.toFixed(1), 'p99 ms': traceScan.p99.toFixed(1) },
      { query: 'target', 'p50 ms': '', 'p99 ms': 'API <= 25 ms' },
    ]);
    if (ONLY === 'trace') return;

    // Log search: the API's page (its own columns, newest first) against the
    // fastest SELECT of the same page by hand: one query, straight on the
    // table, bounded to the time window that holds the page (known here in
    // advance, which the API cannot know), the words as hasToken on the
    // case-folded body (the index the API searches, migration 0016).
    const db = ch.database;
    const logColumns = 'timestamp, service, severity, body, trace_id, trace_id_high, span_id, attributes';
    // Each search is asked SEARCHES times, as a dashboard's refresh asks it:
    // the API remembers its density (query.logDensityTtlMs); `firstSearch`
    // also measures it on the API that remembers nothing.
    const logSearch = async (what: string, q: string, condition: string, target: string, firstSearch = false): Promise<void> => {
      const oldest = await one<{ ns: string }>(
        `SELECT toString(min(ts)) AS ns FROM (SELECT toUnixTimestamp64Nano(timestamp) AS ts FROM ${db}.logs WHERE tenant = 'default' AND ${condition} ORDER BY timestamp DESC LIMIT ${PAGE})`,
      );
      const byHand = () =>
        scan(
          `SELECT ${logColumns} FROM ${db}.logs WHERE tenant = 'default' AND timestamp >= fromUnixTimestamp64Nano({oldest:Int64}) AND ${condition}
              ORDER BY timestamp DESC LIMIT ${PAGE}`,
          { oldest: oldest.ns },
        );
      const path = `/v1/logs?q=${encodeURIComponent(q)}&from=now-25h&limit=${PAGE}`;
      const measured = await apiPhase(SEARCHES, () => get(path), byHand);
      const full = await repeat(5, () =>
        scan(`SELECT ${logColumns} FROM ${db}.logs WHERE ${condition} ORDER BY timestamp DESC LIMIT ${PAGE} SETTINGS use_skip_indexes = 0`),
      );
      add(`${what}, asked again`, measured, full, target);
      if (firstSearch) add(`${what}, first search (no density kept)`, await apiPhase(SEARCHES, () => get(path, forgetfulHttp), byHand), full, target);
    };
    await logSearch(
      'log search, rare term (GET /v1/logs?q=kafkaesque)',
      'kafkaesque',
      `hasToken(${FOLDED_BODY}, 'kafkaesque')`,
      'p99 <= 50 ms, <= 1.5x by hand',
      true,
    );
    await logSearch(
      'log search, two common terms (q=payment declined)',
      'payment declined',
      `hasToken(${FOLDED_BODY}, 'payment') AND hasToken(${FOLDED_BODY}, 'declined')`,
      'p99 <= 50 ms, <= 1.5x by hand',
    );

    // One metric over 24 h: a day of one service's p99 by hour. By hand: the
    // per-service rollup series the API reads (ssf.service.duration in metrics_1h).
    const service = (i: number): string => `svc${Math.max(0, i) % SERVICES}`;
    const metric = await apiPhase(
      SEARCHES,
      (i) => get(`/v1/metrics/query?name=ssf.span.duration&tag=service:${service(i)}&agg=p99&step=1h&from=now-24h&to=now`),
      (i) =>
        scan(
          `SELECT toStartOfHour(bucket) AS h, quantileDDMerge(0.01, 0.99)(quantiles) AS p99 FROM ${db}.metrics_1h
            WHERE tenant = 'default' AND name = 'ssf.service.duration' AND bucket >= now() - INTERVAL 24 HOUR AND tags['service'] = {s:String}
            GROUP BY h ORDER BY h`,
          { s: service(i) },
        ),
    );
    const metricScan = await repeat(5, (i) =>
      scan(
        `SELECT toStartOfHour(start) AS h, quantile(0.99)(duration_ns / 1e6) AS p99 FROM ${db}.spans WHERE service = {s:String} AND start >= now() - INTERVAL 24 HOUR GROUP BY h ORDER BY h`,
        { s: service(i) },
      ),
    );
    add('p99 of one metric over 24 h (GET /v1/metrics/query)', metric, metricScan, 'p99 <= 30 ms');

    printTable(
      `Query API on ${(SPANS / 1e6).toFixed(0)}M spans and ${(LOGS / 1e6).toFixed(0)}M log lines (ClickHouse HTTP endpoint, 2 cores; by hand = the fastest SELECT of the same answer straight on ClickHouse, taking turns with the API request by request; full scan = the same question without the keys and indexes; ClickHouse ms = its query_log durations, the rest of the API time is the API's own)`,
      rows,
    );
  } finally {
    await forgetful.close();
    await app.close();
    await reader.close();
    await ch.close();
    await server.stop({ removeDataDir: true });
    await rm(confDir, { recursive: true, force: true });
  }
}
