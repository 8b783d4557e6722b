/*
 * The materializer bench's materializer, in a process of its own (as it runs
 * in production), so that its CPU and peak RSS are its own and not the
 * bench's. Forked by materializer-bench.ts with the configuration in its
 * environment (SSF_*) and the number of rows to wait for in BENCH_ROWS.
 *
 * Messages: the child sends `ready` once loaded (its peak RSS reset); on `start` it starts the
 * materializer and sends `done` (with its GC pause time and when the first
 * insert was acknowledged) once ClickHouse acknowledged BENCH_ROWS rows; on
 * `stop` it stops, sends `stopped` with its peak RSS, and exits.
 */
import { subscribe } from 'node:diagnostics_channel';
import { setFlagsFromString } from 'node:v8';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createMaterializer } from '../../ingest/materializer/materializer.js';
import type { InsertedEvent } from '../../ingest/materializer/materializer.js';
import { createLogger } from '../../src/observability/logger.js';
import { gcMeter, peakRssMb, resetPeakRss, startCpuProfile } from './process-stats.js';

export type ToMaterializer = 'start' | 'stop';
export type FromMaterializer = { type: 'ready' } | { type: 'done'; firstAckSeconds: number; gcSeconds: number } | { type: 'stopped'; peakRssMb: number };

const send = (m: FromMaterializer): void => {
  process.send?.(m);
};

setFlagsFromString('--expose-gc');
const rowsTotal = Number(process.env['BENCH_ROWS']);
const config = loadConfig();
const ch = await createClickHouse(config.clickhouse);
const materializer = createMaterializer(config, ch, { createTopics: false, log: createLogger({ level: 'silent' }) });

let gc: { stop(): number } | undefined;
let profile: { stop(): Promise<void> } | undefined;
let t0 = 0n;
let stopping = false;
let acknowledged = 0;
let firstAckSeconds = 0;
subscribe('ssf:materializer:inserted', (m) => {
  if (acknowledged === 0) firstAckSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  acknowledged += (m as InsertedEvent).rows;
  if (acknowledged >= rowsTotal && gc !== undefined) {
    send({ type: 'done', firstAckSeconds, gcSeconds: gc.stop() });
    gc = undefined;
  }
});

process.on('message', (m: ToMaterializer) => {
  if (m === 'start') {
    void startCpuProfile().then(async (p) => {
      profile = p;
      gc = gcMeter();
      t0 = process.hrtime.bigint();
      await materializer.start();
    });
  } else if (m === 'stop') {
    stopping = true;
    void (async () => {
      await profile?.stop();
      await materializer.stop();
      send({ type: 'stopped', peakRssMb: peakRssMb() });
      await ch.close();
      process.disconnect();
    })();
  }
});
// The bench gone (its IPC channel closed before `stop`): nothing to report to.
process.once('disconnect', () => {
  if (!stopping) process.exit(1);
});
resetPeakRss();
send({ type: 'ready' });
