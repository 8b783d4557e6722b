import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import { encodeBatchOfEncoded, encodeSpan } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { createTopics, startKafkaBroker } from '../../deploy/local/kafka-broker.js';
import { printNote, printTable } from './measure.js';
import { nodeFlagsOf, peakRssMb, processCpuSeconds } from './process-stats.js';
import { blastUdp, sendUdpAtRate } from './udp-sender.js';
import { udpDrops } from './veneur-server.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { loadConfig } from '../../src/config/load-config.js';
import { CardinalityGuard } from '../../ingest/gateway/cardinality-guard.js';
import { eventWindow } from '../../ingest/gateway/event-window.js';
import { GatewayMetrics } from '../../ingest/gateway/gateway-metrics.js';
import { SpanIntake } from '../../ingest/gateway/span-intake.js';
import { StatsdSampleEncoder } from '../../ingest/statsd/statsd-sample-bytes.js';
import { statsdToSpans } from '../../ingest/statsd/statsd-spans.js';

/**
 * The gateway under load, as a separate process (so its CPU time and memory
 * are its own): HTTP protobuf batches to Kafka-acknowledged events per
 * second and per gateway CPU-second, against kafkajs producing the same
 * records directly (the baseline, same run); UDP SSF datagrams and statsd
 * lines per second with loss, side by side with Veneur when it can be built
 * (statsd both per sample and with gateway.statsdAggregate, in a second
 * gateway process); the gateway's peak RSS.
 */

const repo = join(import.meta.dirname, '..', '..', '..');
const NOW = BigInt(Date.now()) * 1_000_000n;

function realisticSpan(i: number): SpanEvent {
  return spanEvent({
    traceId: BigInt(1 + Math.floor(i / 8)),
    id: BigInt(1_000_000 + i),
    parentId: i % 8 === 0 ? 0n : BigInt(1 + Math.floor(i / 8)),
    startTimestamp: NOW + BigInt(i * 1000),
    endTimestamp: NOW + BigInt(i * 1000 + 2_345_678),
    error: i % 50 === 0,
    service: ['checkout', 'cart', 'payments', 'search'][i % 4] ?? 'x',
    name: ['GET /cart', 'POST /pay', 'db.query', 'cache.get'][i % 4] ?? 'x',
    indicator: i % 8 === 0,
    tags: { 'http.method': 'GET', 'http.status_code': '200', region: 'eu-west-1', host: `web-${i % 16}` },
    isTrace: true,
  });
}

interface ProcStats {
  cpuSeconds: number;
  peakRssMb: number;
}

function procStats(pid: number): ProcStats {
  return { cpuSeconds: processCpuSeconds(pid), peakRssMb: peakRssMb(pid) };
}

async function startGatewayProcess(env: Record<string, string>): Promise<{ child: ChildProcess; where: Record<string, string> }> {
  // SSF_BENCH_PROFILE_DIR=/tmp/x writes a CPU profile of the gateway process there.
  const profile = process.env['SSF_BENCH_PROFILE_DIR'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['SSF_BENCH_PROFILE_DIR']}`] : [];
  // With the node flags of the built bin (its first line), as `ssf gateway` and the image start it.
  const main = join(repo, 'dist', 'cli', 'main.js');
  const child = spawn(process.execPath, [...nodeFlagsOf(main), ...profile, main, 'gateway', '--json'], {
    // SSF_BENCH_* are the bench's own settings: the gateway refuses SSF_* names it does not know.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SSF_BENCH_'))), ...env, SSF_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const where = await new Promise<Record<string, string>>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as Record<string, string>);
    });
    child.once('exit', (code) => reject(new Error(`the gateway exited with ${code}`)));
  });
  return { child, where };
}

/** The gateway's counters of datagrams or events it lost: in its reader thread's queue, and dropped after acceptance. */
async function gatewayLosses(http: string, protocol: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const out: Record<string, number> = { 'reader queue (datagrams)': 0, 'dropped after acceptance (events)': 0 };
  for (const line of text.split('\n')) {
    const n = Number(line.split(' ').pop());
    if (line.startsWith(`ssf_gateway_udp_overrun_total{protocol="${protocol}"}`)) out['reader queue (datagrams)'] = n;
    else if (line.startsWith(`ssf_gateway_dropped_total{protocol="${protocol}",`))
      out['dropped after acceptance (events)'] = (out['dropped after acceptance (events)'] ?? 0) + n;
  }
  return out;
}

/**
 * kept(), once it stopped moving (unchanged for 300 ms, at most 10 s): a
 * datagram the gateway reads late is not lost. Veneur's count is read the
 * same way (its stats() waits for a flush that saw no new input); before,
 * the gateway's was read 300 ms after the last datagram was sent, and what
 * was still in its queues counted as lost.
 */
async function keptSettled(http: string, protocol: string): Promise<number> {
  let n = await kept(http, protocol);
  for (let i = 0; i < 33; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const again = await kept(http, protocol);
    if (again === n) break;
    n = again;
  }
  return n;
}

/** Events of `protocol` the gateway accepted and did not drop afterwards (buffer full, Kafka down): what reached Kafka's queue. */
async function kept(http: string, protocol: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`ssf_gateway_accepted_events_total{protocol="${protocol}"}`)) n += Number(line.split(' ').pop());
    else if (line.startsWith(`ssf_gateway_dropped_total{protocol="${protocol}",`)) n -= Number(line.split(' ').pop());
  }
  return n;
}

async function httpLoad(
  http: string,
  body: Buffer,
  spansPerBatch: number,
  seconds: number,
  concurrency: number,
): Promise<{ events: number; failed: number; elapsed: number }> {
  let events = 0;
  let failed = 0;
  const end = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const res = await fetch(`${http}/v1/ssf`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
      await res.arrayBuffer();
      if (res.status === 200) events += spansPerBatch;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { events, failed, elapsed: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function kafkaBaseline(brokers: string[], topic: string, records: Buffer[], seconds: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench-baseline', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let sent = 0;
  const end = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      await producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.GZIP,
        messages: records.map((value, i) => ({ key: Buffer.from([i & 255]), value })),
      });
      sent += records.length;
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.disconnect();
  return sent / elapsed;
}

// Datagrams/s. The sender is native (test/bench/native/udp-sender.c): one in
// Node topped out near 100k/s, so rates above that were never really sent.
// Steps of 25k up to 125k, then of 12.5k to 250k, where both receivers'
// limits fall (until 2026-12 the step after 200k was 250k, and the ratio
// could only read 1.14x or 1.43x; with steps of 25k, 175k against 150k read
// 1.17x, one step below 1.2x).
export const SWEEP_RATES = [
  25_000, 50_000, 75_000, 100_000, 125_000, 137_500, 150_000, 162_500, 175_000, 187_500, 200_000, 212_500, 225_000, 237_500, 250_000, 275_000, 300_000,
];
/**
 * statsd datagrams/s of STATSD_LINES lines each: 100k to 4M lines/s. (The
 * sweep stopped at 1.2M lines/s until 2026-12: on a quiet machine both
 * receivers took the top rate without loss, and the ratio said nothing.
 * From 1M to 2M lines/s it steps by 100k since 2026-12-06: both receivers'
 * limits fall there, and with steps of 200k a ratio could only read 1.17x
 * or 1.33x. From 600k to 1M lines/s it steps by 100k since 2026-12-07: both
 * reached 800k in some runs and the ratio could only read 1.00x or 1.25x.)
 */
export const STATSD_SWEEP_RATES = [
  2_500, 5_000, 7_500, 10_000, 12_500, 15_000, 17_500, 20_000, 22_500, 25_000, 27_500, 30_000, 32_500, 35_000, 37_500, 40_000, 42_500, 45_000, 47_500, 50_000,
  60_000, 75_000, 100_000,
];
const STATSD_LINES = 40;
/** The statsd datagram every statsd measure sends: STATSD_LINES lines, counters and timers with DogStatsD tags. */
const STATSD_PACKET = Buffer.from(
  Array.from({ length: STATSD_LINES / 2 }, (_, i) => `bench.requests:${i}|c|#route:/x,code:200\nbench.latency:${i}.5|ms|#route:/x`).join('\n'),
);

/**
 * The highest of `rates` (datagrams/s, 2 s each) a receiver takes with less
 * than 0.1 % loss, in events/s (datagrams x perDatagram). `accepted()`
 * reads the receiver's cumulative count of events.
 */
export async function sweepUdp(
  address: string,
  datagrams: Buffer[],
  perDatagram: number,
  accepted: () => Promise<number>,
  rates: readonly number[] = SWEEP_RATES,
  losses?: () => Promise<Record<string, number>>,
): Promise<{ best: number; table: string }> {
  let best = 0;
  const cells: string[] = [];
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const counters = async (): Promise<Record<string, number>> => ({ 'kernel (datagrams)': await udpDrops(port), ...(await losses?.()) });
  for (const rate of rates) {
    const before = await accepted();
    const lostBefore = await counters();
    const sent = (await sendUdpAtRate(address, datagrams, rate, 2)) * perDatagram;
    await new Promise((r) => setTimeout(r, 300));
    const got = (await accepted()) - before;
    const loss = (100 * (sent - got)) / sent;
    // Where the loss was, when there was some: the kernel's receive buffer, the gateway's own counters.
    const lostAfter = await counters();
    const where = Object.entries(lostAfter)
      .map(([k, v]) => [k, v - (lostBefore[k] ?? 0)] as const)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`);
    cells.push(`${(rate * perDatagram) / 1000}k: ${loss.toFixed(2)} %${loss >= 0.1 && where.length > 0 ? ` (${where.join(', ')})` : ''}`);
    if (loss < 0.1) best = rate * perDatagram;
    else if (loss > 5) break;
  }
  return { best, table: cells.join(', ') };
}

/**
 * The Kafka gzip codec (src/kafka/kafka-client.ts), zlib's synchronous calls,
 * against the asynchronous ones (what kafkajs's own codec and a promisified
 * zlib do) on records of the gateway's size: CPU of the whole process
 * (the thread pool included) per record.
 */
async function codecTable(): Promise<void> {
  const spans = Array.from({ length: 230 }, (_, i) => encodeSpan(realisticSpan(i)));
  const record = Buffer.from(encodeBatchOfEncoded(spans));
  const packed = zlib.gzipSync(record, { level: 1 });
  const gzipAsync = promisify(zlib.gzip) as (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;
  const unzipAsync = promisify(zlib.unzip) as (b: Buffer) => Promise<Buffer>;
  const ROUNDS = 2_000;
  const cpuPerRecord = async (fn: () => unknown): Promise<number> => {
    for (let i = 0; i < 200; i++) await fn(); // warm-up
    const t0 = process.cpuUsage();
    for (let i = 0; i < ROUNDS; i++) await fn();
    const t = process.cpuUsage(t0);
    return (t.user + t.system) / ROUNDS;
  };
  const rows: Array<Record<string, string>> = [];
  for (const [what, asyncCall, syncCall] of [
    ['compress (gzip level 1)', () => gzipAsync(record, { level: 1 }), () => zlib.gzipSync(record, { level: 1 })],
    ['decompress', () => unzipAsync(packed), () => zlib.unzipSync(packed)],
  ] as const) {
    const a = await cpuPerRecord(asyncCall);
    const b = await cpuPerRecord(syncCall);
    rows.push({ what, 'async µs per record': a.toFixed(0), 'sync µs per record': b.toFixed(0), 'async / sync': (a / b).toFixed(2) });
  }
  printTable(
    `Kafka gzip codec: CPU per record of ${spans.length} spans (${(record.length / 1024).toFixed(1)} KiB, ${(record.length / packed.length).toFixed(1)}x smaller gzipped)`,
    rows,
  );
}

/**
 * The gateway's main-thread work per statsd line (the bench's datagram of
 * STATSD_LINES lines, read, checked and turned into what goes to the Kafka
 * thread), CPU per line: the fast path (StatsdSampleEncoder, straight to
 * SSFSample bytes) against the general path (parse to objects, encode), which
 * is also what the fast path must give byte for byte
 * (test/ingest/statsd/statsd-sample-bytes.test.ts).
 */
function statsdIntakeTable(packet: Buffer): void {
  const config = loadConfig({ env: {} });
  const g = config.gateway;
  // The gateway's own guard and window (createGateway).
  const guard = new CardinalityGuard({
    tagSetsPerMetric: g.maxTagSetsPerMetric,
    namesPerTenant: g.maxMetricNamesPerTenant,
    names: g.maxMetricNames,
    series: g.maxSeries,
  });
  const intake = new SpanIntake(new GatewayMetrics(), guard, (nowMs) => eventWindow(config, nowMs));
  const encoder = new StatsdSampleEncoder();
  const group = Array.from({ length: 64 }, () => packet);
  const lines = group.length * STATSD_LINES;
  const nsPerLine = (fast: boolean): number => {
    const run = (): void => {
      intake.fromStatsd(group, 'default', 'statsd', BigInt(Date.now()) * 1_000_000n, statsdToSpans, fast ? encoder : undefined);
    };
    for (let i = 0; i < 500; i++) run(); // warm-up
    const rounds: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < 400; i++) run();
      const t = process.cpuUsage(t0);
      rounds.push(((t.user + t.system) * 1000) / (400 * lines));
    }
    return rounds.sort((x, y) => x - y)[2] as number;
  };
  const general = nsPerLine(false);
  const fast = nsPerLine(true);
  printTable(`statsd lines on the gateway's main thread: CPU ns per line (median of 5 rounds, ${STATSD_LINES} lines per datagram)`, [
    { path: 'general (parse to objects, encode; baseline)', 'ns per line': general.toFixed(0), 'x baseline': '1.00' },
    { path: 'fast (straight to SSFSample bytes, the default)', 'ns per line': fast.toFixed(0), 'x baseline': (general / fast).toFixed(2) },
  ]);
}

export async function gatewayBench(): Promise<void> {
  await codecTable();
  statsdIntakeTable(STATSD_PACKET);
  const broker = await startKafkaBroker({ log: () => {} });
  const topic = 'bench-spans';
  await createTopics(broker.brokers, [
    { name: topic, partitions: 6 },
    { name: 'bench-baseline', partitions: 6 },
  ]);
  const { child, where } = await startGatewayProcess({
    SSF_KAFKA_BROKERS: broker.brokers.join(','),
    SSF_KAFKA_SPANS_TOPIC: topic,
    SSF_KAFKA_DEAD_LETTER_TOPIC: 'bench-dlq',
    SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
    SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
    SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
    SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
    SSF_GATEWAY_STATSD_LISTEN: '127.0.0.1:0',
  });
  const http = where['http'] as string;
  try {
    const spans = Array.from({ length: 1000 }, (_, i) => encodeSpan(realisticSpan(i)));
    const body = Buffer.from(encodeBatchOfEncoded(spans));
    await httpLoad(http, body, 1000, 2, 4); // warm-up
    const cpu0 = procStats(child.pid ?? 0).cpuSeconds;
    const load = await httpLoad(http, body, 1000, 10, 8);
    const cpu = procStats(child.pid ?? 0).cpuSeconds - cpu0;
    const baseline = await kafkaBaseline(
      broker.brokers,
      'bench-baseline',
      spans.map((s) => Buffer.from(s)),
      10,
    );
    const rate = load.events / load.elapsed;
    printTable('Gateway: HTTP protobuf batches (1,000 spans, 117 B each) to Kafka-acknowledged events', [
      {
        what: 'kafkajs producing the same records directly (baseline)',
        'events/s': Math.round(baseline).toLocaleString('en-US'),
        'x baseline': '1.00',
        'events per gateway CPU-second': '-',
      },
      {
        what: 'through the gateway (validate, stamp tenant, publish acks=all)',
        'events/s': Math.round(rate).toLocaleString('en-US'),
        'x baseline': (rate / baseline).toFixed(2),
        'events per gateway CPU-second': Math.round(load.events / cpu).toLocaleString('en-US'),
      },
    ]);
    if (load.failed > 0) printNote(`(${load.failed} requests were answered 503: the buffer bound was reached)`);
    // The peak RSS so far after each phase (VmHWM only grows): where the gateway's peak comes from.
    const peakAfter: Record<string, string> = { 'after HTTP batches': procStats(child.pid ?? 0).peakRssMb.toFixed(0) };

    // UDP SSF and statsd: what arrives, against what was sent.
    const udpSpans = spans.slice(0, 200).map((s) => Buffer.from(s));
    const acceptedBefore = await kept(http, 'udp');
    const udpCpu0 = procStats(child.pid ?? 0).cpuSeconds;
    const udp = await blastUdp(where['udp'] as string, udpSpans, 300_000);
    await new Promise((r) => setTimeout(r, 1500));
    const udpAccepted = (await kept(http, 'udp')) - acceptedBefore;
    const udpCpu = procStats(child.pid ?? 0).cpuSeconds - udpCpu0;
    peakAfter['after the UDP SSF blast'] = procStats(child.pid ?? 0).peakRssMb.toFixed(0);
    const statsdPackets = [STATSD_PACKET];
    const statsdCpu0 = procStats(child.pid ?? 0).cpuSeconds;
    const statsd = await blastUdp(where['statsd'] as string, statsdPackets, 50_000);
    await new Promise((r) => setTimeout(r, 1500));
    const statsdAccepted = await kept(http, 'statsd');
    const statsdCpu = procStats(child.pid ?? 0).cpuSeconds - statsdCpu0;
    peakAfter['after the statsd blast'] = procStats(child.pid ?? 0).peakRssMb.toFixed(0);
    const stats = procStats(child.pid ?? 0);
    const rows: Array<Record<string, string | number>> = [
      {
        target: 'ssf gateway',
        input: 'UDP SSF datagrams',
        sent: udp.sent,
        'sent/s': Math.round(udp.sent / udp.seconds).toLocaleString('en-US'),
        accepted: udpAccepted,
        'loss %': ((100 * (udp.sent - udpAccepted)) / udp.sent).toFixed(3),
      },
      {
        target: 'ssf gateway',
        input: `statsd lines (${STATSD_LINES} per datagram)`,
        sent: statsd.sent * STATSD_LINES,
        'sent/s': Math.round((statsd.sent * STATSD_LINES) / statsd.seconds).toLocaleString('en-US'),
        accepted: statsdAccepted,
        'loss %': ((100 * (statsd.sent * STATSD_LINES - statsdAccepted)) / (statsd.sent * STATSD_LINES)).toFixed(3),
      },
    ];
    rows.push(...(await veneurRows(udpSpans, statsdPackets)));
    printTable('Gateway vs Veneur: UDP input at full speed from one sender', rows);
    // CPU per accepted event: unlike loss, it does not depend on what else the machine runs.
    printTable('Gateway: CPU of the UDP input above (read, validate, publish to Kafka acks=all)', [
      {
        input: 'UDP SSF datagrams',
        'gateway CPU-seconds': udpCpu.toFixed(2),
        'events per gateway CPU-second': Math.round(udpAccepted / udpCpu).toLocaleString('en-US'),
      },
      {
        input: 'statsd lines',
        'gateway CPU-seconds': statsdCpu.toFixed(2),
        'events per gateway CPU-second': Math.round(statsdAccepted / statsdCpu).toLocaleString('en-US'),
      },
    ]);

    // The fair comparison: the highest paced rate each one takes with < 0.1 % loss.
    const gwSsf = await sweepUdp(
      where['udp'] as string,
      udpSpans,
      1,
      () => keptSettled(http, 'udp'),
      SWEEP_RATES,
      () => gatewayLosses(http, 'udp'),
    );
    const sweep: Array<Record<string, string | number>> = [
      {
        target: 'ssf gateway',
        input: 'UDP SSF datagrams/s',
        'best rate with < 0.1 % loss': gwSsf.best.toLocaleString('en-US'),
        'loss at each rate': gwSsf.table,
      },
    ];
    const gwStatsd = await sweepUdp(
      where['statsd'] as string,
      statsdPackets,
      STATSD_LINES,
      () => keptSettled(http, 'statsd'),
      STATSD_SWEEP_RATES,
      () => gatewayLosses(http, 'statsd'),
    );
    sweep.push({
      target: 'ssf gateway',
      input: `statsd lines/s (${STATSD_LINES} per datagram)`,
      'best rate with < 0.1 % loss': gwStatsd.best.toLocaleString('en-US'),
      'loss at each rate': gwStatsd.table,
    });
    // The same sweep against a second gateway process with statsd aggregation on (gateway.statsdAggregate),
    // flushing every second as Veneur does here.
    const aggregated = await aggregatedStatsdSweep(
      {
        SSF_KAFKA_BROKERS: broker.brokers.join(','),
        SSF_KAFKA_SPANS_TOPIC: topic,
        SSF_KAFKA_DEAD_LETTER_TOPIC: 'bench-dlq',
        SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_OTLP_HTTP_LISTEN: '',
        SSF_GATEWAY_OTLP_GRPC_LISTEN: '',
        SSF_GATEWAY_UDP_LISTEN: '',
        SSF_GATEWAY_STATSD_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_STATSD_AGGREGATE: 'true',
        SSF_GATEWAY_STATSD_FLUSH_INTERVAL_MS: '1000',
      },
      statsdPackets,
    );
    sweep.push({
      target: 'ssf gateway, statsd aggregation',
      input: `statsd lines/s (${STATSD_LINES} per datagram)`,
      'best rate with < 0.1 % loss': aggregated.best.toLocaleString('en-US'),
      'loss at each rate': aggregated.table,
    });
    const veneur = await veneurSweep(udpSpans, statsdPackets);
    sweep.push(...veneur.rows);
    printTable('Gateway vs Veneur: paced UDP (native sender), 2 s per rate, events/s', sweep);
    if (veneur.statsdBest > 0) {
      printTable('statsd lines: best paced rate with < 0.1 % loss, x Veneur v14.2.0 (same run)', [
        { mode: 'per-sample (default)', 'lines/s': gwStatsd.best, 'x veneur': Number((gwStatsd.best / veneur.statsdBest).toFixed(2)) },
        { mode: 'gateway.statsdAggregate (1 s interval)', 'lines/s': aggregated.best, 'x veneur': Number((aggregated.best / veneur.statsdBest).toFixed(2)) },
        { mode: 'veneur v14.2.0 (1 s interval)', 'lines/s': veneur.statsdBest, 'x veneur': 1 },
      ]);
    }
    printTable('statsd aggregation: what the aggregating gateway counted over its sweep', [aggregated.counts]);
    const end = procStats(child.pid ?? 0);
    printTable('Gateway process (peak RSS in MB so far after each phase; CPU seconds up to the paced sweeps)', [
      { ...peakAfter, 'peak RSS (MB)': end.peakRssMb.toFixed(0), 'CPU seconds used': stats.cpuSeconds.toFixed(1) },
    ]);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await broker.stop();
  }
}

/**
 * The statsd sweep against a gateway process with aggregation on. Its
 * accepted events are lines (validated, as per-sample mode counts them), less
 * what it dropped after (over the bound, or a flush Kafka did not take), so
 * the loss is counted as for per-sample mode; the samples it flushed are
 * reported beside.
 */
async function aggregatedStatsdSweep(
  env: Record<string, string>,
  statsdPackets: Buffer[],
): Promise<{ best: number; table: string; counts: Record<string, string | number> }> {
  const { child, where } = await startGatewayProcess(env);
  const http = where['http'] as string;
  try {
    const r = await sweepUdp(
      where['statsd'] as string,
      statsdPackets,
      STATSD_LINES,
      () => keptSettled(http, 'statsd'),
      STATSD_SWEEP_RATES,
      () => gatewayLosses(http, 'statsd'),
    );
    // Two more intervals: the last one is flushed and its publish acknowledged or counted as dropped.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const text = await (await fetch(`${http}/metrics`)).text();
    const metric = (prefix: string): number =>
      text
        .split('\n')
        .filter((l) => l.startsWith(prefix))
        .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    const lines = metric('ssf_gateway_statsd_aggregated_lines_total');
    const samples = metric('ssf_gateway_statsd_aggregate_samples_total');
    return {
      ...r,
      counts: {
        'lines accepted': metric('ssf_gateway_accepted_events_total{protocol="statsd"}'),
        'lines aggregated': lines,
        'lines dropped after acceptance': metric('ssf_gateway_dropped_total{protocol="statsd",'),
        'samples flushed to Kafka': samples,
        'lines per sample': Number((lines / Math.max(1, samples)).toFixed(1)),
        'kept (accepted - dropped)': await kept(http, 'statsd'),
      },
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function veneurSweep(udpSpans: Buffer[], statsdPackets: Buffer[]): Promise<{ rows: Array<Record<string, string | number>>; statsdBest: number }> {
  try {
    const veneur = await import('./veneur-server.js');
    await veneur.ensureVeneurBinary();
    const server = await veneur.startVeneur({ ssfUdpPort: 0, statsdUdpPort: 0, httpPort: 0 });
    try {
      const r = await sweepUdp(server.ssfAddress, udpSpans, 1, async () => (await server.stats()).ssfSpans);
      const st = await sweepUdp(server.statsdAddress, statsdPackets, STATSD_LINES, async () => (await server.stats()).statsdLines, STATSD_SWEEP_RATES);
      return {
        rows: [
          {
            target: 'veneur v14.2.0',
            input: 'UDP SSF datagrams/s',
            'best rate with < 0.1 % loss': r.best.toLocaleString('en-US'),
            'loss at each rate': r.table,
          },
          {
            target: 'veneur v14.2.0',
            input: `statsd lines/s (${STATSD_LINES} per datagram)`,
            'best rate with < 0.1 % loss': st.best.toLocaleString('en-US'),
            'loss at each rate': st.table,
          },
        ],
        statsdBest: st.best,
      };
    } finally {
      await server.stop();
    }
  } catch (err) {
    return {
      rows: [{ target: 'veneur', input: `not measured: ${(err as Error).message.slice(0, 80)}`, 'best rate with < 0.1 % loss': '-', 'loss at each rate': '-' }],
      statsdBest: 0,
    };
  }
}

/** The same UDP load against Veneur itself, when test/bench/veneur-server.ts can build and start it. */
async function veneurRows(udpSpans: Buffer[], statsdPackets: Buffer[]): Promise<Array<Record<string, string | number>>> {
  let veneur: typeof import('./veneur-server.js');
  try {
    veneur = await import('./veneur-server.js');
    await veneur.ensureVeneurBinary();
  } catch (err) {
    return [{ target: 'veneur', input: `not measured: ${(err as Error).message.slice(0, 80)}`, sent: '-', 'sent/s': '-', accepted: '-', 'loss %': '-' }];
  }
  return veneur.measureVeneur(udpSpans, statsdPackets, blastUdp);
}
