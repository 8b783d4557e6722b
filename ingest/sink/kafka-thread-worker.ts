import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../../src/config/config-schema.js';
import { sinkError, SinkErrors } from './sink-errors.js';
import { KafkaSink } from './kafka-sink.js';
import type { SpanPack } from './span-sink.js';
import type { SinkStatus } from './span-sink.js';

/** Messages between KafkaThreadSink and this worker. */
export type ToWorker = { type: 'connect' } | { type: 'publish'; id: number; pack: SpanPack } | { type: 'status' } | { type: 'close' };

export type ToMain =
  | { type: 'connected' }
  | { type: 'connect-failed'; reason: string }
  | { type: 'published'; id: number; error?: { code: string; reason: string; retryAfterSeconds?: number } }
  | { type: 'observed'; seconds: number; records: number; ok: boolean }
  | { type: 'status'; status: SinkStatus };

if (parentPort) {
  const port = parentPort;
  const { config, quiet } = workerData as { config: Config['kafka']; quiet: boolean };
  const sink = new KafkaSink(config, { quiet });
  const send = (m: ToMain): void => port.postMessage(m);
  sink.observer = { observeSink: (_sink, seconds, records, ok) => send({ type: 'observed', seconds, records, ok }) };
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'connect':
        sink.connect().then(
          () => send({ type: 'connected' }),
          (err: unknown) => send({ type: 'connect-failed', reason: (err as Error).message }),
        );
        break;
      case 'publish':
        sink.publish(m.pack).then(
          () => send({ type: 'published', id: m.id }),
          (err: unknown) => {
            const e = SinkErrors.has(err) ? err : sinkError((err as Error).message, 2);
            send({
              type: 'published',
              id: m.id,
              error: { code: String(e.code), reason: e.reason, ...(e.retryAfterSeconds !== undefined ? { retryAfterSeconds: e.retryAfterSeconds } : {}) },
            });
          },
        );
        break;
      case 'status':
        send({ type: 'status', status: sink.status() });
        break;
      case 'close':
        void sink.close().finally(() => process.exit(0));
        break;
    }
  });
}
