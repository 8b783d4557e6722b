import type { MaterializerOptions, Materializer } from '../ingest/materializer/materializer.js';
import { createClickHouse } from '../src/clickhouse/create-client.js';
import { migrate } from '../src/clickhouse/migrations.js';
import { type Config, secondsToMs } from '../src/config/config-schema.js';
import { ConfigError, loadConfig } from '../src/config/load-config.js';
import { createHttpServer } from '../src/http/create-http-server.js';
import { splitHostPort } from '../src/http/listen-address.js';
import type { Command } from './command.js';
import { parse, UsageError } from './command.js';

export interface MaterializerProcess {
  materializer: Materializer;
  /** `http://host:port` of /metrics and the health routes, or '' when `materializer.metricsListen` is empty. */
  url: string;
  /** Settles (never rejects) when kafkajs gave up on the consumer: the process should exit non-zero. */
  fatal: Promise<Error>;
  /** Writes what is buffered, leaves the group, closes the HTTP server and ClickHouse. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Everything `ssf materializer` runs, as a function (tests start it the same
 * way): checks the settings, migrates ClickHouse, starts the materializer and
 * its HTTP listener.
 */
export async function startMaterializerProcess(config: Readonly<Config>, options: MaterializerOptions = {}): Promise<MaterializerProcess> {
  if (config.kafka.brokers.length === 0) {
    throw new ConfigError(
      'kafka.brokers (SSF_KAFKA_BROKERS) is empty: the materializer consumes the spans topic from Kafka (all-in-one `ssf serve` needs no materializer)',
    );
  }
  if (config.clickhouse.url === '') {
    throw new ConfigError(
      'clickhouse.url (SSF_CLICKHOUSE_URL) is empty: the materializer writes to a ClickHouse server (the local engine belongs to one process, `ssf serve`)',
    );
  }
  const { createMaterializer } = await import('../ingest/materializer/materializer.js');
  const { registerMaterializerRoutes } = await import('../ingest/materializer/materializer-routes.js');
  const ch = await createClickHouse(config.clickhouse);
  let fail: (err: Error) => void = () => {};
  const fatal = new Promise<Error>((resolve) => (fail = resolve));
  try {
    await migrate(ch, config);
    const materializer = createMaterializer(config, ch, {
      ...options,
      onFatal: (err) => {
        options.onFatal?.(err);
        fail(err);
      },
    });
    const app = createHttpServer({
      logLevel: config.log.level === 'debug' ? 'debug' : 'warn',
      bodyLimit: 1_048_576,
      requestTimeoutMs: secondsToMs(config.gateway.httpRequestTimeoutS),
    });
    registerMaterializerRoutes(app, materializer);
    let url = '';
    if (config.materializer.metricsListen !== '') url = await app.listen(splitHostPort(config.materializer.metricsListen));
    try {
      await materializer.start();
    } catch (err) {
      await materializer.stop();
      await app.close();
      throw err;
    }
    let stopping: Promise<void> | undefined;
    return {
      materializer,
      url,
      fatal,
      stop: () => {
        stopping ??= (async () => {
          await materializer.stop();
          await app.close();
          await ch.close();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await ch.close();
    throw err;
  }
}

export const materializerCommand: Command = {
  name: 'materializer',
  summary: 'consume the Kafka spans topic and write the ClickHouse tables (distributed mode)',
  help: `Usage: ssf materializer [--brokers HOST:PORT,...] [--clickhouse-url URL] [--database NAME] [--listen HOST:PORT]

Distributed mode: a member of the consumer group $SSF_KAFKA_CONSUMER_GROUP on
the spans topic. It decodes each record, writes rows to ClickHouse exactly once
(a crash or rebalance never loses nor doubles a row), sends records it cannot
decode to the dead-letter topic, and commits offsets only after ClickHouse
acknowledged. Run one process per machine; more processes share the partitions.
Migrations are applied at start. Ctrl-C / SIGTERM writes what is buffered, then stops.

Options:
  --brokers LIST        Kafka bootstrap brokers (default $SSF_KAFKA_BROKERS; required)
  --clickhouse-url URL  a ClickHouse server (default $SSF_CLICKHOUSE_URL; required)
  --database NAME       default $SSF_CLICKHOUSE_DATABASE or ssf
  --listen HOST:PORT    /metrics, /-/ready, /-/healthy (default $SSF_MATERIALIZER_METRICS_LISTEN or 127.0.0.1:8129)
  -h, --help            this help

Batching: materializer.batchRows, materializer.batchMs; every setting: docs/configuration.md.`,
  async run(args) {
    const { values, positionals } = parse(args, {
      brokers: { type: 'string' },
      'clickhouse-url': { type: 'string' },
      database: { type: 'string' },
      listen: { type: 'string' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const brokers = values.brokers
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const config = loadConfig({
      overrides: {
        kafka: { brokers },
        clickhouse: { url: values['clickhouse-url'], database: values.database },
        materializer: { metricsListen: values.listen },
      },
    });
    const running = await startMaterializerProcess(config);
    console.log(
      `ssf materializer: consuming ${config.kafka.spansTopic} (group ${config.kafka.consumerGroup}) from ${config.kafka.brokers.join(',')} into ClickHouse ${config.clickhouse.url}, database ${config.clickhouse.database}${running.url ? `; metrics ${running.url}/metrics, health ${running.url}/-/ready` : ''}`,
    );
    const outcome = await new Promise<Error | 'signal'>((resolve) => {
      const stop = (): void => resolve('signal');
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      void running.fatal.then(resolve);
    });
    console.log('ssf materializer: stopping (writing what is buffered)…');
    await running.stop();
    if (outcome instanceof Error) {
      console.error(`ssf materializer: ${outcome.message}`);
      return 1;
    }
    return 0;
  },
};
