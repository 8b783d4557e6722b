import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createGateway } from '../../ingest/gateway/gateway.js';
import type { Gateway } from '../../ingest/gateway/gateway.js';
import { ClickHouseSink } from '../../ingest/sink/clickhouse-sink.js';
import { statsdToSpans } from '../../ingest/statsd/statsd-spans.js';
import { registerQueryApi } from '../../query/query-api.js';
import type { QueryApi } from '../../query/query-api.js';
import { encodeBatch } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';

export interface AllInOne {
  ch: ClickHouse;
  gateway: Gateway;
  /** The query API on the gateway's HTTP server, as `ssf serve` runs it. */
  query: QueryApi;
  where: Record<string, string>;
  /** `http://127.0.0.1:<port>` of the shared HTTP server. */
  http: string;
  /** POSTs spans to /v1/ssf (protobuf SSFBatch) with an optional token; resolves once they are written (the gateway answers 200 only then). */
  post(spans: readonly SpanEvent[], token?: string): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The all-in-one path for a test, as `ssf serve` runs it: a migrated database
 * of its own on the integration ClickHouse, a gateway writing into it in
 * process, and the query API on the same HTTP server. Every
 * listener is on a free port; self-tracing is off unless `env` turns it on.
 */
export async function startAllInOne(databasePrefix: string, env: Record<string, string> = {}, batchRows = 10_000): Promise<AllInOne> {
  const config = loadConfig({
    env: {
      SSF_CLICKHOUSE_URL: clickhouseUrl(),
      SSF_CLICKHOUSE_DATABASE: uniqueDatabase(databasePrefix),
      SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
      SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_STATSD_LISTEN: '127.0.0.1:0',
      ...env,
    },
  });
  const ch = await createClickHouse(config.clickhouse);
  await migrate(ch, config);
  const sink = new ClickHouseSink(ch, { batchRows, lingerMs: 20, maxBufferedRows: batchRows * 20, defaultTenant: 'default' });
  const gateway = createGateway(config, sink, { parseStatsd: statsdToSpans, logLevel: false });
  const reader = await createClickHouse(config.clickhouse, { readonlyUser: true });
  const query = registerQueryApi(gateway.app, config, reader, { auth: gateway.auth, standalone: false, registry: gateway.metrics.registry, killer: ch });
  const where = await gateway.listen();
  const http = where['http'] as string;
  return {
    ch,
    gateway,
    query,
    where,
    http,
    post: (spans, token) =>
      fetch(`${http}/v1/ssf`, {
        method: 'POST',
        body: Buffer.from(encodeBatch(spans)),
        headers: { 'content-type': 'application/x-protobuf', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }),
    close: async () => {
      await gateway.close();
      await reader.close();
      await ch.close();
    },
  };
}
