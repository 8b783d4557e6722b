import { z } from 'zod';

/**
 * Every setting of every process, in one schema. Each leaf has a default and
 * a description; docs/configuration.md is generated from this file
 * (`npm run docs:config`) and a test keeps the two in step. A leaf's
 * environment variable is its path in SCREAMING_SNAKE_CASE under `SSF_`:
 * `clickhouse.url` is `SSF_CLICKHOUSE_URL`.
 */

const listen = (def: string, what: string) =>
  z
    .string()
    .regex(/^$|^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be host:port, or empty to disable')
    .default(def)
    .describe(what);

/**
 * The longest delay a Node timer takes (2^31-1 ms, about 24.8 days): a longer
 * one fires after 1 ms (with only a warning), so a linger, a timeout or a TTL
 * set past it would do the opposite of what was asked. Every duration setting
 * is bounded by it.
 */
export const MAX_TIMER_MS = 2_147_483_647;
const millis = () => z.number().int().max(MAX_TIMER_MS, `at most ${MAX_TIMER_MS} ms (the longest a timer can wait)`);
const seconds = () => z.number().max(MAX_TIMER_MS / 1000, `at most ${MAX_TIMER_MS / 1000} s (the longest a timer can wait)`);

/**
 * A duration setting in seconds as the whole milliseconds timers and Node's
 * HTTP server take (its requestTimeout refuses a fraction and the process did
 * not start: `gateway.httpRequestTimeoutS` 1.0005); at least 1.
 */
export function secondsToMs(s: number): number {
  return Math.max(1, Math.round(s * 1000));
}

export const configSchema = z.strictObject({
  clickhouse: z
    .strictObject({
      url: z
        .string()
        .default('')
        .describe(
          'ClickHouse HTTP(S) endpoint, e.g. `http://127.0.0.1:8123` (a server, or a load balancer in front of a cluster). Empty: the embedded engine (chDB) in this process, with its data under `clickhouse.dataPath`.',
        ),
      dataPath: z
        .string()
        .default('./data/clickhouse')
        .describe('Embedded mode only: the directory of the in-process ClickHouse data. One process at a time may open it.'),
      database: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier')
        .default('ssf')
        .describe('The database that holds the tables (the public SQL surface).'),
      user: z.string().default('default').describe('User for writes and migrations.'),
      password: z.string().default('').describe('Password of `clickhouse.user`.'),
      queryUser: z
        .string()
        .default('')
        .describe(
          "The query API's read-only user (server mode; deploy/clickhouse/ssf-users.xml defines `ssf_query`). Empty: the query API uses `clickhouse.user` with `readonly=2` on every request.",
        ),
      queryPassword: z.string().default('').describe('Password of `clickhouse.queryUser`.'),
      cluster: z.string().default('').describe('Cluster name for `ON CLUSTER` DDL and Replicated/Distributed tables. Empty: a single server.'),
      clusterMode: z
        .enum(['replicated', 'sharded'])
        .default('replicated')
        .describe(
          'With `clickhouse.cluster`: `replicated` (ReplicatedMergeTree, Keeper, `ON CLUSTER` DDL: production) or `sharded` (plain MergeTree on every node, DDL applied node by node, Distributed tables writing every replica: a cluster without Keeper). docs/operations.md.',
        ),
      tlsCaFile: z.string().default('').describe('PEM file of the CA that signed the server certificate (https URLs).'),
      tlsCertFile: z.string().default('').describe('PEM client certificate for mutual TLS.'),
      tlsKeyFile: z.string().default('').describe('PEM key of `clickhouse.tlsCertFile`.'),
      requestTimeoutMs: millis().positive().default(60_000).describe('Timeout of one HTTP request to ClickHouse.'),
      idleSocketTtlMs: millis()
        .positive()
        .default(2_500)
        .describe(
          "How long an idle keep-alive socket is reused. Keep it below the server's `keep_alive_timeout` (3 s by default) so a request never lands on a socket the server is closing (the ECONNRESET pitfall).",
        ),
      maxOpenConnections: z.number().int().positive().default(10).describe('Sockets per client.'),
    })
    .prefault({}),

  kafka: z
    .strictObject({
      brokers: z
        .array(z.string())
        .default([])
        .describe(
          'Bootstrap brokers, comma-separated `host:port`. Empty: no Kafka; the gateway hands batches to the materializer in the same process (all-in-one mode).',
        ),
      clientId: z.string().default('ssf').describe('Kafka client id.'),
      spansTopic: z
        .string()
        .default('ssf.spans')
        .describe(
          'Topic of validated SSF spans: each record an SSFBatch of spans of one partition, partitioned by trace id (docs/architecture.md, Kafka topics and record format).',
        ),
      deadLetterTopic: z.string().default('ssf.dead-letter').describe('Topic of records the materializer could not decode, with the reason in headers.'),
      partitions: z.number().int().positive().default(6).describe('Partitions of the topics when this process creates them.'),
      replicationFactor: z.number().int().positive().default(1).describe('Replication factor of the topics when this process creates them.'),
      consumerGroup: z.string().default('ssf-materializer').describe('Consumer group of the materializers.'),
      ssl: z.boolean().default(false).describe('Connect with TLS.'),
      saslMechanism: z.enum(['', 'plain', 'scram-sha-256', 'scram-sha-512']).default('').describe('SASL mechanism; empty for none.'),
      saslUsername: z.string().default('').describe('SASL user name.'),
      saslPassword: z.string().default('').describe('SASL password.'),
      compression: z.enum(['none', 'gzip']).default('gzip').describe('Compression of produced batches (kafkajs has gzip built in).'),
      gzipLevel: z
        .number()
        .int()
        .min(1)
        .max(9)
        .default(1)
        .describe(
          'zlib level of `kafka.compression` gzip. 1 costs the gateway about a third of the CPU of zlib’s default 6 for records about 20 % larger (measured: docs/architecture.md, "Gateway").',
        ),
      lingerMs: millis().min(0).default(5).describe('How long the gateway waits to fill a produce batch.'),
      busyLingerMs: millis()
        .min(0)
        .default(20)
        .describe(
          'How long the gateway waits to fill a produce batch that starts while an earlier one is still unacknowledged (under load; at least `kafka.lingerMs`): fewer, larger produce requests, for up to this much more latency per request under concurrent load. A lone client that waits for each answer finds nothing in flight and waits `kafka.lingerMs` only.',
        ),
      batchBytes: z.number().int().positive().default(1_048_576).describe('Target size of one produce batch.'),
      bufferBytes: z
        .number()
        .int()
        .positive()
        .default(16 * 1_048_576)
        .describe(
          'Bound of the gateway’s in-memory produce buffer; past it HTTP answers 503 (413 for a request larger than all of it), UDP drops are counted.',
        ),
    })
    .prefault({}),

  gateway: z
    .strictObject({
      httpListen: listen('127.0.0.1:8127', 'HTTP listener of the gateway (and of the query API in all-in-one mode).'),
      udpListen: listen('127.0.0.1:8128', 'UDP listener for SSF (one span per datagram). Empty disables it.'),
      statsdListen: listen('127.0.0.1:8125', 'UDP listener for statsd/DogStatsD lines. Empty disables it.'),
      statsdAggregate: z
        .boolean()
        .default(false)
        .describe(
          'Aggregate statsd metric lines per series and flush interval, as Veneur does, instead of storing one sample per line: one sample per counter and gauge series and per set member, and up to `gateway.statsdHistogramSamples` per histogram series, per interval. Fewer rows in `samples`; what stays exact in the rollups and what changes: docs/ssf.md, "statsd aggregation".',
        ),
      statsdFlushIntervalMs: millis()
        .min(1_000)
        .max(60_000)
        .default(10_000)
        .describe(
          'With `gateway.statsdAggregate`: the interval, aligned to multiples of it in unix time; the samples are stamped with its start. A divisor of 60,000 keeps every interval inside one rollup minute. A crash loses at most the open interval.',
        ),
      statsdMaxSamples: z
        .number()
        .int()
        .positive()
        .default(200_000)
        .describe(
          'With `gateway.statsdAggregate`: the most samples one interval of the statsd listener (so of its tenant) holds (one per counter or gauge series, set member, histogram bin); a line that needs one more is dropped and counted (`ssf_gateway_dropped_total{reason="aggregate_full"}`). Bounds its memory (a few hundred bytes each; series, at most as many).',
        ),
      statsdHistogramSamples: z
        .number()
        .int()
        .min(64)
        .max(65_536)
        .default(1_024)
        .describe(
          'With `gateway.statsdAggregate`: the most samples a timer, histogram or distribution series flushes per interval; a series with more lines is thinned to this many in proportion (counts and sums stay exact). The rollups’ percentiles then read a value at a rank within 2.5 / this of the one asked (docs/ssf.md, "statsd aggregation").',
        ),
      tcpListen: listen('', 'TCP listener for the framed SSF stream. Empty disables it.'),
      unixSocket: z.string().default('').describe('UNIX socket path for the framed SSF stream. Empty disables it.'),
      otlpHttpListen: listen('127.0.0.1:4318', 'OTLP/HTTP listener (POST /v1/traces, /v1/logs, /v1/metrics; protobuf or JSON). Empty disables it.'),
      otlpGrpcListen: listen('127.0.0.1:4317', 'OTLP/gRPC listener (the trace, logs and metrics services). Empty disables it.'),
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .default(8 * 1_048_576)
        .describe('Largest HTTP request body as sent (compressed).'),
      maxDecompressedBytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1_048_576)
        .describe('Largest HTTP request body after decompression; a decompression bomb is stopped here.'),
      httpRequestTimeoutS: seconds()
        .positive()
        .default(60)
        .describe(
          'The HTTP listener of every process (POST /v1/ssf, the query API, /metrics): time for a whole request, headers and body, to arrive; past it 408 `HTTP_ERR_BAD_REQUEST` and the connection is closed.',
        ),
      httpMaxConnections: z
        .number()
        .int()
        .positive()
        .default(1_024)
        .describe(
          "Connections open at once on the gateway's HTTP listener (`gateway.httpListen`: POST /v1/ssf, /metrics, and the query API in all-in-one mode); one more is closed as it is accepted, and counted (`GW_ERR_HTTP_TOO_MANY_CONNECTIONS`).",
        ),
      httpMaxInFlightBytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1_048_576)
        .describe(
          'POST /v1/ssf: request bytes held at once, from the body as read until its answer, a compressed one counting as the larger of its sizes as sent and decompressed; past it 429 `GW_ERR_BUSY` with Retry-After, and a body that would inflate past it alone 413.',
        ),
      otlpMaxEvents: z
        .number()
        .int()
        .positive()
        .default(1_000_000)
        .describe(
          'Most trace spans, log records and samples one OTLP request may become (a histogram point makes up to 1,026 samples); past it: 413 / RESOURCE_EXHAUSTED `OTLP_ERR_OUTPUT_TOO_LARGE`, found as they are made. SDK and Collector batches stay far below (docs/otlp.md, "Bounds").',
        ),
      otlpMaxOutputBytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1_048_576)
        .describe(
          'Most bytes of SSF one OTLP request may become (resource and scope attributes are copied into every item); past it: 413 / RESOURCE_EXHAUSTED `OTLP_ERR_OUTPUT_TOO_LARGE`, found as they are made (docs/otlp.md, "Bounds").',
        ),
      udpReceiveBufferBytes: z
        .number()
        .int()
        .positive()
        .default(16 * 1_048_576)
        .describe(
          'SO_RCVBUF of the UDP sockets (the kernel caps it at net.core.rmem_max), and as many datagram bytes again held by each socket’s reader thread while the main thread is busy.',
        ),
      authTokens: z
        .record(z.string(), z.string())
        .default({})
        .describe(
          'Bearer tokens and the tenant each one maps to, as `token=tenant,token2=tenant2`. Empty: no authentication, every event gets tenant `gateway.defaultTenant`.',
        ),
      requireAuth: z
        .enum(['auto', 'always', 'never'])
        .default('auto')
        .describe(
          '`auto`: tokens are required when `gateway.authTokens` is set or any listener that takes a token (`gateway.httpListen`, `gateway.otlpHttpListen`, `gateway.otlpGrpcListen`) is not on loopback; with one off loopback and no tokens the gateway does not start.',
        ),
      defaultTenant: z.string().default('default').describe('Tenant stamped on events when authentication is off.'),
      metricsToken: z
        .string()
        .default('')
        .describe(
          'Bearer token for `GET /metrics` (its counters name every tenant). Set: every scrape needs it. Empty: when tenant tokens are required, `/metrics` answers loopback clients only.',
        ),
      listenerTenants: z
        .partialRecord(z.enum(['udp', 'statsd', 'tcp', 'unix']), z.string().min(1))
        .default({})
        .describe(
          'The tenant of each listener that carries no credentials (UDP SSF, statsd, the framed stream on TCP or a UNIX socket), as `udp=acme,statsd=acme`. When authentication is required, a listener without an entry here is not started (its events would land in a tenant nobody chose); when it is off, a listener without an entry stamps `gateway.defaultTenant`.',
        ),
      streamIdleTimeoutS: seconds()
        .positive()
        .default(300)
        .describe('A framed-stream connection (TCP or UNIX socket) that sends nothing for this long is closed.'),
      streamFrameTimeoutS: seconds()
        .positive()
        .default(60)
        .describe(
          'A framed-stream frame (its header and payload) must arrive within this long once it begins; else the connection is closed (a sender trickling bytes holds no buffer forever).',
        ),
      streamMaxConnections: z
        .number()
        .int()
        .positive()
        .default(1_024)
        .describe('Framed-stream connections open at once, per listener (TCP, UNIX socket); one more is closed as it is accepted, and counted.'),
      otlpMaxConnections: z
        .number()
        .int()
        .positive()
        .default(1_024)
        .describe('Connections open at once per OTLP listener (HTTP, gRPC); one more is closed as it is accepted, and counted.'),
      maxConnectionsPerSource: z
        .number()
        .int()
        .positive()
        .default(64)
        .describe(
          'Connections one source address may hold open at once on each TCP listener of the gateway (HTTP, OTLP/HTTP, OTLP/gRPC, the framed stream on TCP), on top of its global cap: one more is closed as it is accepted, before any byte is read, and counted (`GW_ERR_SOURCE_TOO_MANY_CONNECTIONS`). So one client cannot hold every connection of a listener (docs/security.md, "Connections per source"). Behind a proxy or NAT every client has the proxy’s address: raise it to the global cap there. Loopback sources are not capped unless `gateway.capLoopbackSources`.',
        ),
      capLoopbackSources: z
        .boolean()
        .default(false)
        .describe(
          'Whether `gateway.maxConnectionsPerSource` also caps loopback sources (127.0.0.0/8, ::1). Off: a sidecar proxy (Istio, Linkerd) or a local OpenTelemetry Collector shows every client as a loopback address, and only processes of this host can use one. On: a host whose local users are not trusted.',
        ),
      sourceIpv6PrefixLength: z
        .number()
        .int()
        .min(32)
        .max(128)
        .default(64)
        .describe(
          'With `gateway.maxConnectionsPerSource`: the leading bits of an IPv6 address that name its source. 64: a /64 is one source (one host usually owns a whole /64 and may use any address in it); 128: each address is its own (e.g. when many clients share a /64, as pods of a node may). An IPv4-mapped address (`::ffff:1.2.3.4`) is its IPv4 address.',
        ),
      otlpMaxConcurrentStreams: z
        .number()
        .int()
        .positive()
        .default(100)
        .describe(
          'OTLP/gRPC: streams (calls) one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); more are refused with REFUSED_STREAM, which clients retry.',
        ),
      otlpRequestTimeoutS: seconds()
        .positive()
        .default(30)
        .describe(
          'OTLP: time for a request’s headers and then for its body to arrive (gRPC: from the call’s start until its message is read); past it 408 / DEADLINE_EXCEEDED `OTLP_ERR_REQUEST_TIMEOUT`.',
        ),
      otlpIdleTimeoutS: seconds()
        .positive()
        .default(300)
        .describe(
          'OTLP/gRPC: a connection with no call open for this long is closed, one that never sends a call included (GOAWAY; clients reconnect when they next export). OTLP/HTTP keeps an idle keep-alive connection 5 s, or this if shorter.',
        ),
      otlpMaxInFlightBytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1_048_576)
        .describe(
          'OTLP: request bytes held at once across all connections of both OTLP listeners (bodies being read or exported, a compressed one counting as the larger of its sizes as sent and decompressed); past it 429 / RESOURCE_EXHAUSTED `OTLP_ERR_BUSY` with Retry-After.',
        ),
      selfTraceSampleRate: z
        .number()
        .min(0)
        .max(1)
        .default(0.01)
        .describe('Fraction of its own HTTP requests the gateway traces as SSF spans (service `ssf-gateway`, straight into its own pipeline; 0 turns it off).'),
      maxTagSetsPerMetric: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('Cardinality guard: distinct tag sets kept per metric name and tenant per hour; the excess is counted and visible on /metrics.'),
      maxMetricNamesPerTenant: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe(
          'Cardinality guard: distinct metric names one tenant may send per hour; a sample of one more name is refused (`SSF_TOO_MANY_METRIC_NAMES`), counted on /metrics; names already seen keep working.',
        ),
      maxMetricNames: z
        .number()
        .int()
        .positive()
        .default(100_000)
        .describe('Cardinality guard: distinct (tenant, metric name) pairs per hour across all tenants; past it, as `gateway.maxMetricNamesPerTenant`.'),
      maxSeries: z
        .number()
        .int()
        .positive()
        .default(1_000_000)
        .describe(
          'Cardinality guard: distinct (tenant, metric name, tag set) per hour across all tenants; past it, new tag sets are folded into the overflow series as with `gateway.maxTagSetsPerMetric`. Bounds the guard’s memory.',
        ),
      maxFutureSeconds: z
        .number()
        .int()
        .min(0)
        .default(3_600)
        .describe(
          'How far ahead of the gateway’s clock an event’s time may be. Together with `retention.*` (less an hour) it bounds the times accepted; an event outside them is refused with SSF_TIME_OUT_OF_RANGE (docs/ssf.md, "Valid times").',
        ),
      maxSpanBytes: z
        .number()
        .int()
        .positive()
        .default(1_000_000)
        .describe(
          'Largest SSF span the gateway takes, with all it carries and the gateway’s stamp; a larger one is refused alone (SSF_SPAN_TOO_LARGE). Keep it below the spans topic’s max.message.bytes (Kafka’s default is 1 MiB): a record the broker refuses fails the produce of every request batched with it.',
        ),
      tenantRateLimitBytes: z
        .number()
        .int()
        .min(0)
        .default(16 * 1_048_576)
        .describe(
          'Ingest rate limit of each tenant, in bytes per second of input as the gateway processes it (decompressed bodies, datagrams, frames), when authentication is required and the tokens and listener tenants name more than one tenant (or `gateway.tenantRateLimits` is set); 0: no limit. Past it a request is answered 429 (HTTP and OTLP/HTTP, with Retry-After) or RESOURCE_EXHAUSTED (OTLP/gRPC) before it is decoded, and UDP datagrams and stream frames are dropped and counted, so one tenant cannot fill the buffer all tenants share.',
        ),
      tenantBurstBytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1_048_576)
        .describe('Bytes a tenant may send at once after being idle (the rate limit’s bucket size; at least one second of the rate).'),
      tenantRateLimits: z
        .record(z.string(), z.coerce.number().int().min(0))
        .default({})
        .describe('Per-tenant rates that replace `gateway.tenantRateLimitBytes`, as `acme=67108864,globex=0` (0: no limit for that tenant).'),
    })
    .prefault({}),

  materializer: z
    .strictObject({
      batchRows: z
        .number()
        .int()
        .positive()
        .default(150_000)
        .describe('Rows buffered before an insert (the materializer holds at most two batches per partition).'),
      batchBytes: z
        .number()
        .int()
        .positive()
        .default(32 * 1_048_576)
        .describe(
          'Bytes of Kafka records (as decompressed) buffered before an insert, whichever of this and `batchRows` comes first: rows are 100 bytes or 1 MB, so rows alone do not bound memory (the materializer holds at most two batches per partition).',
        ),
      batchMs: millis().positive().default(1_000).describe('Longest wait before an insert.'),
      metricsListen: listen('127.0.0.1:8129', 'HTTP listener of the materializer’s /metrics and health endpoints (distributed mode).'),
    })
    .prefault({}),

  query: z
    .strictObject({
      listen: listen('127.0.0.1:8130', 'HTTP listener of the query API in distributed mode (in all-in-one mode it shares `gateway.httpListen`).'),
      maxExecutionTimeS: seconds().positive().default(30).describe('`max_execution_time` of every query.'),
      maxResultRows: z.number().int().positive().default(1_000_000).describe('`max_result_rows` of every query.'),
      maxResultBytes: z
        .number()
        .int()
        .positive()
        .default(256 * 1_048_576)
        .describe('`max_result_bytes` of every query.'),
      maxBufferedBytes: z
        .number()
        .int()
        .positive()
        .default(32 * 1_048_576)
        .describe(
          'Largest answer text the API holds in memory: the `json` format of `POST /v1/sql`, the SQL checks, and the rows of each query of a typed endpoint (logs, traces, metrics, ...). Past it: 422 `QUERY_ERR_TOO_LARGE`, the request to ClickHouse closed. `max_result_bytes` counts columns, not this text (JSON repeats names per row). Streamed formats are not held.',
        ),
      maxMemoryUsage: z
        .number()
        .int()
        .positive()
        .default(4 * 1_073_741_824)
        .describe('`max_memory_usage` of every query, in bytes.'),
      maxConcurrentPerTenant: z
        .number()
        .int()
        .positive()
        .default(4)
        .describe(
          'Query API requests one tenant may have running at once; one more is refused with 429 `QUERY_ERR_TOO_MANY_QUERIES` and Retry-After. A query stopped at its time limit holds its slot until ClickHouse has let it go.',
        ),
      maxBlockSize: z
        .number()
        .int()
        .positive()
        .default(2_048)
        .describe(
          '`max_block_size` of the queries of `POST /v1/sql` and of streamed exports: ClickHouse checks the time limit and cancellation between blocks, so this bounds how far past `query.maxExecutionTimeS` a query that is costly per row can run.',
        ),
      typedMaxBlockSize: z
        .number()
        .int()
        .positive()
        .default(8_192)
        .describe(
          "`max_block_size` of the typed endpoints' own statements (logs, traces, metrics, services): their cost per row is the API's SQL, not a user's. Blocks of 2,048 rows made a page of a common log word about 8 ms slower on 10M lines.",
        ),
      metricMetadataTtlMs: millis()
        .nonnegative()
        .default(30_000)
        .describe(
          "How long the metric query keeps its metadata answers (a metric's types in the range, the first bucket of each series) per tenant; 0 keeps none. A second type a metric gains shows in `GET /v1/metrics/query` within this time.",
        ),
      logDensityTtlMs: millis()
        .nonnegative()
        .default(300_000)
        .describe(
          '`GET /v1/logs` remembers how densely each search (per tenant: words, services, severity, order) matched, this long, and sizes the first time window of the same search by it: a rare word asked again is read in one query instead of two. 0 remembers nothing. A stale density only makes one search read a wider window.',
        ),
      traceSamplesTtlMs: millis()
        .nonnegative()
        .default(30_000)
        .describe(
          '`GET /v1/traces/{id}` remembers this long, per tenant, whether the tenant has a metric sample sent with a trace id (one indexed query, migration 0019). For a tenant with none the trace is read without its samples part: 4-5 ms less of ClickHouse per trace (of ~22) on the 10M bench. Kept from when the check began, in each API process: a tenant’s first such sample after it had none shows in its traces within this time. A failed check reads the samples. 0: always read the samples.',
        ),
      cancelGraceMs: millis()
        .nonnegative()
        .default(2_000)
        .describe(
          'After `query.maxExecutionTimeS` plus this, the API stops waiting: it answers `QUERY_ERR_TIMEOUT`, closes the request and sends `KILL QUERY` for its query id.',
        ),
    })
    .prefault({}),

  retention: z
    .strictObject({
      spansDays: z.number().int().positive().default(30).describe('TTL of `ssf.spans`.'),
      logsDays: z.number().int().positive().default(30).describe('TTL of `ssf.logs`.'),
      samplesDays: z.number().int().positive().default(30).describe('TTL of raw samples (`ssf.samples`).'),
      rollup1mDays: z.number().int().positive().default(90).describe('TTL of `ssf.metrics_1m`.'),
      rollup1hDays: z.number().int().positive().default(730).describe('TTL of `ssf.metrics_1h`.'),
    })
    .prefault({}),

  log: z
    .strictObject({
      level: z
        .enum(['debug', 'info', 'warn', 'error'])
        .default('info')
        .describe('Level of the processes’ own JSON logs: HTTP requests are one line each, at debug (refused ones at info).'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

/** Settings that were renamed or never existed under a name people try: the hint says what to use. */
export const RENAMED: Record<string, string> = {
  SSF_CLICKHOUSE_HOST: 'SSF_CLICKHOUSE_URL (a full URL such as http://127.0.0.1:8123)',
  SSF_CLICKHOUSE_PORT: 'SSF_CLICKHOUSE_URL (a full URL such as http://127.0.0.1:8123)',
  SSF_KAFKA_BROKER: 'SSF_KAFKA_BROKERS (comma-separated host:port)',
  SSF_KAFKA_TOPIC: 'SSF_KAFKA_SPANS_TOPIC',
  SSF_HTTP_PORT: 'SSF_GATEWAY_HTTP_LISTEN (host:port)',
  SSF_TOKENS: 'SSF_GATEWAY_AUTH_TOKENS (token=tenant,...)',
};
