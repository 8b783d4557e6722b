import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@clickhouse/client';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { startKafkaBroker } from '../../deploy/local/kafka-broker.js';
import { freePort } from '../../src/net/free-port.js';
import { ExportLogsServiceRequest, ExportTraceServiceRequest } from '../../ingest/otlp/otlp-messages.js';
import { buildOtelCollector, clickhouseConfig, startOtelCollector } from '../setup/otel-collector.js';
import { seededRandom } from '../setup/random.js';
import { printNote, printTable } from './measure.js';
import { nodeFlagsOf } from './process-stats.js';

/**
 * Our gateway + ClickHouse writer against the OpenTelemetry Collector (otlp
 * receiver, batch processor, clickhouse exporter, release 0.165), fed the
 * same OTLP/HTTP protobuf requests by the same sender, writing into the same
 * ClickHouse server, in the same run (ours first, then the Collector):
 * - spans and log records per CPU-second of each pipeline's process, and of
 *   ClickHouse during each phase, in two passes of distinct data: the first
 *   from a process just started (ours compiles its hot code with it, the
 *   Collector's Go code is compiled ahead), the second warm, as a pipeline
 *   runs for days;
 * - bytes on disk per span and per log record after OPTIMIZE FINAL (ours:
 *   spans + trace_index, logs; the Collector's: otel_traces +
 *   otel_traces_trace_id_ts, otel_logs);
 * - trace by id (ours: GET /v1/traces/{32 hex}; the Collector's schema: the
 *   Grafana plugin's query, time range from otel_traces_trace_id_ts then
 *   otel_traces) and log search by a word (ours: GET /v1/logs?q=; theirs:
 *   hasToken on otel_logs.Body, its token bloom filter), median of 30.
 * Ours runs twice: as `ssf serve` in server mode (the gateway and the
 * ClickHouse writer in one process, without Kafka; the bytes and latencies
 * are of its tables), and as deployed: `ssf gateway` publishing to Kafka (one
 * broker) and `ssf materializer` writing database ssf_kafka_<compression>,
 * once with gzip records (the default) and once uncompressed; their CPU counts
 * as the pipeline's, Kafka's apart like ClickHouse's, with the bytes the topic
 * took in Kafka.
 * SSF_BENCH_OTLP_SPANS scales it (default 100,000 spans and as many logs a pass).
 * SSF_BENCH_CPU_PROFILE=<dir> writes V8 CPU profiles of our processes (each
 * one's whole life) into <dir>/serve, <dir>/gateway-gzip, <dir>/materializer-gzip...
 */

const SPANS = Number(process.env['SSF_BENCH_OTLP_SPANS'] ?? 100_000);
const PER_REQUEST = 500;
const repo = join(import.meta.dirname, '..', '..', '..');

const TICKS = 100;
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / TICKS;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((settle) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      settle(true);
    });
    s.once('error', () => settle(false));
  });
}

const hex = (rand: () => number, bytes: number): Buffer => Buffer.from(Array.from({ length: bytes }, () => Math.floor(rand() * 256)));

/** The same requests for both pipelines: traces of 10 spans, 4 services, attributes as an HTTP service has them; logs in those traces. */
function requests(seed: number): Pass {
  const rand = seededRandom(seed);
  const now = BigInt(Date.now()) * 1_000_000n - 600_000_000_000n;
  const services = ['checkout', 'cart', 'payments', 'search'];
  const traces: Uint8Array[] = [];
  const logs: Uint8Array[] = [];
  const traceIds: string[] = [];
  const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
  for (let r = 0; r < SPANS / PER_REQUEST; r++) {
    const service = services[r % services.length] as string;
    const resource = { attributes: [str('service.name', service), str('host.name', `host-${r % 7}`), str('telemetry.sdk.language', 'nodejs')] };
    const spans = [];
    const records = [];
    for (let t = 0; t < PER_REQUEST / 10; t++) {
      const traceId = hex(rand, 16);
      traceIds.push(traceId.toString('hex'));
      const start = now + BigInt(r * 1_000_000_000 + t * 1_000_000);
      const root = hex(rand, 8);
      for (let i = 0; i < 10; i++) {
        const id = i === 0 ? root : hex(rand, 8);
        const dur = BigInt(Math.floor(1_000_000 + rand() * 50_000_000));
        spans.push({
          traceId,
          spanId: id,
          parentSpanId: i === 0 ? Buffer.alloc(0) : root,
          name: i === 0 ? 'GET /api/orders' : `SELECT orders ${i % 3}`,
          kind: i === 0 ? 2 : 3,
          startTimeUnixNano: String(start + BigInt(i) * 100_000n),
          endTimeUnixNano: String(start + BigInt(i) * 100_000n + dur),
          attributes: [str('http.method', 'GET'), str('http.route', '/api/orders'), { key: 'http.status_code', value: { intValue: 200 } }],
          status: { code: rand() < 0.02 ? 2 : 0 },
        });
        records.push({
          timeUnixNano: String(start + BigInt(i) * 100_000n),
          severityNumber: 9,
          severityText: 'INFO',
          body: { stringValue: `order ${Math.floor(rand() * 1e6)} processed in step ${i} word${Math.floor(rand() * 1000)}` },
          attributes: [str('order.region', `eu-${i % 3}`)],
          traceId,
          spanId: id,
        });
      }
    }
    const scope = { name: 'bench', version: '1.0.0' };
    traces.push(
      ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({ resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] })).finish(),
    );
    logs.push(
      ExportLogsServiceRequest.encode(
        ExportLogsServiceRequest.fromObject({ resourceLogs: [{ resource, scopeLogs: [{ scope, logRecords: records }] }] }),
      ).finish(),
    );
  }
  return { traces, logs, traceIds };
}

/** One pass of the bench's data: SPANS spans and as many log records, each set with its own trace ids. */
interface Pass {
  traces: Uint8Array[];
  logs: Uint8Array[];
  traceIds: string[];
}

/** CPU-seconds of the pipeline, of ClickHouse and of Kafka (none for a pipeline without it) while one pass's spans, then its logs, were sent and stored. */
interface PassCpu {
  spans: number;
  spansCh: number;
  spansKafka: number;
  logs: number;
  logsCh: number;
  logsKafka: number;
  spanSeconds: number;
}

/** The processes whose CPU a pass counts: the pipeline's (one, or a gateway and a materializer), ClickHouse, Kafka. */
interface Pids {
  pipeline: number[];
  clickhouse: number;
  kafka: number[];
}

/**
 * Sends a pass's spans, then its logs; `stored(kind)` waits until ClickHouse
 * holds them (a pipeline that answers before it stores: the Collector, ours
 * through Kafka).
 */
async function sendPass(base: string, pass: Pass, pids: Pids, stored: (kind: 'spans' | 'logs') => Promise<void>): Promise<PassCpu> {
  const cpuOf = (list: number[]): number => list.reduce((t, pid) => t + cpuSeconds(pid), 0);
  let [c0, ch0, k0] = [cpuOf(pids.pipeline), cpuSeconds(pids.clickhouse), cpuOf(pids.kafka)];
  const t0 = performance.now();
  await sendAll(base, '/v1/traces', pass.traces);
  await stored('spans');
  const spanSeconds = (performance.now() - t0) / 1000;
  const spans = cpuOf(pids.pipeline) - c0;
  const spansCh = cpuSeconds(pids.clickhouse) - ch0;
  const spansKafka = cpuOf(pids.kafka) - k0;
  [c0, ch0, k0] = [cpuOf(pids.pipeline), cpuSeconds(pids.clickhouse), cpuOf(pids.kafka)];
  await sendAll(base, '/v1/logs', pass.logs);
  await stored('logs');
  return {
    spans,
    spansCh,
    spansKafka,
    logs: cpuOf(pids.pipeline) - c0,
    logsCh: cpuSeconds(pids.clickhouse) - ch0,
    logsKafka: cpuOf(pids.kafka) - k0,
    spanSeconds,
  };
}

/** A process of ours (`ssf <command>`), started with the node flags of the built bin (its first line), as the image starts it. */
interface OurProcess {
  pid: number;
  /** SIGTERM, then waits for the exit (a CPU profile is written as it exits). Idempotent. */
  stop(): Promise<void>;
}

function startOurs(command: string, env: Record<string, string>, profileDir: string | undefined): OurProcess {
  const main = join(repo, 'dist', 'cli', 'main.js');
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...nodeFlagsOf(main), ...profile, main, command], {
    // The bench's own SSF_BENCH_* settings are not the server's (unknown keys are refused).
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SSF_'))), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exit = new Promise<void>((settle) => child.once('exit', () => settle()));
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid as number,
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exit;
      })();
      return stopping;
    },
  };
}

/** Waits until `ready()` holds, failing if `pid` exits first. */
async function waitFor(what: string, pid: number, ready: () => Promise<boolean>): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  while (!(await ready())) {
    if (!alive()) throw new Error(`${what} exited before it was ready`);
    await sleep(200);
  }
}

/** Bytes of a topic's log segments in a broker's log directory (every partition). */
function topicBytes(logDir: string, topic: string): number {
  let total = 0;
  for (const dir of readdirSync(logDir)) {
    if (!/^(.+)-\d+$/.test(dir) || dir.slice(0, dir.lastIndexOf('-')) !== topic) continue;
    for (const f of readdirSync(join(logDir, dir))) if (f.endsWith('.log')) total += statSync(join(logDir, dir, f)).size;
  }
  return total;
}

async function answers200(url: string): Promise<boolean> {
  try {
    const r = await fetch(url);
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

async function sendAll(base: string, path: string, bodies: Uint8Array[], concurrency = 4): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++] as Uint8Array;
      for (;;) {
        const r = await fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
        await r.arrayBuffer();
        if (r.status === 200) break;
        if (r.status !== 429 && r.status !== 503) throw new Error(`${base}${path}: ${r.status}`);
        await sleep(200);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

export async function otlpBench(): Promise<void> {
  // Before anything is measured: a cold build keeps both CPUs busy for minutes.
  const collectorBinary = await buildOtelCollector({
    binary: join(repo, '.cache', 'otelcol', 'otelcol'),
    sourceDir: join(repo, 'test', 'fixtures', 'otel-collector'),
  });
  const server = await startClickHouseServer();
  const ch = createClient({ url: server.url, request_timeout: 600_000 });
  // What was started, stopped in reverse order however the bench ends.
  const cleanup: Array<() => Promise<void>> = [async () => server.stop({ removeDataDir: true }), async () => ch.close()];
  const count = async (sql: string): Promise<number> =>
    Number(((await (await ch.query({ query: sql, format: 'JSONEachRow' })).json()) as Array<{ n: string }>)[0]?.n ?? 0);
  // Two passes of distinct data through each pipeline: the first from a process
  // just started (ours compiles its hot code as it goes), the second warm.
  const passes = [requests(11), requests(12)];
  const traceIds = passes.flatMap((p) => p.traceIds);
  /** Waits, in pass i, until `tables` hold what ours stored by the end of that pass (for pipelines that answer before they store). */
  const storedIn =
    (i: number, tables: { spans: string; logs: string }, want: { spans: number; logs: number }) =>
    async (kind: 'spans' | 'logs'): Promise<void> => {
      const n = ((i + 1) * want[kind]) / passes.length;
      while ((await count(`SELECT toString(count()) AS n FROM ${tables[kind]}`)) < n) await sleep(200);
    };
  const profileDir = process.env['SSF_BENCH_CPU_PROFILE'];
  try {
    // --- ours, all-in-one: ssf serve (gateway + ClickHouse writer), server mode ---
    const [httpPort, otlpPort] = [await freePort(), await freePort()];
    const ours = startOurs(
      'serve',
      {
        SSF_CLICKHOUSE_URL: server.url,
        SSF_CLICKHOUSE_DATABASE: 'ssf',
        SSF_GATEWAY_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
        SSF_GATEWAY_OTLP_HTTP_LISTEN: `127.0.0.1:${otlpPort}`,
        SSF_GATEWAY_OTLP_GRPC_LISTEN: '',
        SSF_GATEWAY_UDP_LISTEN: '',
        SSF_GATEWAY_STATSD_LISTEN: '',
        SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
      },
      profileDir && join(profileDir, 'serve'),
    );
    cleanup.push(ours.stop);
    await waitFor('ssf serve', ours.pid, () => accepts(otlpPort));
    // Ours answers once the rows are in ClickHouse: nothing to wait for.
    const oursPasses: PassCpu[] = [];
    for (const pass of passes) {
      oursPasses.push(await sendPass(`http://127.0.0.1:${otlpPort}`, pass, { pipeline: [ours.pid], clickhouse: server.pid, kafka: [] }, async () => {}));
    }
    const oursSpans = await count('SELECT toString(count()) AS n FROM ssf.spans');
    const oursLogs = await count('SELECT toString(count()) AS n FROM ssf.logs');
    const want = { spans: oursSpans, logs: oursLogs };

    // --- ours as deployed: ssf gateway -> Kafka (one broker) -> ssf materializer, with each record compression ---
    const broker = await startKafkaBroker({ log: () => {} });
    cleanup.push(broker.stop);
    const deployed = async (compression: 'gzip' | 'none'): Promise<{ passes: PassCpu[]; kafkaBytes: number }> => {
      const topic = `otlp-bench-${compression}`;
      const kafkaEnv = {
        SSF_KAFKA_BROKERS: broker.brokers.join(','),
        SSF_KAFKA_SPANS_TOPIC: topic,
        SSF_KAFKA_DEAD_LETTER_TOPIC: `${topic}-dlq`,
        SSF_KAFKA_CONSUMER_GROUP: topic,
        SSF_KAFKA_COMPRESSION: compression,
      };
      const gatewayOtlpPort = await freePort();
      const gateway = startOurs(
        'gateway',
        {
          ...kafkaEnv,
          SSF_GATEWAY_HTTP_LISTEN: `127.0.0.1:${await freePort()}`,
          SSF_GATEWAY_OTLP_HTTP_LISTEN: `127.0.0.1:${gatewayOtlpPort}`,
          SSF_GATEWAY_OTLP_GRPC_LISTEN: '',
          SSF_GATEWAY_UDP_LISTEN: '',
          SSF_GATEWAY_STATSD_LISTEN: '',
          SSF_GATEWAY_TCP_LISTEN: '',
          SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
        },
        profileDir && join(profileDir, `gateway-${compression}`),
      );
      cleanup.push(gateway.stop);
      const materializerListen = `127.0.0.1:${await freePort()}`;
      const database = `ssf_kafka_${compression}`;
      const materializer = startOurs(
        'materializer',
        { ...kafkaEnv, SSF_CLICKHOUSE_URL: server.url, SSF_CLICKHOUSE_DATABASE: database, SSF_MATERIALIZER_METRICS_LISTEN: materializerListen },
        profileDir && join(profileDir, `materializer-${compression}`),
      );
      cleanup.push(materializer.stop);
      await waitFor('ssf gateway', gateway.pid, () => accepts(gatewayOtlpPort));
      await waitFor('ssf materializer', materializer.pid, () => answers200(`http://${materializerListen}/-/ready`));
      const pids: Pids = { pipeline: [gateway.pid, materializer.pid], clickhouse: server.pid, kafka: [broker.pid] };
      const done: PassCpu[] = [];
      for (const [i, pass] of passes.entries()) {
        // The gateway answers once Kafka has the spans: each phase lasts until ClickHouse holds them.
        const stored = storedIn(i, { spans: `${database}.spans`, logs: `${database}.logs` }, want);
        done.push(await sendPass(`http://127.0.0.1:${gatewayOtlpPort}`, pass, pids, stored));
      }
      await gateway.stop();
      await materializer.stop();
      return { passes: done, kafkaBytes: topicBytes(join(broker.dataDir, 'kraft'), topic) };
    };
    const viaKafka = await deployed('gzip');
    const viaKafkaPlain = await deployed('none');
    await broker.stop();

    // --- the Collector: otlp receiver, batch, clickhouse exporter ---
    const colPort = await freePort();
    const collector = await startOtelCollector({
      config: clickhouseConfig({ endpoint: server.url, database: 'otel', httpPort: colPort, asyncInsert: false }),
      readyPorts: [colPort],
      binary: collectorBinary,
    });
    cleanup.push(collector.stop);
    const colPasses: PassCpu[] = [];
    for (const [i, pass] of passes.entries()) {
      // The Collector answers before it stores: each phase lasts until ClickHouse holds what ours stored by then.
      const stored = storedIn(i, { spans: 'otel.otel_traces', logs: 'otel.otel_logs' }, want);
      colPasses.push(await sendPass(`http://127.0.0.1:${colPort}`, pass, { pipeline: [collector.pid], clickhouse: server.pid, kafka: [] }, stored));
    }

    // --- bytes on disk ---
    for (const t of ['ssf.spans', 'ssf.trace_index', 'ssf.logs', 'otel.otel_traces', 'otel.otel_traces_trace_id_ts', 'otel.otel_logs']) {
      await ch.command({ query: `OPTIMIZE TABLE ${t} FINAL` });
    }
    const bytes = async (db: string, tables: string[]): Promise<number> =>
      count(
        `SELECT toString(sum(bytes_on_disk)) AS n FROM system.parts WHERE active AND database = '${db}' AND table IN (${tables.map((t) => `'${t}'`).join(',')})`,
      );
    // Where the bytes of a span go, column by column (compressed, all active parts), ours and theirs.
    const perColumn = (
      (await (
        await ch.query({
          query: `SELECT database || '.' || table AS t, column AS c, sum(column_data_compressed_bytes) AS b FROM system.parts_columns
                   WHERE active AND ((database = 'ssf' AND table IN ('spans', 'trace_index')) OR (database = 'otel' AND table IN ('otel_traces', 'otel_traces_trace_id_ts')))
                   GROUP BY t, c ORDER BY t, b DESC`,
          format: 'JSONEachRow',
        })
      ).json()) as Array<{ t: string; c: string; b: string }>
    ).map((r) => `${r.t}.${r.c} ${(Number(r.b) / oursSpans).toFixed(2)}`);
    const indexBytes = (await bytes('ssf', ['trace_index'])) / oursSpans;
    printNote(`(bytes per span by column, compressed data only: ${perColumn.join(', ')}; ssf.trace_index on disk ${indexBytes.toFixed(2)})`);
    const oursSpanBytes = (await bytes('ssf', ['spans', 'trace_index'])) / oursSpans;
    const colSpanBytes = (await bytes('otel', ['otel_traces', 'otel_traces_trace_id_ts'])) / oursSpans;
    const oursLogBytes = (await bytes('ssf', ['logs'])) / oursLogs;
    const colLogBytes = (await bytes('otel', ['otel_logs'])) / oursLogs;

    // --- latency ---
    const oursTrace = await timed(30, async (i) => {
      const r = await fetch(`http://127.0.0.1:${httpPort}/v1/traces/${traceIds[(i * 97) % traceIds.length]}`);
      await r.arrayBuffer();
    });
    const colTrace = await timed(30, async (i) => {
      const id = traceIds[(i * 97) % traceIds.length] as string;
      const q = `WITH (SELECT min(Start) FROM otel.otel_traces_trace_id_ts WHERE TraceId = '${id}') AS s, (SELECT max(End) + 1 FROM otel.otel_traces_trace_id_ts WHERE TraceId = '${id}') AS e
        SELECT * FROM otel.otel_traces WHERE TraceId = '${id}' AND Timestamp >= s AND Timestamp <= e ORDER BY Timestamp LIMIT 1000`;
      await (await ch.query({ query: q, format: 'JSONEachRow' })).json();
    });
    const oursLogSearch = await timed(30, async (i) => {
      const r = await fetch(`http://127.0.0.1:${httpPort}/v1/logs?q=word${(i * 31) % 1000}&from=now-1d&limit=100`);
      await r.arrayBuffer();
    });
    const colLogSearch = await timed(30, async (i) => {
      const q = `SELECT Timestamp, ServiceName, Body FROM otel.otel_logs WHERE hasToken(Body, 'word${(i * 31) % 1000}') ORDER BY Timestamp DESC LIMIT 100`;
      await (await ch.query({ query: q, format: 'JSONEachRow' })).json();
    });

    // Its profile (SSF_BENCH_CPU_PROFILE) is written as it exits.
    await ours.stop();
    await collector.stop();
    const per = (n: number, s: number): string => (s > 0 ? Math.round(n / s).toLocaleString('en') : 'n/a');
    // Each pass holds half of what was stored; ClickHouse's CPU is over both passes.
    const spansPerPass = oursSpans / passes.length;
    const logsPerPass = oursLogs / passes.length;
    const sum = (ps: PassCpu[], k: keyof PassCpu): number => ps.reduce((t, p) => t + p[k], 0);
    const [oursCold, oursWarm] = oursPasses as [PassCpu, PassCpu];
    const [colCold, colWarm] = colPasses as [PassCpu, PassCpu];
    /** A rate of ours and of the Collector; without a Collector figure (Kafka), '-' in its place. */
    const row = (measure: string, n: number, oursCpu: number, colCpu?: number): Record<string, string> => ({
      measure,
      ours: per(n, oursCpu),
      collector: colCpu === undefined ? '-' : per(n, colCpu),
      ratio: colCpu === undefined ? '-' : (colCpu / oursCpu).toFixed(2),
    });
    printTable(
      `OTLP: ours against the OpenTelemetry Collector (${oursSpans} spans, ${oursLogs} log records; ratio = Collector / ours, above 1 is ours better)`,
      [
        row('spans per CPU-second of the pipeline, first pass (just started)', spansPerPass, oursCold.spans, colCold.spans),
        row('spans per CPU-second of the pipeline, second pass (warm)', spansPerPass, oursWarm.spans, colWarm.spans),
        {
          // Ours answers a request once its rows are in ClickHouse; the Collector once its batch processor has them.
          measure: 'seconds until every span of the second pass is stored (4 senders at a time)',
          ours: oursWarm.spanSeconds.toFixed(1),
          collector: colWarm.spanSeconds.toFixed(1),
          ratio: (colWarm.spanSeconds / oursWarm.spanSeconds).toFixed(2),
        },
        row('spans per CPU-second of ClickHouse (both passes)', oursSpans, sum(oursPasses, 'spansCh'), sum(colPasses, 'spansCh')),
        row('log records per CPU-second of the pipeline, first pass (just started)', logsPerPass, oursCold.logs, colCold.logs),
        row('log records per CPU-second of the pipeline, second pass (warm)', logsPerPass, oursWarm.logs, colWarm.logs),
        row('log records per CPU-second of ClickHouse (both passes)', oursLogs, sum(oursPasses, 'logsCh'), sum(colPasses, 'logsCh')),
        {
          measure: 'bytes on disk per span',
          ours: oursSpanBytes.toFixed(1),
          collector: colSpanBytes.toFixed(1),
          ratio: (colSpanBytes / oursSpanBytes).toFixed(2),
        },
        {
          measure: 'bytes on disk per log record',
          ours: oursLogBytes.toFixed(1),
          collector: colLogBytes.toFixed(1),
          ratio: (colLogBytes / oursLogBytes).toFixed(2),
        },
        { measure: 'trace by id, median ms', ours: oursTrace.toFixed(1), collector: colTrace.toFixed(1), ratio: (colTrace / oursTrace).toFixed(2) },
        {
          measure: 'log search by a word, median ms',
          ours: oursLogSearch.toFixed(1),
          collector: colLogSearch.toFixed(1),
          ratio: (colLogSearch / oursLogSearch).toFixed(2),
        },
      ],
    );
    // The pipeline is the gateway and the materializer; Kafka, like ClickHouse, is counted apart.
    const deployedRows = (v: { passes: PassCpu[]; kafkaBytes: number }, compression: string): Array<Record<string, string>> => {
      const [cold, warm] = v.passes as [PassCpu, PassCpu];
      const of = (measure: string): string => `${measure} (Kafka records ${compression})`;
      return [
        row(of('spans per CPU-second of the gateway and materializer, first pass'), spansPerPass, cold.spans, colCold.spans),
        row(of('spans per CPU-second of the gateway and materializer, second pass (warm)'), spansPerPass, warm.spans, colWarm.spans),
        row(of('spans per CPU-second of the Kafka broker (both passes)'), oursSpans, sum(v.passes, 'spansKafka')),
        row(of('spans per CPU-second of ClickHouse (both passes)'), oursSpans, sum(v.passes, 'spansCh'), sum(colPasses, 'spansCh')),
        {
          measure: of('seconds until every span of the second pass is stored (4 senders at a time)'),
          ours: warm.spanSeconds.toFixed(1),
          collector: colWarm.spanSeconds.toFixed(1),
          ratio: (colWarm.spanSeconds / warm.spanSeconds).toFixed(2),
        },
        row(of('log records per CPU-second of the gateway and materializer, first pass'), logsPerPass, cold.logs, colCold.logs),
        row(of('log records per CPU-second of the gateway and materializer, second pass (warm)'), logsPerPass, warm.logs, colWarm.logs),
        row(of('log records per CPU-second of the Kafka broker (both passes)'), oursLogs, sum(v.passes, 'logsKafka')),
        row(of('log records per CPU-second of ClickHouse (both passes)'), oursLogs, sum(v.passes, 'logsCh'), sum(colPasses, 'logsCh')),
        { measure: of('bytes in Kafka per span or log record'), ours: (v.kafkaBytes / (oursSpans + oursLogs)).toFixed(1), collector: '-', ratio: '-' },
      ];
    };
    printTable('OTLP: ours as deployed (ssf gateway -> Kafka, one broker -> ssf materializer) against the same Collector run (ratio = Collector / ours)', [
      ...deployedRows(viaKafka, 'gzip'),
      ...deployedRows(viaKafkaPlain, 'none'),
    ]);
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch(() => {});
  }
}
