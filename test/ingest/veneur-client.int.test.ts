import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createGateway } from '../../ingest/gateway/gateway.js';
import type { Gateway } from '../../ingest/gateway/gateway.js';
import { KafkaThreadSink } from '../../ingest/sink/kafka-thread-sink.js';
import { kafkaBrokers } from '../setup/services.js';
import { freshTopic, readTopic } from './kafka-reader.js';

// A real third-party client: Veneur's own Go trace client (the golden-vector
// program's `send` mode, test/fixtures/veneur/README.md) sending to the gateway.
const root = join(import.meta.dirname, '..', '..');
const binary = join(root, '.cache', 'veneur-golden', 'veneur-golden');
const run = promisify(execFile);

interface Summary {
  trace_id: string;
  root_id: string;
  spans: number;
  samples: number;
  errors: number;
}

describe("Veneur's Go trace client -> gateway -> Kafka", () => {
  let gateway: Gateway;
  let where: Record<string, string>;
  let topic: string;
  let socketPath: string;
  beforeAll(async () => {
    mkdirSync(join(root, '.cache', 'veneur-golden'), { recursive: true });
    execFileSync('go', ['build', '-o', binary, '.'], { cwd: join(root, 'test', 'fixtures', 'veneur', 'generator'), stdio: 'pipe', timeout: 300_000 });
    topic = await freshTopic(kafkaBrokers(), 'veneur-client');
    socketPath = join(mkdtempSync(join(tmpdir(), 'ssf-vc-')), 'ssf.sock');
    const config = loadConfig({
      env: {
        SSF_KAFKA_BROKERS: kafkaBrokers().join(','),
        SSF_KAFKA_SPANS_TOPIC: topic,
        SSF_KAFKA_LINGER_MS: '2',
        SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
        SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_STATSD_LISTEN: '',
        SSF_GATEWAY_UNIX_SOCKET: socketPath,
      },
    });
    const sink = new KafkaThreadSink(config.kafka);
    await sink.connect();
    gateway = createGateway(config, sink, { logLevel: false });
    where = await gateway.listen();
  }, 320_000);
  afterAll(async () => gateway?.close());

  it('receives every span and sample Veneur sends over UDP and over the UNIX framed stream, exactly', async () => {
    const udp = JSON.parse(
      (await run(binary, ['send', '-addr', `udp://${where['udp']}`, '-n', '200', '-service', 'veneur-udp', '-rate', '20000'])).stdout,
    ) as Summary;
    const unix = JSON.parse((await run(binary, ['send', '-addr', `unix://${socketPath}`, '-n', '300', '-service', 'veneur-unix', '-batch'])).stdout) as Summary;
    expect(udp.errors + unix.errors).toBe(0);
    const records = await readTopic(kafkaBrokers(), topic, 201 + 301);
    expect(records).toHaveLength(502);
    for (const [summary, service] of [
      [udp, 'veneur-udp'],
      [unix, 'veneur-unix'],
    ] as const) {
      const spans = records.filter((r) => r.span.service === service);
      expect(spans).toHaveLength(summary.spans + 1);
      expect(new Set(spans.map((r) => r.span.traceId.toString()))).toEqual(new Set([summary.trace_id]));
      const children = spans.filter((r) => r.span.id.toString() !== summary.root_id);
      expect(children.every((r) => r.span.parentId.toString() === summary.root_id && r.span.isTrace)).toBe(true);
      expect(new Set(children.map((r) => r.span.tags['i'])).size).toBe(summary.spans);
      expect(children.flatMap((r) => r.span.metrics)).toHaveLength(summary.samples);
    }
  });
});
