import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';
import { kafkaBrokers } from '../setup/services.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

/*
 * One topic-creation function for every process (src/kafka/topics.ts). The
 * gateway used to create the topics its own way when it started first:
 * without TLS/SASL, ignoring kafka.replicationFactor, and with a one-partition
 * dead-letter topic. Here the gateway starts first, alone.
 */

const MAIN = join(import.meta.dirname, '..', '..', 'cli', 'main.ts');

function gatewayEnv(suffix: string, extra: Record<string, string>): Record<string, string> {
  return {
    SSF_KAFKA_BROKERS: kafkaBrokers().join(','),
    SSF_KAFKA_SPANS_TOPIC: `topics-spans-${suffix}`,
    SSF_KAFKA_DEAD_LETTER_TOPIC: `topics-dlq-${suffix}`,
    SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
    SSF_GATEWAY_UDP_LISTEN: '',
    SSF_GATEWAY_STATSD_LISTEN: '',
    SSF_LOG_LEVEL: 'error',
    ...extra,
  };
}

async function describeTopics(topics: string[]): Promise<Array<{ name: string; partitions: number; replicas: number[] }>> {
  const admin = new Kafka({ clientId: 'topics-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics });
    return meta.topics
      .map((t) => ({ name: t.name, partitions: t.partitions.length, replicas: t.partitions.map((p) => p.replicas.length) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    await admin.disconnect();
  }
}

describe('the gateway started first creates both topics as configured', () => {
  it('gives the spans and the dead-letter topic kafka.partitions partitions and kafka.replicationFactor replicas', async () => {
    const suffix = `${process.pid}-${Date.now()}`;
    const env = gatewayEnv(suffix, { SSF_KAFKA_PARTITIONS: '5', SSF_KAFKA_REPLICATION_FACTOR: '1' });
    const child = spawn(process.execPath, [...TSX_IMPORT, MAIN, 'gateway', '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const listening = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('exit', (code) => reject(new Error(`ssf gateway exited with ${code}: ${err}`)));
        setTimeout(() => reject(new Error(`ssf gateway did not start: ${err}`)), 60_000);
      });
      expect(JSON.parse(listening)).toHaveProperty('http');
      expect(await describeTopics([`topics-spans-${suffix}`, `topics-dlq-${suffix}`])).toEqual([
        { name: `topics-dlq-${suffix}`, partitions: 5, replicas: [1, 1, 1, 1, 1] },
        { name: `topics-spans-${suffix}`, partitions: 5, replicas: [1, 1, 1, 1, 1] },
      ]);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('asks the broker for kafka.replicationFactor: more replicas than brokers is refused, not silently lowered', async () => {
    const suffix = `${process.pid}-${Date.now()}-rf`;
    const r = await runCli(['gateway'], gatewayEnv(suffix, { SSF_KAFKA_PARTITIONS: '2', SSF_KAFKA_REPLICATION_FACTOR: '2' }), 60_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/replication factor|Replication factor|INVALID_REPLICATION_FACTOR/i);
    expect(await describeTopics([`topics-spans-${suffix}`]).catch(() => [])).toEqual([]);
  });
});
