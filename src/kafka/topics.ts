import { logLevel } from 'kafkajs';
import type { KafkaConfig } from './kafka-client.js';
import { createKafka } from './kafka-client.js';

/**
 * Creates the pipeline's topics that do not exist yet: the spans topic and the
 * dead-letter topic, both with `kafka.partitions` partitions and
 * `kafka.replicationFactor` replicas, through a client with the configured TLS
 * and SASL. Every process that may start first (gateway, materializer, tools)
 * calls this one function, so whichever does decides nothing of its own.
 * Returns the topics it created.
 */
export async function ensureTopics(config: KafkaConfig): Promise<string[]> {
  const admin = createKafka(config, 'admin', logLevel.NOTHING).admin();
  await admin.connect();
  try {
    const wanted = [config.spansTopic, config.deadLetterTopic];
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length === 0) return [];
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: config.partitions, replicationFactor: config.replicationFactor })),
      });
    } catch (err) {
      // Another process may have created them meanwhile.
      const now = new Set(await admin.listTopics());
      if (missing.every((t) => now.has(t))) return [];
      // kafkajs says only "Topic creation errors": name the broker's reason (e.g. the replication factor).
      const reasons = ((err as { errors?: Array<{ message?: string; type?: string }> }).errors ?? []).map((e) => e.message ?? e.type ?? '');
      const why = reasons.length > 0 ? reasons.join('; ') : (err as Error).message;
      throw new Error(
        `could not create the topics ${missing.join(', ')} with ${config.partitions} partitions and replication factor ${config.replicationFactor}: ${why}`,
        { cause: err },
      );
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}
