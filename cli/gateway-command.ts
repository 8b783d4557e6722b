import { checkTokens } from '../src/auth/tenants.js';
import { loadConfig } from '../src/config/load-config.js';
import type { Command } from './command.js';
import { parse, UsageError } from './command.js';

export const gatewayCommand: Command = {
  name: 'gateway',
  summary: 'run the ingestion gateway (distributed mode: publishes to Kafka)',
  help: `Usage: ssf gateway [--json]

Runs the ingestion gateway: SSF over HTTP (POST /v1/ssf), UDP and the framed
stream, and statsd/DogStatsD, validated and published to Kafka
(kafka.spansTopic, created if missing). Needs SSF_KAFKA_BROKERS. Stateless:
run as many as you like behind a load balancer.

Options:
  --json       print the listening addresses as one JSON line (for scripts)
  -h, --help   this help

Settings: gateway.*, kafka.* in docs/configuration.md.`,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const config = loadConfig();
    checkTokens(config.gateway); // before anything starts
    if (config.kafka.brokers.length === 0)
      throw new UsageError('ssf gateway needs Kafka: set SSF_KAFKA_BROKERS (or run `ssf serve` for the all-in-one mode without Kafka)');
    const [{ createGateway }, { KafkaThreadSink }, { statsdToSpans }, { StatsdSampleEncoder }, { ensureTopics }] = await Promise.all([
      import('../ingest/gateway/gateway.js'),
      import('../ingest/sink/kafka-thread-sink.js'),
      import('../ingest/statsd/statsd-spans.js'),
      import('../ingest/statsd/statsd-sample-bytes.js'),
      import('../src/kafka/topics.js'),
    ]);
    await ensureTopics(config.kafka);
    const sink = new KafkaThreadSink(config.kafka);
    await sink.connect();
    const gateway = createGateway(config, sink, { parseStatsd: statsdToSpans, statsdFastPath: new StatsdSampleEncoder() });
    const where = await gateway.listen();
    if (values.json) console.log(JSON.stringify({ pid: process.pid, ...where }));
    else
      console.log(
        `ssf gateway: listening on ${Object.entries(where)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}; publishing to ${config.kafka.spansTopic} at ${config.kafka.brokers.join(',')}`,
      );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await gateway.close();
    return 0;
  },
};
