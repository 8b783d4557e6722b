import zlib from 'node:zlib';
import kafkajs, { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import type { SASLOptions } from 'kafkajs';
import type { Config } from '../config/config-schema.js';

export type KafkaConfig = Config['kafka'];

/**
 * Sets the gzip codec of kafkajs to zlib level `level`. kafkajs keeps its
 * codecs in one table per module instance (each thread has its own) and its
 * built-in gzip uses zlib's default level 6; level 1 costs the gateway about a
 * third of the CPU (docs/architecture.md, "Where the CPU goes"). Called by
 * createKafka, so the level is the configuration's wherever a client is made.
 *
 * The calls are zlib's synchronous ones. On the gateway's records (SSFBatch
 * values of about 27 KiB from OTLP requests), an asynchronous call (a new
 * stream, a round trip to libuv's thread pool, its output gathered in 16 KiB
 * chunks) cost 3.4 µs of CPU per event to compress against 1.5, and 3.0 to
 * decompress against 0.8 (docs/architecture.md, "Kafka's gzip, synchronously").
 * The codec runs on the gateway's Kafka thread, which does nothing else, and
 * in a consumer between two fetches (about 1 ms per MiB of records).
 */
function useGzipLevel(level: number): void {
  kafkajs.CompressionCodecs[CompressionTypes.GZIP] = () => ({
    compress: async (encoder: { buffer: Buffer }) => zlib.gzipSync(encoder.buffer, { level }),
    decompress: async (buffer: Buffer) => zlib.unzipSync(buffer),
  });
}

/** The kafkajs compression type of `kafka.compression`. */
export function compressionOf(config: KafkaConfig): CompressionTypes {
  return config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
}

/**
 * The one way a process makes a Kafka client: brokers, TLS, SASL and retries
 * from the configuration, the gzip level set, `clientId` suffixed with the role.
 */
export function createKafka(config: KafkaConfig, role: string, level: logLevel = logLevel.ERROR): Kafka {
  useGzipLevel(config.gzipLevel);
  const credentials = { username: config.saslUsername, password: config.saslPassword };
  const sasl: SASLOptions | undefined =
    config.saslMechanism === 'plain'
      ? { mechanism: 'plain', ...credentials }
      : config.saslMechanism === 'scram-sha-256'
        ? { mechanism: 'scram-sha-256', ...credentials }
        : config.saslMechanism === 'scram-sha-512'
          ? { mechanism: 'scram-sha-512', ...credentials }
          : undefined;
  return new Kafka({
    clientId: `${config.clientId}-${role}`,
    brokers: [...config.brokers],
    ssl: config.ssl,
    ...(sasl ? { sasl } : {}),
    logLevel: level,
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 5_000 },
  });
}
