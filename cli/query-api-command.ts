import { createClickHouse } from '../src/clickhouse/create-client.js';
import { loadConfig } from '../src/config/load-config.js';
import { type Config, secondsToMs } from '../src/config/config-schema.js';
import { createHttpServer } from '../src/http/create-http-server.js';
import type { Command } from './command.js';
import { parse, UsageError } from './command.js';

export interface RunningQueryApi {
  url: string;
  close(): Promise<void>;
}

/**
 * The query API as its own process (distributed mode): its own HTTP server, a
 * read-only ClickHouse client for every read, and a client as
 * `clickhouse.user` that only sends `KILL QUERY` for queries given up on
 * (the read-only user may not see or stop its own queries).
 */
export async function startQueryApi(config: Readonly<Config>): Promise<RunningQueryApi> {
  const [{ registerQueryApi }, { splitHostPort }, { capConnectionsPerSource }] = await Promise.all([
    import('../query/query-api.js'),
    import('../src/http/listen-address.js'),
    import('../src/net/source-connection-cap.js'),
  ]);
  const ch = await createClickHouse(config.clickhouse, { readonlyUser: true });
  const killer = await createClickHouse(config.clickhouse);
  const app = createHttpServer({ logLevel: config.log.level, bodyLimit: 1_048_576, requestTimeoutMs: secondsToMs(config.gateway.httpRequestTimeoutS) });
  const api = registerQueryApi(app, config, ch, { standalone: true, killer });
  // As the gateway's listeners: one client cannot hold every connection (docs/security.md, "Connections per source").
  capConnectionsPerSource(
    app.server,
    {
      maxPerSource: config.gateway.maxConnectionsPerSource,
      ipv6PrefixLength: config.gateway.sourceIpv6PrefixLength,
      capLoopback: config.gateway.capLoopbackSources,
    },
    () => api.metrics.refused('QUERY_ERR_SOURCE_TOO_MANY_CONNECTIONS'),
  );
  const url = await app.listen(splitHostPort(config.query.listen));
  return {
    url,
    close: async () => {
      await app.close();
      await ch.close();
      await killer.close();
    },
  };
}

export const queryApiCommand: Command = {
  name: 'query-api',
  summary: 'run the query API (distributed mode: SQL and typed endpoints over ClickHouse)',
  help: `Usage: ssf query-api [--clickhouse-url URL] [--database NAME] [--listen HOST:PORT] [--json]

Runs the query API on its own: POST /v1/sql, GET /v1/traces, /v1/logs,
/v1/metrics/query, /v1/services, /v1/slo, and /openapi.json. Stateless: run
as many as you like behind a load balancer. With clickhouse.queryUser set it
connects as that (read-only) user; otherwise every request is readonly=2.
A query it gives up on (past its limit, or its client gone) is stopped with
KILL QUERY as clickhouse.user, which may see the read-only user's queries.

Options:
  --clickhouse-url URL  ClickHouse HTTP endpoint (default $SSF_CLICKHOUSE_URL)
  --database NAME       database of the tables (default $SSF_CLICKHOUSE_DATABASE or ssf)
  --listen HOST:PORT    HTTP listener (default $SSF_QUERY_LISTEN or 127.0.0.1:8130)
  --json                print the listening address as one JSON line (for scripts)
  -h, --help            this help

Settings: query.*, clickhouse.* and gateway.authTokens in docs/configuration.md.`,
  async run(args) {
    const { values, positionals } = parse(args, {
      'clickhouse-url': { type: 'string' },
      database: { type: 'string' },
      listen: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const config = loadConfig({ overrides: { clickhouse: { url: values['clickhouse-url'], database: values.database }, query: { listen: values.listen } } });
    const running = await startQueryApi(config);
    if (values.json) console.log(JSON.stringify({ pid: process.pid, http: running.url }));
    else
      console.log(
        `ssf query-api: listening on ${running.url} (POST /v1/sql, GET /v1/traces, /v1/logs, /v1/metrics/query, /v1/services, /v1/slo; /openapi.json) over ClickHouse ${config.clickhouse.url || `the local engine in ${config.clickhouse.dataPath}`}, database ${config.clickhouse.database}`,
      );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await running.close();
    return 0;
  },
};
