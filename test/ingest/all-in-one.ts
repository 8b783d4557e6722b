import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createGateway } from '../../ingest/gateway/gateway.js';
import type { Gateway } from '../../ingest/gateway/gateway.js';
import { ClickHouseSink } from '../../ingest/sink/clickhouse-sink.js';
import { statsdToSpans } from '../../ingest/statsd/statsd-spans.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';

export interface AllInOne {
  ch: ClickHouse;
  gateway: Gateway;
  where: Record<string, string>;
  close(): Promise<void>;
}

/**
 * The all-in-one path for a test: a migrated database of its own on the
 * integration ClickHouse, and a gateway writing into it in process. Every
 * listener is on a free port; self-tracing is off unless `env` turns it on.
 */
export async function startAllInOne(databasePrefix: string, env: Record<string, string> = {}, batchRows = 10_000): Promise<AllInOne> {
  const config = loadConfig({
    env: {
      SSF_CLICKHOUSE_URL: clickhouseUrl(),
      SSF_CLICKHOUSE_DATABASE: uniqueDatabase(databasePrefix),
      SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
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
  const where = await gateway.listen();
  return {
    ch,
    gateway,
    where,
    close: async () => {
      await gateway.close();
      await ch.close();
    },
  };
}
