import type { TestProject } from 'vitest/node';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import type { ClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { startKafkaBroker } from '../../deploy/local/kafka-broker.js';
import type { KafkaBroker } from '../../deploy/local/kafka-broker.js';
import './services.js';

/**
 * Starts one real Kafka broker and one real ClickHouse HTTP endpoint for the
 * whole integration run (in parallel: they take the longest), provides their
 * addresses to the tests (test/setup/services.ts), and stops both at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string): void => {
    process.stderr.write(`[services] ${line}\n`);
  };
  const started = Date.now();
  const results = await Promise.allSettled([startKafkaBroker({ log }), startClickHouseServer({ log })]);
  const [kafka, clickhouse] = results;
  const running: Array<KafkaBroker | ClickHouseServer> = [];
  if (kafka.status === 'fulfilled') running.push(kafka.value);
  if (clickhouse.status === 'fulfilled') running.push(clickhouse.value);
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(running.map((s) => s.stop()));
  };
  if (kafka.status === 'rejected' || clickhouse.status === 'rejected') {
    await stopAll();
    const reasons = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => String(r.reason instanceof Error ? r.reason.message : r.reason));
    throw new Error(`could not start the integration services:\n${reasons.join('\n')}`);
  }
  log(`Kafka at ${kafka.value.brokers.join(',')}, ClickHouse at ${clickhouse.value.url} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  project.provide('kafkaBrokers', kafka.value.brokers);
  project.provide('clickhouseUrl', clickhouse.value.url);
  return stopAll;
}
