/**
 * A materializer as its own process, for the crash tests: the same start-up as
 * `ssf materializer` (startMaterializerProcess), settings from SSF_* variables.
 * Prints one line per acknowledged insert (`inserted {json}`) on stdout.
 *
 * MAT_CHILD_KILL_AFTER_INSERTS=N: SIGKILLs itself right after the N-th insert
 * is acknowledged by ClickHouse and before its offsets are committed, the
 * worst moment for exactly-once.
 *
 *   node --import tsx test/ingest/materializer/materializer-child.ts
 */
import { subscribe } from 'node:diagnostics_channel';
import type { InsertedEvent } from '../../../ingest/materializer/materializer.js';
import { startMaterializerProcess } from '../../../cli/materializer-command.js';
import { loadConfig } from '../../../src/config/load-config.js';

const killAfter = Number(process.env['MAT_CHILD_KILL_AFTER_INSERTS'] ?? '0');
let inserts = 0;
subscribe('ssf:materializer:inserted', (message) => {
  const event = message as InsertedEvent;
  inserts++;
  // stdout is a pipe: written synchronously on Linux, so the line is out before the kill.
  process.stdout.write(`inserted ${JSON.stringify(event)}\n`);
  if (killAfter > 0 && inserts >= killAfter) process.kill(process.pid, 'SIGKILL');
});

const running = await startMaterializerProcess(loadConfig(), {
  // A killed member holds its partitions for the session timeout: short, so the test does not wait 30 s.
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  stopTimeoutMs: 10_000,
});
process.stdout.write(`started ${running.url}\n`);

const stop = async (): Promise<void> => {
  await running.stop();
  process.stdout.write('stopped\n');
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
void running.fatal.then((err) => {
  process.stderr.write(`fatal: ${err.message}\n`);
  process.exit(1);
});
