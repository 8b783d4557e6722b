import { checkTokens } from '../src/auth/tenants.js';
import { createClickHouse } from '../src/clickhouse/create-client.js';
import { migrate } from '../src/clickhouse/migrations.js';
import { loadConfig } from '../src/config/load-config.js';
import type { Command } from './command.js';
import { parse, UsageError } from './command.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the whole pipeline in one command, with its own local ClickHouse (no Kafka)',
  help: `Usage: ssf serve [--data DIR] [--http HOST:PORT]

All-in-one mode: the gateway (HTTP, UDP SSF, statsd, framed stream) writes
straight into ClickHouse, and the same HTTP server answers queries. Without
SSF_CLICKHOUSE_URL, ClickHouse is the local engine: chDB's ClickHouse served
on 127.0.0.1 by a child process started here (data in DIR; built once with
the machine's C compiler), which stops with this one. \`npm start\` runs this.

Options:
  --data DIR          ClickHouse data directory (default $SSF_CLICKHOUSE_DATA_PATH or ./data/clickhouse)
  --http HOST:PORT    HTTP listener (default $SSF_GATEWAY_HTTP_LISTEN or 127.0.0.1:8127)
  -h, --help          this help

Every other setting comes from the environment (docs/configuration.md).`,
  async run(args) {
    const { values, positionals } = parse(args, { data: { type: 'string' }, http: { type: 'string' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const config = loadConfig({ overrides: { clickhouse: { dataPath: values.data }, gateway: { httpListen: values.http } } });
    checkTokens(config.gateway); // before anything starts
    const [{ createGateway }, { ClickHouseSink }, { statsdToSpans }, { registerQueryApi }] = await Promise.all([
      import('../ingest/gateway/gateway.js'),
      import('../ingest/sink/clickhouse-sink.js'),
      import('../ingest/statsd/statsd-spans.js'),
      import('../query/query-api.js'),
    ]);
    const ch = await createClickHouse(config.clickhouse);
    const migrated = await migrate(ch, config);
    const sink = new ClickHouseSink(ch, {
      batchRows: config.materializer.batchRows,
      lingerMs: Math.min(config.materializer.batchMs, 200),
      maxBufferedRows: config.materializer.batchRows * 10,
      defaultTenant: config.gateway.defaultTenant,
    });
    const gateway = createGateway(config, sink, { parseStatsd: statsdToSpans });
    // The query API reads as the read-only user, on a client (and sockets) of its own; the writer stops what it gives up on.
    const reader = await createClickHouse(config.clickhouse, { readonlyUser: true });
    registerQueryApi(gateway.app, config, reader, { auth: gateway.auth, standalone: false, registry: gateway.metrics.registry, killer: ch });
    const where = await gateway.listen();
    const http = where['http'] ?? `http://${config.gateway.httpListen}`;
    console.log(
      [
        '',
        `ssf serve: the pipeline is running (ClickHouse at ${ch.endpoint}, database ${ch.database}, ${migrated.applied.length} migrations applied)`,
        '',
        'Send data:',
        `  SSF over HTTP     POST ${http}/v1/ssf   (application/x-protobuf SSFBatch, application/x-ssf-frames, application/json)`,
        ...(where['udp'] ? [`  SSF over UDP      udp://${where['udp']}   (one SSFSpan per datagram, Veneur's format)`] : []),
        ...(where['statsd'] ? [`  statsd/DogStatsD  udp://${where['statsd']}`] : []),
        ...(where['unix'] ? [`  framed stream     unix://${where['unix']}`] : []),
        ...(where['tcp'] ? [`  framed stream     tcp://${where['tcp']}`] : []),
        ...(where['otlp_http'] ? [`  OTLP/HTTP         ${where['otlp_http']}/v1/traces, /v1/logs, /v1/metrics`] : []),
        ...(where['otlp_grpc'] ? [`  OTLP/gRPC         ${where['otlp_grpc']}`] : []),
        `  from a shell      ssf emit counter deploys --address ${http}`,
        '',
        'Look at it:',
        `  health            ${http}/-/ready    metrics: ${http}/metrics`,
        '  some traffic      npx ssf demo        (a small web shop: traces, logs, metrics, errors)',
        '  from a terminal   npx ssf trace <id>, npx ssf logs <words>, npx ssf top, npx ssf sql "SELECT ..."',
        `  SQL over HTTP     curl -s ${http}/v1/sql -H 'content-type: application/json' -d '{"sql":"SELECT service, count() FROM spans GROUP BY service"}'`,
        `  API               ${http}/openapi.json    tables: docs/tables.md`,
        '',
        'Ctrl-C stops it (what was received is written first).',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    console.log('ssf serve: stopping…');
    await gateway.close();
    await reader.close();
    await ch.close();
    return 0;
  },
};
