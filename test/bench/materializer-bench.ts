import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeBatch } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import { createEventBatch, insertBatch } from '../../src/clickhouse/event-writer.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { startKafkaBroker } from '../../deploy/local/kafka-broker.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { createMaterializer } from '../../ingest/materializer/materializer.js';
import type { InsertedEvent } from '../../ingest/materializer/materializer.js';
import { compressionOf, createKafka } from '../../src/kafka/kafka-client.js';
import { BATCH_FORMAT, tracePartition } from '../../src/kafka/record-format.js';
import { printTable } from './measure.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { createLogger } from '../../src/observability/logger.js';

/** Main-thread GC pause time from now until stop() (seconds). */
function gcMeter(): { stop(): number } {
  let ms = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) ms += entry.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      for (const entry of observer.takeRecords()) ms += entry.duration;
      observer.disconnect();
      return ms / 1000;
    },
  };
}

/** With SSF_BENCH_CPU_PROFILE=<file>, a V8 CPU profile of the measured phase (open it in Chrome DevTools or speedscope). */
async function startCpuProfile(): Promise<{ stop(): Promise<void> }> {
  const file = process.env['SSF_BENCH_CPU_PROFILE'];
  if (!file) return { stop: async () => {} };
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** CPU seconds (user + system) of another process, from /proc. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Peak RSS of this process from the last resetPeakRss() on (VmHWM; writing 5
 * to clear_refs resets it, Linux >= 4.0). The materializer runs in this
 * process: its peak is measured with the bench's own data freed first.
 */
function resetPeakRss(): void {
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  writeFileSync('/proc/self/clear_refs', '5');
}

function peakRssMb(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(hwm ?? 0) / 1024;
}

const share = (part: number, whole: number): string => `${((part / whole) * 100).toFixed(0)} %`;

/** The bench's spans: each with one sample and one log record (3 rows). */
function benchEvents(spans: number, now: bigint): SpanEvent[] {
  const events: SpanEvent[] = [];
  for (let i = 0; i < spans; i++) {
    events.push(
      spanEvent({
        traceId: BigInt(1 + Math.floor(i / 8)),
        id: BigInt(10_000_000 + i),
        parentId: i % 8 === 0 ? 0n : BigInt(1 + Math.floor(i / 8)),
        startTimestamp: now + BigInt(i) * 1000n,
        endTimestamp: now + BigInt(i) * 1000n + 1_234_567n,
        error: i % 40 === 0,
        service: `svc-${i % 10}`,
        name: `op-${i % 30}`,
        indicator: i % 8 === 0,
        tags: { 'http.method': 'GET', host: `h-${i % 50}` },
        metrics: [
          {
            type: 'counter',
            name: 'requests',
            value: 1,
            timestamp: 0n,
            message: '',
            status: 'ok',
            sampleRate: 1,
            tags: { route: `/r${i % 20}` },
            unit: '',
            scope: 'default',
          },
        ],
        logs: [{ timestamp: 0n, severity: 'info', severityNumber: 9, body: `served request ${i} in ${i % 97} ms`, attributes: { user: `u${i % 1000}` } }],
        tenant: 'default',
        receivedTimestamp: now,
        isTrace: true,
      }),
    );
  }
  return events;
}

/**
 * Kafka to ClickHouse: rows per second and per materializer CPU-second, for
 * spans carrying one sample and one log record each (3 rows per span), read
 * from a topic filled beforehand; against the same rows, built beforehand,
 * written to ClickHouse directly by the same writer (no Kafka, no decoding;
 * RowBinary on this server), measured in the same run. Also: the share of
 * that CPU spent in GC pauses, and rows per CPU-second of the ClickHouse
 * server process (it shares the machine).
 */
export async function materializerBench(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const SPANS = 150_000;
  const broker = await startKafkaBroker({ log: () => {} });
  const server = await startClickHouseServer({ log: () => {} });
  const topic = 'bench-materializer';
  const config = loadConfig({
    env: {
      SSF_KAFKA_BROKERS: broker.brokers.join(','),
      SSF_KAFKA_SPANS_TOPIC: topic,
      SSF_KAFKA_DEAD_LETTER_TOPIC: 'bench-dlq',
      SSF_KAFKA_CONSUMER_GROUP: 'bench',
      SSF_KAFKA_PARTITIONS: '3',
      SSF_CLICKHOUSE_URL: server.url,
      SSF_CLICKHOUSE_DATABASE: 'bench',
      SSF_LOG_LEVEL: 'error',
    },
  });
  await ensureTopics(config.kafka);
  const ch = await createClickHouse(config.clickhouse);
  try {
    await migrate(ch, config);
    const now = BigInt(Date.now()) * 1_000_000n;
    let events = benchEvents(SPANS, now);
    // Records as the gateway writes them: an SSFBatch per partition, spans stamped (tenant, received time).
    const producer = createKafka(config.kafka, 'bench').producer();
    await producer.connect();
    const partitions = config.kafka.partitions;
    for (let i = 0; i < SPANS; i += 5_000) {
      const groups: SpanEvent[][] = Array.from({ length: partitions }, () => []);
      for (const e of events.slice(i, i + 5_000)) groups[tracePartition(e.traceId, partitions)]?.push(e);
      const messages = groups.flatMap((g, partition) =>
        g.length === 0 ? [] : [{ partition, value: Buffer.from(encodeBatch(g)), headers: { 'ssf-format': BATCH_FORMAT } }],
      );
      await producer.send({ topic: config.kafka.spansTopic, acks: -1, compression: compressionOf(config.kafka), messages });
    }
    await producer.disconnect();

    const rowsTotal = SPANS * 3;
    // The spans are built again for the baseline: the materializer's memory is measured without them.
    events = [];
    resetPeakRss();
    const materializer = createMaterializer(config, ch, { createTopics: false, log: createLogger({ level: 'silent' }) });
    const profile = await startCpuProfile();
    const gc = gcMeter();
    const cpu0 = process.cpuUsage();
    const server0 = processCpuSeconds(server.pid);
    const t0 = process.hrtime.bigint();
    // The end is when ClickHouse has acknowledged every row (the materializer's `inserted` channel, published
    // once an insert is acknowledged): polling system.parts instead cost ClickHouse CPU that the baseline
    // phase does not pay, and up to 200 ms. The count is checked in ClickHouse afterwards.
    let acknowledged = 0;
    let allIn: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allIn = resolve;
    });
    const onInserted = (m: unknown): void => {
      acknowledged += (m as InsertedEvent).rows;
      if (acknowledged >= rowsTotal) allIn();
    };
    subscribe('ssf:materializer:inserted', onInserted);
    await materializer.start();
    const inserted = async (): Promise<number> => {
      const r = await (
        await ch.client.query({
          query: "SELECT sum(rows) AS n FROM system.parts WHERE database = 'bench' AND table IN ('spans', 'logs', 'samples') AND active",
          format: 'JSONEachRow',
        })
      ).json<{ n: string }>();
      return Number(r[0]?.n ?? 0);
    };
    await done;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    unsubscribe('ssf:materializer:inserted', onInserted);
    const cpu = process.cpuUsage(cpu0);
    const serverSeconds = processCpuSeconds(server.pid) - server0;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const gcSeconds = gc.stop();
    await profile.stop();
    await materializer.stop();
    const materializerRssMb = peakRssMb();
    const stored = await inserted();
    if (stored !== rowsTotal) throw new Error(`the materializer stored ${stored} rows, not ${rowsTotal}`);
    events = benchEvents(SPANS, now);

    // Baseline: the same rows, built beforehand, written straight into ClickHouse by the same writer.
    await ch.client.command({ query: 'CREATE DATABASE IF NOT EXISTS bench_direct' });
    const direct = await createClickHouse({ ...config.clickhouse, database: 'bench_direct' });
    await migrate(direct, config);
    resetPeakRss();
    const batches = [];
    for (let i = 0; i < SPANS; i += 50_000) {
      const batch = createEventBatch(direct);
      for (const e of events.slice(i, i + 50_000)) batch.append(e);
      batches.push(batch);
    }
    const dgc = gcMeter();
    const d0 = process.hrtime.bigint();
    const dcpu0 = process.cpuUsage();
    const dserver0 = processCpuSeconds(server.pid);
    for (const batch of batches) await insertBatch(direct, batch);
    const directSeconds = Number(process.hrtime.bigint() - d0) / 1e9;
    const dcpu = process.cpuUsage(dcpu0);
    const dserverSeconds = processCpuSeconds(server.pid) - dserver0;
    const dgcSeconds = dgc.stop();
    const directRssMb = peakRssMb();
    await direct.close();
    printTable(
      `Materializer: Kafka to ClickHouse (${SPANS.toLocaleString('en-US')} spans with a sample and a log each = ${rowsTotal.toLocaleString('en-US')} rows)`,
      [
        {
          path: 'the same rows inserted directly by the writer (baseline)',
          'rows/s': Math.round(rowsTotal / directSeconds).toLocaleString('en-US'),
          'x baseline': '1.00',
          'rows per Node CPU-second': Math.round(rowsTotal / ((dcpu.user + dcpu.system) / 1e6)).toLocaleString('en-US'),
          'GC share of that CPU': share(dgcSeconds, (dcpu.user + dcpu.system) / 1e6),
          'rows per ClickHouse CPU-second': Math.round(rowsTotal / dserverSeconds).toLocaleString('en-US'),
          'peak RSS (MB)': directRssMb.toFixed(0),
        },
        {
          path: 'materializer: consume, decode, validate, insert with dedup token, commit',
          'rows/s': Math.round(rowsTotal / seconds).toLocaleString('en-US'),
          'x baseline': (directSeconds / seconds).toFixed(2),
          'rows per Node CPU-second': Math.round(rowsTotal / cpuSeconds).toLocaleString('en-US'),
          'GC share of that CPU': share(gcSeconds, cpuSeconds),
          'rows per ClickHouse CPU-second': Math.round(rowsTotal / serverSeconds).toLocaleString('en-US'),
          'peak RSS (MB)': materializerRssMb.toFixed(0),
        },
      ],
    );
  } finally {
    await ch.close();
    await server.stop({ removeDataDir: true });
    await broker.stop();
  }
}
