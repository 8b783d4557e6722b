import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { encodeBatch } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import { createEventBatch, insertBatch } from '../../src/clickhouse/event-writer.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { startKafkaBroker } from '../../deploy/local/kafka-broker.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { compressionOf, createKafka } from '../../src/kafka/kafka-client.js';
import { BATCH_FORMAT, tracePartition } from '../../src/kafka/record-format.js';
import { printTable } from './measure.js';
import { spanEvent } from '../../src/codec/span-event.js';
import type { FromMaterializer, ToMaterializer } from './materializer-process.js';
import { gcMeter, nodeFlagsOf, peakRssMb, processCpuSeconds, resetPeakRss } from './process-stats.js';

const share = (part: number, whole: number): string => `${((part / whole) * 100).toFixed(0)} %`;

/** Spans `from` to `from + count - 1` of the bench: each with one sample and one log record (3 rows). */
function benchEvents(from: number, count: number, now: bigint): SpanEvent[] {
  const events: SpanEvent[] = [];
  for (let i = from; i < from + count; i++) {
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
 * from a topic filled beforehand by a materializer in its own process
 * (materializer-process.ts); against the same rows, built beforehand,
 * written to ClickHouse directly by the same writer (no Kafka, no decoding;
 * RowBinary on this server), measured in the same run. Also: the share of
 * that CPU spent in GC pauses, and rows per CPU-second of the ClickHouse
 * server process (it shares the machine).
 */
export async function materializerBench(): Promise<void> {
  setFlagsFromString('--expose-gc');
  // 1,350,000 rows: about four seconds of inserting, so that joining the group and the first fetch
  // (about 0.35 s, reported apart as the time to the first acknowledged insert) do not pass for throughput.
  const SPANS = 450_000;
  const broker = await startKafkaBroker({ log: () => {} });
  const server = await startClickHouseServer({ log: () => {} });
  const topic = 'bench-materializer';
  const env: Record<string, string> = {
    SSF_KAFKA_BROKERS: broker.brokers.join(','),
    SSF_KAFKA_SPANS_TOPIC: topic,
    SSF_KAFKA_DEAD_LETTER_TOPIC: 'bench-dlq',
    SSF_KAFKA_CONSUMER_GROUP: 'bench',
    SSF_KAFKA_PARTITIONS: '3',
    SSF_CLICKHOUSE_URL: server.url,
    SSF_CLICKHOUSE_DATABASE: 'bench',
    SSF_LOG_LEVEL: 'error',
  };
  // To compare batch sizes: SSF_MATERIALIZER_BATCH_ROWS=... npm run bench -- materializer.
  for (const name of ['SSF_MATERIALIZER_BATCH_ROWS', 'SSF_MATERIALIZER_BATCH_MS']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const config = loadConfig({ env });
  await ensureTopics(config.kafka);
  const ch = await createClickHouse(config.clickhouse);
  try {
    await migrate(ch, config);
    const now = BigInt(Date.now()) * 1_000_000n;
    // Records as the gateway writes them: an SSFBatch per partition, spans stamped (tenant, received time).
    // Built 5,000 spans at a time: the bench stays small on the machine the materializer shares.
    const producer = createKafka(config.kafka, 'bench').producer();
    await producer.connect();
    const partitions = config.kafka.partitions;
    for (let i = 0; i < SPANS; i += 5_000) {
      const groups: SpanEvent[][] = Array.from({ length: partitions }, () => []);
      for (const e of benchEvents(i, Math.min(5_000, SPANS - i), now)) groups[tracePartition(e.traceId, partitions)]?.push(e);
      const messages = groups.flatMap((g, partition) =>
        g.length === 0 ? [] : [{ partition, value: Buffer.from(encodeBatch(g)), headers: { 'ssf-format': BATCH_FORMAT } }],
      );
      await producer.send({ topic: config.kafka.spansTopic, acks: -1, compression: compressionOf(config.kafka), messages });
    }
    await producer.disconnect();

    const rowsTotal = SPANS * 3;
    // The materializer in a process of its own, as in production: its CPU and peak RSS are its own.
    const child = fork(fileURLToPath(new URL('./materializer-process.js', import.meta.url)), {
      env: { ...process.env, ...env, BENCH_ROWS: String(rowsTotal) },
      // The node flags `ssf materializer` runs with (the built bin's first line).
      execArgv: nodeFlagsOf(fileURLToPath(new URL('../../cli/main.js', import.meta.url))),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = once(child, 'exit').then(([code, signal]) => {
      throw new Error(`the bench's materializer process exited (${String(code ?? signal)})`);
    });
    exited.catch(() => {});
    const next = async <T extends FromMaterializer['type']>(type: T): Promise<Extract<FromMaterializer, { type: T }>> => {
      for (;;) {
        const [m] = (await Promise.race([once(child, 'message'), exited])) as [FromMaterializer];
        if (m.type === type) return m as Extract<FromMaterializer, { type: T }>;
      }
    };
    const tell = (m: ToMaterializer): void => {
      child.send(m);
    };
    const childPid = child.pid ?? 0;
    let materialized: { seconds: number; cpuSeconds: number; serverSeconds: number; firstAckSeconds: number; gcSeconds: number; peakRssMb: number };
    try {
      await next('ready');
      const cpu0 = processCpuSeconds(childPid);
      const server0 = processCpuSeconds(server.pid);
      const t0 = process.hrtime.bigint();
      // The end is when ClickHouse has acknowledged every row (the materializer's `inserted` channel, published
      // once an insert is acknowledged, counted in the child): polling system.parts instead cost ClickHouse CPU
      // that the baseline phase does not pay, and up to 200 ms. The count is checked in ClickHouse afterwards.
      tell('start');
      const done = await next('done');
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpuSeconds = processCpuSeconds(childPid) - cpu0;
      const serverSeconds = processCpuSeconds(server.pid) - server0;
      tell('stop');
      const stopped = await next('stopped');
      materialized = { seconds, cpuSeconds, serverSeconds, firstAckSeconds: done.firstAckSeconds, gcSeconds: done.gcSeconds, peakRssMb: stopped.peakRssMb };
    } finally {
      await stopChild(child);
    }
    const inserted = async (): Promise<number> => {
      const r = await (
        await ch.client.query({
          query: "SELECT sum(rows) AS n FROM system.parts WHERE database = 'bench' AND table IN ('spans', 'logs', 'samples') AND active",
          format: 'JSONEachRow',
        })
      ).json<{ n: string }>();
      return Number(r[0]?.n ?? 0);
    };
    const stored = await inserted();
    if (stored !== rowsTotal) throw new Error(`the materializer stored ${stored} rows, not ${rowsTotal}`);
    const events = benchEvents(0, SPANS, now);

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
    let directFirstSeconds = 0;
    for (const batch of batches) {
      await insertBatch(direct, batch);
      if (directFirstSeconds === 0) directFirstSeconds = Number(process.hrtime.bigint() - d0) / 1e9;
    }
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
          'first insert acknowledged after (s)': directFirstSeconds.toFixed(2),
          'rows per Node CPU-second': Math.round(rowsTotal / ((dcpu.user + dcpu.system) / 1e6)).toLocaleString('en-US'),
          'GC share of that CPU': share(dgcSeconds, (dcpu.user + dcpu.system) / 1e6),
          'rows per ClickHouse CPU-second': Math.round(rowsTotal / dserverSeconds).toLocaleString('en-US'),
          'peak RSS (MB)': directRssMb.toFixed(0),
        },
        {
          path: 'materializer: consume, decode, validate, insert with dedup token, commit',
          'rows/s': Math.round(rowsTotal / materialized.seconds).toLocaleString('en-US'),
          'x baseline': (directSeconds / materialized.seconds).toFixed(2),
          'first insert acknowledged after (s)': materialized.firstAckSeconds.toFixed(2),
          'rows per Node CPU-second': Math.round(rowsTotal / materialized.cpuSeconds).toLocaleString('en-US'),
          'GC share of that CPU': share(materialized.gcSeconds, materialized.cpuSeconds),
          'rows per ClickHouse CPU-second': Math.round(rowsTotal / materialized.serverSeconds).toLocaleString('en-US'),
          'peak RSS (MB)': materialized.peakRssMb.toFixed(0),
        },
      ],
    );
  } finally {
    await ch.close();
    await server.stop({ removeDataDir: true });
    await broker.stop();
  }
}

/** Ends the materializer's process: it exits by itself after `stop`; SIGKILL if it has not within 20 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}
