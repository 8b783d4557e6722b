import { Readable } from 'node:stream';
import { encodeSpan } from '../../src/codec/index.js';
import type { LogRecord, LogSeverity, MetricSample, MetricType, SpanEvent } from '../../src/codec/index.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { EventRowBinary, ROW_BINARY_COLUMNS as COLUMNS } from '../../src/clickhouse/event-row-binary.js';
import { appendRows, emptyRows } from '../../src/clickhouse/event-rows.js';
import { createEventBatch, insertBatch, insertRows, insertSettings } from '../../src/clickhouse/event-writer.js';
import type { EventTable } from '../../src/clickhouse/event-batch.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { quoteIdent } from '../../src/clickhouse/quote-ident.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { printNote, printTable } from './measure.js';
import { processCpuSeconds } from './process-stats.js';
import { seededRandom } from '../setup/random.js';
import { spanEvent } from '../../src/codec/span-event.js';

/**
 * Storage and insert cost of the event tables, on a ClickHouse started here
 * (its own data directory and databases):
 * - bytes per span, log record and sample after OPTIMIZE ... FINAL (active
 *   parts), next to the SSF protobuf size of the same event; the most
 *   expensive columns and skip indexes; schema alternatives measured on
 *   copies of the same rows in a scratch database (never the migrations),
 *   with the rows a trace fetch and an operation query read in each layout;
 * - insert throughput of the writer (createEventBatch + insertBatch: RowBinary
 *   in server mode; and JSONEachRow rows, the readable reference path) against
 *   ClickHouse ingesting the same rows as RowBinary encoded beforehand (the baseline,
 *   same run, same tables and materialized views, checked to hold the same
 *   rows), per second and per CPU-second of this process and of the server.
 *   Medians over the inserts: other processes on the machine disturb single runs.
 * SSF_BENCH_STORAGE_EVENTS scales the data (default 1,000,000 of each kind).
 */

const EVENTS = Number(process.env['SSF_BENCH_STORAGE_EVENTS'] ?? 1_000_000);
/** Rows per insert: the materializer's default batch (materializer.batchRows). */
const CHUNK = 100_000;
/** The data covers one hour, ending a few minutes ago (well inside every TTL). */
const T0_NS = (BigInt(Date.now()) - 3_900_000n) * 1_000_000n;
const HOUR_NS = 3_600_000_000_000;

// --- deterministic, realistic data --------------------------------------------

const rand = seededRandom(7);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
/** A value from weighted choices: [[value, weight], ...]. */
function weighted<T>(choices: ReadonlyArray<readonly [T, number]>): T {
  let total = 0;
  for (const [, w] of choices) total += w;
  let r = rand() * total;
  for (const [v, w] of choices) {
    r -= w;
    if (r < 0) return v;
  }
  return (choices[choices.length - 1] as readonly [T, number])[0];
}
function logNormal(median: number, sigma: number): number {
  const u = 1 - rand();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()));
}
/** A random positive 63-bit id, as the emitter and Veneur make them. */
function randomId(): bigint {
  const id = (BigInt(int(2 ** 31)) << 32n) | BigInt(int(2 ** 32));
  return id === 0n ? 1n : id;
}
const hex = (digits: number): string => {
  let s = '';
  for (let i = 0; i < digits; i++) s += '0123456789abcdef'[int(16)];
  return s;
};

const SERVICES = ['frontend', 'checkout', 'cart', 'payments', 'catalog', 'search', 'users', 'inventory', 'shipping', 'notifications'] as const;
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2'] as const;
const NOUNS = ['orders', 'items', 'users', 'sessions', 'payments', 'products', 'carts', 'invoices', 'addresses', 'coupons'] as const;

interface Operation {
  name: string;
  method: string;
  http: boolean;
}
/** 30 operations per service: HTTP routes, database queries, cache and queue calls. */
const OPERATIONS: Record<string, Operation[]> = Object.fromEntries(
  SERVICES.map((service) => {
    const ops: Operation[] = [];
    for (const noun of NOUNS) {
      ops.push({ name: `GET /api/v1/${noun}/{id}`, method: 'GET', http: true });
      ops.push({ name: `${pick(['POST', 'PUT', 'DELETE'])} /api/v1/${noun}`, method: pick(['POST', 'PUT', 'DELETE']), http: true });
    }
    for (const noun of NOUNS.slice(0, 6)) ops.push({ name: `SELECT ${service}.${noun}`, method: 'GET', http: false });
    ops.push({ name: 'redis.GET', method: 'GET', http: false }, { name: 'redis.SET', method: 'GET', http: false });
    ops.push({ name: `kafka.produce ${service}-events`, method: 'POST', http: false }, { name: 'grpc.health.Check', method: 'GET', http: false });
    return [service, ops];
  }),
);
/** 5 hosts per service (50 in all), each in one region. */
const HOSTS: Record<string, Array<{ host: string; region: string }>> = Object.fromEntries(
  SERVICES.map((service, s) => [
    service,
    Array.from({ length: 5 }, (_, i) => ({ host: `ip-10-${s}-${i * 17 + 3}-${40 + i}.ec2.internal`, region: REGIONS[(s + i) % 3] as string })),
  ]),
);

const event = (fields: Partial<SpanEvent>): SpanEvent => spanEvent({ isTrace: false, ...fields });

/** `count` spans in 8-span traces, starting at a steady rate over the hour (span `first` onwards). */
function generateSpans(first: number, count: number, total: number): SpanEvent[] {
  const out: SpanEvent[] = [];
  while (out.length < count) {
    const at = first + out.length;
    const traceStart = T0_NS + BigInt(Math.floor((at / total) * HOUR_NS)) + BigInt(int(1_000_000_000));
    const traceId = randomId();
    const spans: SpanEvent[] = [];
    for (let i = 0; i < 8 && out.length + spans.length < count; i++) {
      const parent = i === 0 ? undefined : pick(spans);
      const service = parent === undefined || rand() < 0.5 ? pick(SERVICES) : parent.service;
      const ops = OPERATIONS[service] as Operation[];
      const op = parent === undefined ? (ops[int(20)] as Operation) : pick(ops);
      const where = pick(HOSTS[service] as Array<{ host: string; region: string }>);
      const start = parent === undefined ? traceStart : parent.startTimestamp + BigInt(int(Number(parent.endTimestamp - parent.startTimestamp) / 2));
      const duration = BigInt(Math.max(1000, Math.round(logNormal(parent === undefined ? 40e6 : 3e6, 1.2))));
      const error = rand() < 0.02;
      spans.push(
        event({
          traceId,
          id: i === 0 ? traceId : randomId(),
          parentId: parent?.id ?? 0n,
          startTimestamp: start,
          endTimestamp: start + duration,
          service,
          name: op.name,
          error,
          indicator: parent === undefined,
          isTrace: true,
          tags: {
            'http.method': op.method,
            'http.status_code': error
              ? pick(['500', '503', '504'])
              : weighted([
                  ['200', 90],
                  ['201', 4],
                  ['204', 2],
                  ['400', 2],
                  ['404', 2],
                ] as const),
            host: where.host,
            region: where.region,
          },
        }),
      );
    }
    out.push(...spans);
  }
  return out;
}

const LOG_TEMPLATES: ReadonlyArray<readonly [LogSeverity, () => string]> = [
  ['info', () => `GET /api/v1/orders/${int(1e7)} 200 ${int(300)}ms`],
  ['info', () => `POST /api/v1/carts/${hex(8)}/items 201 ${int(120)}ms bytes=${int(5000)}`],
  ['info', () => `order ${int(1e8)} placed by user ${int(1e6)}: ${1 + int(9)} items, total ${(rand() * 500).toFixed(2)} EUR`],
  ['info', () => `payment ${hex(24)} authorised for ${(rand() * 300).toFixed(2)} USD via ${pick(['visa', 'mastercard', 'amex', 'paypal'])}`],
  ['info', () => `user ${int(1e6)} logged in from ${int(256)}.${int(256)}.${int(256)}.${int(256)}`],
  ['info', () => `shipment ${hex(12).toUpperCase()} handed to ${pick(['DHL', 'UPS', 'FedEx', 'La Poste'])}, ETA ${1 + int(6)} days`],
  ['info', () => `cache refresh of ${pick(NOUNS)} finished: ${int(50000)} keys in ${int(900)}ms`],
  ['info', () => `consumer group ${pick(SERVICES)}-workers rebalanced: ${1 + int(12)} partitions assigned`],
  ['info', () => `search "${pick(['red shoes', 'laptop', 'phone case', 'coffee', 'desk lamp', 'headphones'])}" returned ${int(2000)} hits in ${int(80)}ms`],
  ['info', () => `email ${pick(['order_confirmation', 'password_reset', 'shipping_update', 'newsletter'])} queued for user ${int(1e6)}`],
  ['info', () => `inventory reserved: sku ${int(1e6)} x${1 + int(4)} for order ${int(1e8)}`],
  ['info', () => `request completed request_id=${hex(16)} status=200 duration_ms=${int(400)}`],
  ['debug', () => `SELECT * FROM ${pick(NOUNS)} WHERE id = ${int(1e7)} took ${(rand() * 20).toFixed(3)}ms (rows=${int(50)})`],
  ['debug', () => `redis GET ${pick(NOUNS)}:${int(1e6)} ${rand() < 0.8 ? 'hit' : 'miss'} in ${(rand() * 2).toFixed(3)}ms`],
  ['debug', () => `feature flag ${pick(['new_checkout', 'fast_search', 'dark_mode', 'one_click'])} evaluated to ${rand() < 0.5} for user ${int(1e6)}`],
  ['warn', () => `slow query on ${pick(NOUNS)}: ${500 + int(4500)}ms (threshold 500ms)`],
  ['warn', () => `retrying ${pick(['payments', 'inventory', 'shipping'])} call (attempt ${1 + int(3)}/3): connection reset by peer`],
  ['warn', () => `rate limit close for client ${hex(8)}: ${800 + int(200)}/1000 requests this minute`],
  ['warn', () => `circuit breaker for ${pick(SERVICES)} half-open after ${int(30)}s`],
  ['error', () => `failed to charge card for order ${int(1e8)}: ${pick(['card_declined', 'insufficient_funds', 'expired_card', 'processing_error'])}`],
  ['error', () => `upstream ${pick(SERVICES)} returned 503 after ${int(5000)}ms (request_id=${hex(16)})`],
  [
    'error',
    () =>
      `java.lang.IllegalStateException: cart ${hex(8)} is already checked out\n\tat com.shop.cart.CartService.checkout(CartService.java:${100 + int(300)})\n\tat com.shop.api.CartController.post(CartController.java:${40 + int(80)})`,
  ],
];
const SEVERITY_NUMBER: Record<LogSeverity, number> = { unspecified: 0, trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

/** `count` log records, each in its carrier span (70 % inside a trace), at a steady rate over the hour. */
function generateLogs(first: number, count: number, total: number): SpanEvent[] {
  const out: SpanEvent[] = [];
  for (let i = 0; i < count; i++) {
    const severity = weighted([
      ['info', 80],
      ['debug', 8],
      ['warn', 8],
      ['error', 4],
    ] as const);
    const templates = LOG_TEMPLATES.filter(([s]) => s === severity);
    const service = pick(SERVICES);
    const inTrace = rand() < 0.7;
    const log: LogRecord = {
      timestamp: T0_NS + BigInt(Math.floor(((first + i) / total) * HOUR_NS)) + BigInt(int(1_000_000)),
      severity,
      severityNumber: SEVERITY_NUMBER[severity],
      body: (pick(templates) as readonly [LogSeverity, () => string])[1](),
      attributes: { logger: `com.shop.${service}.${pick(['api', 'service', 'repository', 'client'])}`, thread: `worker-${int(16)}` },
    };
    out.push(event({ traceId: inTrace ? randomId() : 0n, id: inTrace ? randomId() : 0n, service, logs: [log] }));
  }
  return out;
}

interface Series {
  name: string;
  type: MetricType;
  unit: string;
  rate: number;
  tags: Record<string, string>;
  level: number;
}
/** ~200 series: 25 metric names, each with its own tag sets. */
const SERIES: Series[] = (() => {
  const names: Array<[string, MetricType, string, number]> = [
    ['http.requests', 'counter', '', 0.1],
    ['http.errors', 'counter', '', 1],
    ['db.queries', 'counter', '', 0.5],
    ['cache.hits', 'counter', '', 0.1],
    ['cache.misses', 'counter', '', 1],
    ['kafka.messages', 'counter', '', 0.25],
    ['jobs.processed', 'counter', '', 1],
    ['emails.sent', 'counter', '', 1],
    ['http.latency', 'histogram', 'ms', 1],
    ['db.latency', 'histogram', 'ms', 1],
    ['render.time', 'histogram', 'ms', 1],
    ['queue.wait', 'histogram', 'ms', 1],
    ['payload.size', 'histogram', 'By', 1],
    ['gc.pause', 'histogram', 'ms', 1],
    ['checkout.total', 'histogram', '', 1],
    ['queue.depth', 'gauge', '', 1],
    ['pool.active', 'gauge', '', 1],
    ['memory.rss', 'gauge', 'By', 1],
    ['cpu.load', 'gauge', '', 1],
    ['goroutines', 'gauge', '', 1],
    ['disk.used', 'gauge', 'By', 1],
    ['users.active', 'set', '', 1],
    ['sessions.unique', 'set', '', 1],
    ['health.db', 'status', '', 1],
    ['health.cache', 'status', '', 1],
  ];
  const out: Series[] = [];
  for (const [name, type, unit, rate] of names) {
    for (let i = 0; i < 8; i++) {
      const service = SERVICES[(i * 3 + name.length) % SERVICES.length] as string;
      const where = (HOSTS[service] as Array<{ host: string; region: string }>)[i % 5] as { host: string; region: string };
      out.push({
        name,
        type,
        unit,
        rate,
        tags: {
          service,
          host: where.host,
          env: 'prod',
          ...(type === 'counter' || type === 'histogram' ? { endpoint: `/api/v1/${NOUNS[i] ?? 'orders'}` } : {}),
        },
        level: 10 + rand() * 1000,
      });
    }
  }
  return out;
})();

/** `count` samples round-robin over the series (statsd: no service, no trace), 50 per carrier span. */
function generateSamples(first: number, count: number, total: number): SpanEvent[] {
  const out: SpanEvent[] = [];
  let metrics: MetricSample[] = [];
  for (let i = 0; i < count; i++) {
    const s = SERIES[int(SERIES.length)] as Series;
    let value = 0;
    let message = '';
    let status: MetricSample['status'] = 'ok';
    if (s.type === 'counter')
      value = weighted([
        [1, 85],
        [2, 8],
        [5, 5],
        [10, 2],
      ] as const);
    else if (s.type === 'gauge') {
      s.level = Math.max(0, s.level + (rand() - 0.5) * 10);
      value = Math.round(s.level * 100) / 100;
    } else if (s.type === 'histogram') value = rand() < 0.5 ? Math.round(logNormal(20, 1)) : Math.round(logNormal(20, 1) * 1000) / 1000;
    else if (s.type === 'set') message = `user-${int(20_000)}`;
    else
      status = weighted([
        ['ok', 97],
        ['warning', 2],
        ['critical', 1],
      ] as const);
    metrics.push({
      type: s.type,
      name: s.name,
      value,
      timestamp: T0_NS + BigInt(Math.floor(((first + i) / total) * HOUR_NS)) + BigInt(int(1_000_000)),
      message,
      status,
      sampleRate: s.rate,
      tags: s.tags,
      unit: s.unit,
      scope: 'default',
    });
    if (metrics.length === 50) {
      out.push(event({ metrics }));
      metrics = [];
    }
  }
  if (metrics.length > 0) out.push(event({ metrics }));
  return out;
}

// --- ClickHouse's own ingest: RowBinary, encoded beforehand ---------------------

/** The table's rows as one RowBinary body (src/clickhouse/event-row-binary.ts), for the column lists of ROW_BINARY_COLUMNS. */
function encodeRowBinary(table: EventTable, events: readonly SpanEvent[]): Buffer {
  const rows = new EventRowBinary();
  for (const e of events) rows.append(e);
  return Buffer.concat(rows[table].chunks());
}

async function insertRowBinary(ch: ClickHouse, table: EventTable, body: Buffer, rows: number): Promise<void> {
  const result = await ch.client.exec({
    query: `INSERT INTO ${quoteIdent(ch.database)}.${table} (${COLUMNS[table]}) FORMAT RowBinary`,
    values: Readable.from([body]),
    clickhouse_settings: insertSettings(rows, table, undefined),
  });
  for await (const _ of result.stream) {
    // drain
  }
}

// --- measuring ---------------------------------------------------------------

const nodeCpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** One timed insert. */
interface Run {
  rows: number;
  seconds: number;
  nodeCpu: number;
  serverCpu: number;
  /** Node CPU of appendRows alone (our path). */
  appendCpu: number;
}

async function measure(runs: Run[], rows: number, serverPid: number, fn: (run: Run) => Promise<void>): Promise<void> {
  const run: Run = { rows, seconds: 0, nodeCpu: 0, serverCpu: 0, appendCpu: 0 };
  const node0 = nodeCpuSeconds();
  const server0 = processCpuSeconds(serverPid);
  const t0 = process.hrtime.bigint();
  await fn(run);
  run.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  run.nodeCpu = nodeCpuSeconds() - node0;
  run.serverCpu = processCpuSeconds(serverPid) - server0;
  runs.push(run);
}

/** The median over the runs (other processes on the machine disturb single runs). */
function median(runs: readonly Run[], f: (r: Run) => number): number {
  const xs = runs.map(f).sort((a, b) => a - b);
  const mid = xs.length >> 1;
  return xs.length % 2 ? (xs[mid] as number) : ((xs[mid - 1] as number) + (xs[mid] as number)) / 2;
}

async function queryRows<T>(ch: ClickHouse, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await ch.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}

interface PartsSize {
  rows: number;
  data: number;
  uncompressed: number;
  onDisk: number;
}
async function partsSize(ch: ClickHouse, database: string, table: string): Promise<PartsSize> {
  const [r] = await queryRows<{ rows: string; data: string; uncompressed: string; on_disk: string }>(
    ch,
    `SELECT sum(rows) AS rows, sum(data_compressed_bytes) AS data, sum(data_uncompressed_bytes) AS uncompressed, sum(bytes_on_disk) AS on_disk
     FROM system.parts WHERE database = {db:String} AND table = {table:String} AND active`,
    { db: database, table },
  );
  return { rows: Number(r?.rows ?? 0), data: Number(r?.data ?? 0), uncompressed: Number(r?.uncompressed ?? 0), onDisk: Number(r?.on_disk ?? 0) };
}

async function columnCosts(ch: ClickHouse, database: string, table: string, rows: number): Promise<Array<Record<string, string | number>>> {
  const cols = await queryRows<{ name: string; type: string; codec: string; data: string; uncompressed: string }>(
    ch,
    `SELECT name, type, compression_codec AS codec, data_compressed_bytes AS data, data_uncompressed_bytes AS uncompressed
     FROM system.columns WHERE database = {db:String} AND table = {table:String} AND data_compressed_bytes > 0 ORDER BY data_compressed_bytes DESC`,
    { db: database, table },
  );
  const total = cols.reduce((t, c) => t + Number(c.data), 0);
  return cols.map((c) => ({
    column: c.name,
    type: c.type.length > 40 ? `${c.type.slice(0, 37)}...` : c.type,
    codec: c.codec || 'LZ4 (default)',
    'bytes/row': (Number(c.data) / rows).toFixed(2),
    share: `${((Number(c.data) / total) * 100).toFixed(1)} %`,
    compression: `${(Number(c.uncompressed) / Math.max(1, Number(c.data))).toFixed(1)}x`,
  }));
}

async function openDatabase(url: string, database: string): Promise<ClickHouse> {
  const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: url, SSF_CLICKHOUSE_DATABASE: database } });
  const ch = await createClickHouse(config.clickhouse);
  await migrate(ch, config);
  return ch;
}

/**
 * A schema alternative: the same rows copied into a scratch table (`ddl`
 * undefined: a copy of the migrated table, indexes included), merged to one
 * part, measured.
 */
export interface Variant {
  what: string;
  table: EventTable;
  /** Column and index definitions. */
  ddl?: string;
  orderBy?: string;
  /** The SELECT list that fills it (default: the table's columns). */
  select?: string;
}

const SPAN_IDS =
  'tenant LowCardinality(String), trace_id Int64, trace_id_high Int64 CODEC(ZSTD(1)), span_id Int64, parent_id Int64, service LowCardinality(String), name LowCardinality(String)';
const SPAN_FLAGS = "error Bool, indicator Bool, root_start DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1))";
const START_NS = "start DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)), duration_ns Int64 CODEC(T64, ZSTD(1))";
const START_US = "start DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)), duration_ns UInt32 CODEC(T64, ZSTD(1))";
const SELECT_US = 'tenant, trace_id, span_id, parent_id, service, name, start, intDiv(duration_ns, 1000), error, indicator, root_start, tags, trace_id_high';
const TAGS = 'tags Map(LowCardinality(String), String) CODEC(ZSTD(1))';
const TAGS_LC = 'tags Map(LowCardinality(String), LowCardinality(String)) CODEC(ZSTD(1))';
const TAG_INDEXES = `INDEX idx_duration duration_ns TYPE minmax GRANULARITY 1, INDEX idx_tag_keys mapKeys(tags) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_tag_values mapValues(tags) TYPE bloom_filter(0.01) GRANULARITY 1`;
const TRACE_BLOOM = 'INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1';
// Not `..., trace_id, start`: with `start` itself in the key, ClickHouse applies a range on start to that
// column only (generic exclusion search) and no longer prunes by the 10-minute bucket.
const BY_TRACE = 'tenant, toStartOfTenMinutes(start), trace_id';
const BY_NAME = 'tenant, service, name, start';

const LOG_COLUMNS = `tenant LowCardinality(String), service LowCardinality(String), timestamp DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
  severity Enum8('unspecified' = 0, 'trace' = 1, 'debug' = 2, 'info' = 3, 'warn' = 4, 'error' = 5, 'fatal' = 6), severity_number UInt8,
  trace_id Int64, trace_id_high Int64 CODEC(ZSTD(1)), span_id Int64`;
const LOG_INDEXES = `INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1, INDEX idx_attr_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_attr_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1`;

const SAMPLE_COLUMNS = `tenant LowCardinality(String), name LowCardinality(String), type Enum8('counter' = 0, 'gauge' = 1, 'histogram' = 2, 'set' = 3, 'status' = 4),
  timestamp DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)), sample_rate Float32 CODEC(ZSTD(1)), message String CODEC(ZSTD(1)),
  status Enum8('ok' = 0, 'warning' = 1, 'critical' = 2, 'unknown' = 3), unit LowCardinality(String), scope Enum8('default' = 0, 'local' = 1, 'global' = 2),
  tags Map(LowCardinality(String), String) CODEC(ZSTD(1)), service LowCardinality(String), trace_id Int64, trace_id_high Int64 CODEC(ZSTD(1)), span_id Int64,
  INDEX idx_tag_values mapValues(tags) TYPE bloom_filter(0.01) GRANULARITY 1`;
const BY_SERIES = 'tenant, name, cityHash64(mapSort(tags)), timestamp';

export const VARIANTS: Variant[] = [
  { what: 'spans: as migrated (0001_spans.sql)', table: 'spans' },
  {
    what: 'spans: tags Map(LowCardinality(String), LowCardinality(String))',
    table: 'spans',
    ddl: `${SPAN_IDS}, ${SPAN_FLAGS}, ${START_NS}, ${TAGS_LC}, ${TRACE_BLOOM}, ${TAG_INDEXES}`,
    orderBy: BY_NAME,
  },
  {
    what: 'spans: start and duration in µs (DateTime64(6), UInt32)',
    table: 'spans',
    ddl: `${SPAN_IDS}, ${SPAN_FLAGS}, ${START_US}, ${TAGS}, ${TRACE_BLOOM}, ${TAG_INDEXES}`,
    orderBy: BY_NAME,
    select: SELECT_US,
  },
  {
    what: 'spans: both of the above (same ORDER BY)',
    table: 'spans',
    ddl: `${SPAN_IDS}, ${SPAN_FLAGS}, ${START_US}, ${TAGS_LC}, ${TRACE_BLOOM}, ${TAG_INDEXES}`,
    orderBy: BY_NAME,
    select: SELECT_US,
  },
  {
    what: `spans: ORDER BY (${BY_TRACE}) (a trace is contiguous), no trace_id bloom filter`,
    table: 'spans',
    ddl: `${SPAN_IDS}, ${SPAN_FLAGS}, ${START_NS}, ${TAGS}, ${TAG_INDEXES}`,
    orderBy: BY_TRACE,
  },
  {
    what: 'spans: trace-contiguous + LowCardinality tag values + ZSTD(3) on trace_id, parent_id',
    table: 'spans',
    ddl: `tenant LowCardinality(String), trace_id Int64 CODEC(ZSTD(3)), trace_id_high Int64 CODEC(ZSTD(1)), span_id Int64, parent_id Int64 CODEC(ZSTD(3)), service LowCardinality(String),
      name LowCardinality(String), ${SPAN_FLAGS}, ${START_NS}, ${TAGS_LC}, ${TAG_INDEXES}`,
    orderBy: BY_TRACE,
  },
  {
    what: 'spans: ... and µs start and duration',
    table: 'spans',
    ddl: `tenant LowCardinality(String), trace_id Int64 CODEC(ZSTD(3)), trace_id_high Int64 CODEC(ZSTD(1)), span_id Int64, parent_id Int64 CODEC(ZSTD(3)), service LowCardinality(String),
      name LowCardinality(String), ${SPAN_FLAGS}, ${START_US}, ${TAGS_LC}, ${TAG_INDEXES}`,
    orderBy: BY_TRACE,
    select: SELECT_US,
  },
  { what: 'logs: as migrated (0002_logs.sql)', table: 'logs' },
  {
    what: 'logs: body index tokenbf_v1(32768, 3, 0) instead of text',
    table: 'logs',
    ddl: `${LOG_COLUMNS}, body String CODEC(ZSTD(1)), attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)), ${LOG_INDEXES},
      INDEX idx_body body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1`,
    orderBy: 'tenant, service, timestamp',
  },
  {
    what: 'logs: text index, body ZSTD(3), attributes LowCardinality values',
    table: 'logs',
    ddl: `${LOG_COLUMNS}, body String CODEC(ZSTD(3)), attributes Map(LowCardinality(String), LowCardinality(String)) CODEC(ZSTD(1)), ${LOG_INDEXES},
      INDEX idx_body body TYPE text(tokenizer = 'splitByNonAlpha') GRANULARITY 1`,
    orderBy: 'tenant, service, timestamp',
  },
  { what: 'samples: as migrated (0003_samples.sql)', table: 'samples' },
  {
    what: `samples: ORDER BY (${BY_SERIES}) (a series is contiguous)`,
    table: 'samples',
    ddl: `${SAMPLE_COLUMNS}, value Float64 CODEC(Gorilla, ZSTD(1))`,
    orderBy: BY_SERIES,
  },
  {
    what: 'samples: series-contiguous + value ZSTD(1) without Gorilla',
    table: 'samples',
    ddl: `${SAMPLE_COLUMNS}, value Float64 CODEC(ZSTD(1))`,
    orderBy: BY_SERIES,
  },
];

/** Rows ClickHouse read for a query (from its X-ClickHouse-Summary). */
async function rowsRead(ch: ClickHouse, query: string, params: Record<string, unknown>): Promise<number> {
  const result = await ch.client.query({ query, query_params: params, format: 'JSONEachRow' });
  await result.json();
  const summary = result.response_headers['x-clickhouse-summary'];
  return Number((JSON.parse(typeof summary === 'string' ? summary : '{}') as { read_rows?: string }).read_rows ?? NaN);
}

/** What the spans layouts cost at read time: fetching one trace, and one operation over 5 minutes (20 of each). */
interface SpanProbe {
  traces: Array<Record<string, string>>;
  operations: Array<Record<string, string>>;
}
async function spanProbe(ch: ClickHouse, source: string): Promise<SpanProbe> {
  const traces = await queryRows<{ id: string; first: string; last: string }>(
    ch,
    `SELECT toString(trace_id) AS id, toString(start - toIntervalSecond(1)) AS first, toString(start + toIntervalSecond(60)) AS last
     FROM ${quoteIdent(source)}.spans WHERE span_id = trace_id ORDER BY cityHash64(span_id) LIMIT 20`,
  );
  const operations = await queryRows<{ service: string; name: string; first: string; last: string }>(
    ch,
    `SELECT service, name, toString(start) AS first, toString(start + toIntervalMinute(5)) AS last
     FROM ${quoteIdent(source)}.spans ORDER BY cityHash64(span_id) LIMIT 20`,
  );
  return { traces, operations };
}
async function probeSpans(ch: ClickHouse, table: string, p: SpanProbe): Promise<{ trace: number; operation: number }> {
  let trace = 0;
  for (const params of p.traces) {
    trace += await rowsRead(
      ch,
      `SELECT span_id, parent_id, service, name, start, duration_ns FROM ${table}
       WHERE tenant = 'default' AND trace_id = {id:Int64} AND start BETWEEN {first:DateTime64(9, 'UTC')} AND {last:DateTime64(9, 'UTC')}`,
      params,
    );
  }
  let operation = 0;
  for (const params of p.operations) {
    operation += await rowsRead(
      ch,
      `SELECT count(), quantile(0.99)(duration_ns) FROM ${table}
       WHERE tenant = 'default' AND service = {service:String} AND name = {name:String} AND start BETWEEN {first:DateTime64(9, 'UTC')} AND {last:DateTime64(9, 'UTC')}`,
      params,
    );
  }
  return { trace: trace / p.traces.length, operation: operation / p.operations.length };
}

async function measureVariants(ch: ClickHouse, source: string): Promise<Array<Record<string, string | number>>> {
  const scratch = `${source}_scratch`;
  await ch.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdent(scratch)}` });
  const probe = await spanProbe(ch, source);
  const out: Array<Record<string, string | number>> = [];
  const baseline: Partial<Record<EventTable, number>> = {};
  for (const [i, v] of VARIANTS.entries()) {
    const table = `v${i}_${v.table}`;
    const name = `${quoteIdent(scratch)}.${table}`;
    const ddl =
      v.ddl === undefined
        ? `CREATE TABLE ${name} AS ${quoteIdent(source)}.${v.table}`
        : `CREATE TABLE ${name} (${v.ddl}) ENGINE = MergeTree PARTITION BY toDate(${v.table === 'spans' ? 'start' : 'timestamp'}) ORDER BY (${v.orderBy ?? ''})`;
    await ch.client.command({ query: ddl });
    await ch.client.command({
      query: `INSERT INTO ${name} (${COLUMNS[v.table]}) SELECT ${v.select ?? COLUMNS[v.table]} FROM ${quoteIdent(source)}.${v.table}`,
    });
    await ch.client.command({ query: `OPTIMIZE TABLE ${name} FINAL` });
    const [r] = await queryRows<{ rows: string; data: string; indexes: string }>(
      ch,
      `SELECT sum(rows) AS rows, sum(data_compressed_bytes) AS data, sum(secondary_indices_compressed_bytes + secondary_indices_marks_bytes) AS indexes
       FROM system.parts WHERE database = {db:String} AND table = {table:String} AND active`,
      { db: scratch, table },
    );
    const rows = Number(r?.rows ?? 1);
    const data = Number(r?.data ?? 0) / rows;
    const indexes = Number(r?.indexes ?? 0) / rows;
    baseline[v.table] ??= data + indexes;
    const reference = baseline[v.table] ?? data + indexes;
    const reads = v.table === 'spans' ? await probeSpans(ch, name, probe) : undefined;
    out.push({
      variant: v.what,
      'data B/row': data.toFixed(2),
      'skip indexes B/row': indexes.toFixed(2),
      'total B/row': (data + indexes).toFixed(2),
      'vs as migrated': `${((data + indexes) / reference - 1) * 100 >= 0 ? '+' : ''}${(((data + indexes) / reference - 1) * 100).toFixed(1)} %`,
      'rows read per trace': reads ? Math.round(reads.trace).toLocaleString('en-US') : '',
      'rows read per operation × 5 min': reads ? Math.round(reads.operation).toLocaleString('en-US') : '',
    });
    await ch.client.command({ query: `DROP TABLE ${name}` });
  }
  return out;
}

/** Bytes per row of each skip index (bloom filters, the body's full-text index). */
async function indexCosts(ch: ClickHouse, tables: readonly string[], rows: Record<string, number>): Promise<Array<Record<string, string | number>>> {
  const found = await queryRows<{ table: string; name: string; type_full: string; data: string }>(
    ch,
    `SELECT table, name, type_full, data_compressed_bytes + marks_bytes AS data FROM system.data_skipping_indices
     WHERE database = {db:String} AND table IN {tables:Array(String)} ORDER BY table, data DESC`,
    { db: ch.database, tables },
  );
  return found.map((i) => ({ table: `ssf.${i.table}`, index: i.name, type: i.type_full, 'bytes/row': (Number(i.data) / (rows[i.table] ?? 1)).toFixed(2) }));
}

/** The two paths must have written the same rows, or the throughput ratio means nothing. */
async function checkSameRows(ch: ClickHouse, a: string, b: string, table: EventTable): Promise<void> {
  const digest = async (db: string): Promise<string> => {
    const [r] = await queryRows<{ n: string; h: string }>(
      ch,
      `SELECT count() AS n, groupBitXor(cityHash64(toString(tuple(${COLUMNS[table]})))) AS h FROM ${quoteIdent(db)}.${table}`,
    );
    return `${r?.n ?? ''}/${r?.h ?? ''}`;
  };
  const [x, y] = [await digest(a), await digest(b)];
  if (x !== y) throw new Error(`the insert paths wrote different ${table} rows (${a}: ${x}, ${b}: ${y}): an encoder is wrong`);
}

export async function storageBench(): Promise<void> {
  const server = await startClickHouseServer({ log: () => {} });
  const json = await openDatabase(server.url, 'ssf_bench_storage');
  const binary = await openDatabase(server.url, 'ssf_bench_rowbinary');
  const text = await openDatabase(server.url, 'ssf_bench_jsoneachrow');
  try {
    const tables: EventTable[] = ['spans', 'logs', 'samples'];
    // Background merges (of every table, the rollups included) would land on whichever
    // path runs next: both paths insert without them.
    await json.client.command({ query: 'SYSTEM STOP MERGES' });

    const generators: Record<EventTable, (first: number, count: number, total: number) => SpanEvent[]> = {
      spans: generateSpans,
      logs: generateLogs,
      samples: generateSamples,
    };
    const ours: Record<EventTable, Run[]> = { spans: [], logs: [], samples: [] };
    const theirs: Record<EventTable, Run[]> = { spans: [], logs: [], samples: [] };
    const jsonRuns: Record<EventTable, Run[]> = { spans: [], logs: [], samples: [] };
    const protobuf: Record<EventTable, { bytes: number; events: number; batched: number; carriers: number }> = {
      spans: { bytes: 0, events: 0, batched: 0, carriers: 0 },
      logs: { bytes: 0, events: 0, batched: 0, carriers: 0 },
      samples: { bytes: 0, events: 0, batched: 0, carriers: 0 },
    };
    let generateSeconds = 0;
    let encodeSeconds = 0;

    for (const table of tables) {
      for (let chunk = 0, first = 0; first < EVENTS; chunk++, first += CHUNK) {
        const t0 = process.hrtime.bigint();
        const events = generators[table](first, Math.min(CHUNK, EVENTS - first), EVENTS);
        generateSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
        // The SSF size of each event alone (a span; a carrier of one log record or one sample), on every 10th.
        const p = protobuf[table];
        for (let i = 0; i < events.length; i += 10) {
          const e = events[i] as SpanEvent;
          if (table === 'samples') {
            for (const s of e.metrics.slice(0, 5)) {
              p.bytes += encodeSpan({ ...e, metrics: [s] }).length;
              p.events++;
            }
            p.batched += encodeSpan(e).length / e.metrics.length;
            p.carriers++;
          } else {
            p.bytes += encodeSpan(e).length;
            p.events++;
          }
        }
        const count = table === 'samples' ? events.reduce((n, e) => n + e.metrics.length, 0) : events.length;
        const e0 = process.hrtime.bigint();
        const body = encodeRowBinary(table, events);
        encodeSeconds += Number(process.hrtime.bigint() - e0) / 1e9;

        // The first chunk of each table warms the paths up and is not timed; then the
        // paths take turns going first.
        const runOurs = (): Promise<void> =>
          measure(chunk === 0 ? [] : ours[table], count, server.pid, async (run) => {
            const a0 = nodeCpuSeconds();
            const batch = createEventBatch(json);
            for (const e of events) batch.append(e);
            run.appendCpu = nodeCpuSeconds() - a0;
            await insertBatch(json, batch);
          });
        const runTheirs = (): Promise<void> => measure(chunk === 0 ? [] : theirs[table], count, server.pid, () => insertRowBinary(binary, table, body, count));
        const runJson = (): Promise<void> =>
          measure(chunk === 0 ? [] : jsonRuns[table], count, server.pid, async (run) => {
            const a0 = nodeCpuSeconds();
            const rows = emptyRows();
            for (const e of events) appendRows(rows, e);
            run.appendCpu = nodeCpuSeconds() - a0;
            await insertRows(text, rows);
          });
        const order = [runOurs, runTheirs, runJson];
        for (let k = 0; k < order.length; k++) await (order[(k + chunk) % order.length] as () => Promise<void>)();
      }
      await checkSameRows(json, json.database, binary.database, table);
      await checkSameRows(json, json.database, text.database, table);
    }

    // Storage: merge everything, then read the active parts.
    await json.client.command({ query: 'SYSTEM START MERGES' });
    await binary.client.command({ query: `DROP DATABASE ${quoteIdent(binary.database)}` });
    await text.client.command({ query: `DROP DATABASE ${quoteIdent(text.database)}` });
    const derived = ['trace_index', 'metrics_1m', 'metrics_1h'];
    for (const t of [...tables, ...derived]) await json.client.command({ query: `OPTIMIZE TABLE ${quoteIdent(json.database)}.${t} FINAL` });
    const sizes: Record<string, PartsSize> = {};
    for (const t of [...tables, ...derived]) sizes[t] = await partsSize(json, json.database, t);

    const storageRows: Array<Record<string, string | number>> = [];
    const fmt = (n: number): string => n.toFixed(1);
    for (const t of tables) {
      const s = sizes[t] as PartsSize;
      const p = protobuf[t];
      const pb = p.bytes / p.events;
      storageRows.push({
        table: `ssf.${t}`,
        rows: s.rows.toLocaleString('en-US'),
        'data B/row': fmt(s.data / s.rows),
        'on disk B/row (+ indexes, marks)': fmt(s.onDisk / s.rows),
        'uncompressed B/row': fmt(s.uncompressed / s.rows),
        'SSF protobuf B/event': t === 'samples' ? `${fmt(pb)} (${fmt(p.batched / p.carriers)} in 50-sample carriers)` : fmt(pb),
        'data ÷ protobuf': (s.data / s.rows / pb).toFixed(3),
        'on disk ÷ protobuf': (s.onDisk / s.rows / pb).toFixed(3),
      });
    }
    const events = (sizes['samples']?.rows ?? 0) + (sizes['spans']?.rows ?? 0);
    const perSource: Record<string, [number, string]> = {
      trace_index: [sizes['spans']?.rows ?? 1, 'span'],
      metrics_1m: [events, 'span + sample'],
      metrics_1h: [events, 'span + sample'],
    };
    for (const t of derived) {
      const s = sizes[t] as PartsSize;
      const [n, what] = perSource[t] ?? [1, ''];
      storageRows.push({
        table: `ssf.${t} (B per ${what})`,
        rows: s.rows.toLocaleString('en-US'),
        'data B/row': fmt(s.data / n),
        'on disk B/row (+ indexes, marks)': fmt(s.onDisk / n),
        'uncompressed B/row': fmt(s.uncompressed / n),
        'SSF protobuf B/event': '-',
        'data ÷ protobuf': '-',
        'on disk ÷ protobuf': '-',
      });
    }
    printTable(
      `Storage after OPTIMIZE TABLE ... FINAL (active parts; ${EVENTS.toLocaleString('en-US')} spans in 8-span traces, log records and samples over one hour)`,
      storageRows,
    );
    for (const t of tables) printTable(`Columns of ssf.${t} by compressed size`, await columnCosts(json, json.database, t, sizes[t]?.rows ?? 1));
    printTable('Skip indexes (compressed data + marks)', await indexCosts(json, tables, Object.fromEntries(tables.map((t) => [t, sizes[t]?.rows ?? 1]))));
    printTable('Schema alternatives, measured on copies of the same rows (one merged part each)', await measureVariants(json, json.database));

    const throughput: Array<Record<string, string | number>> = [];
    const pathRow = (t: EventTable, path: string, runs: Run[], baseline: number): Record<string, string | number> => ({
      table: `ssf.${t}`,
      path,
      inserts: runs.length,
      'rows/s': Math.round(median(runs, (r) => r.rows / r.seconds)).toLocaleString('en-US'),
      'x baseline': (median(runs, (r) => r.rows / r.seconds) / baseline).toFixed(2),
      'rows per Node CPU-s': Math.round(median(runs, (r) => r.rows / r.nodeCpu)).toLocaleString('en-US'),
      'Node µs/row (building the rows)': `${(median(runs, (r) => r.nodeCpu / r.rows) * 1e6).toFixed(2)} (${(median(runs, (r) => r.appendCpu / r.rows) * 1e6).toFixed(2)})`,
      'rows per server CPU-s': Math.round(median(runs, (r) => r.rows / r.serverCpu)).toLocaleString('en-US'),
    });
    for (const t of tables) {
      const baseline = median(theirs[t], (r) => r.rows / r.seconds);
      throughput.push(
        {
          table: `ssf.${t}`,
          path: 'RowBinary, pre-encoded (baseline)',
          inserts: theirs[t].length,
          'rows/s': Math.round(baseline).toLocaleString('en-US'),
          'x baseline': '1.00',
          'rows per Node CPU-s': '-',
          'Node µs/row (building the rows)': '-',
          'rows per server CPU-s': Math.round(median(theirs[t], (r) => r.rows / r.serverCpu)).toLocaleString('en-US'),
        },
        pathRow(t, 'the writer: createEventBatch + insertBatch (RowBinary, server mode)', ours[t], baseline),
        pathRow(t, 'appendRows + insertRows (JSONEachRow, the reference path)', jsonRuns[t], baseline),
      );
    }
    printTable(
      `Insert throughput: median over the inserts of ${CHUNK.toLocaleString('en-US')} rows (the first of each table not timed), materialized views included, merges paused`,
      throughput,
    );
    printNote(
      `(generating the data took ${generateSeconds.toFixed(1)} s; encoding RowBinary in Node ${encodeSeconds.toFixed(1)} s, not counted in the baseline)`,
    );
  } finally {
    await json.close();
    await binary.close();
    await text.close();
    await server.stop({ removeDataDir: true });
  }
}
