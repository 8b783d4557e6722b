/**
 * Veneur itself (github.com/stripe/veneur/v14 v14.2.0, the reference SSF server) for
 * the side-by-side benchmark: built from the Go module proxy into `<repo>/.cache/veneur/`
 * (never committed), started on loopback with no sink at all, and asked how many SSF
 * spans and statsd lines it read.
 *
 * Counting: Veneur reports its own metrics with a DogStatsD client to `stats_address`;
 * here that is a UDP socket of this module. At each flush (every `interval`) a Veneur
 * without `forward_address` (a "global" one) sends
 * `veneur.listen.received_per_protocol_total|c` (flusher.go) with `protocol:ssf-udp`
 * (spans read and parsed, counted in server.go handleSSF) and `protocol:dogstatsd-udp`
 * (statsd lines read, counted in HandleMetricPacket before parsing), reset after each
 * report: their sums are the counts; the rest was lost before Veneur read it (checked:
 * counted + the kernel's drop count on Veneur's sockets = sent, exactly).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const VENEUR_MODULE = 'github.com/stripe/veneur/v14';
export const VENEUR_VERSION = 'v14.2.0';

export interface VeneurCounts {
  /** SSF datagrams read and parsed: Σ `veneur.listen.received_per_protocol_total{protocol:ssf-udp}`. */
  ssfSpans: number;
  /** statsd lines read (parse errors included): Σ `…received_per_protocol_total{protocol:dogstatsd-udp}`. */
  statsdLines: number;
  /** Σ `veneur.ssf.spans.received_total` by its `service` tag: a cross-check of `ssfSpans`. */
  ssfSpansByService: Record<string, number>;
  /** Σ `veneur.ssf.error_total`: SSF datagrams Veneur could not parse (not in `ssfSpans`). */
  ssfErrors: number;
  /**
   * Σ `veneur.worker.metrics_processed_total`: samples the aggregation workers took in
   * (statsd metrics, samples carried by SSF spans, and a few of Veneur's own per flush).
   */
  workerMetricsProcessed: number;
  /** Flushes seen so far (one report of the counters each). */
  flushes: number;
  /** false when stats() gave up waiting for a flush that saw no new input. */
  settled: boolean;
  /** Datagrams of Veneur's self-metrics the kernel dropped before we read them (> 0: counts are low). */
  statsDatagramsDropped: number;
  /**
   * Datagrams the kernel dropped on Veneur's own SSF and statsd sockets (receive buffers
   * full), from /proc/net/udp: an independent check, sent = ssfSpans + ssfErrors + ssfKernelDrops.
   */
  ssfKernelDrops: number;
  statsdKernelDrops: number;
}

export interface VeneurServer {
  pid: number;
  ssfAddress: string;
  statsdAddress: string;
  httpAddress: string;
  configFile: string;
  logFile: string;
  /**
   * Counts since start. By default waits until a flush that began after the call saw no
   * new SSF or statsd input (Veneur has drained its sockets): 1 to 3 intervals when idle.
   */
  stats(options?: { waitForIdle?: boolean; timeoutMs?: number }): Promise<VeneurCounts>;
  stop(): Promise<void>;
}

export interface StartVeneurOptions {
  /** UDP ports on 127.0.0.1; 0 picks a free one. */
  ssfUdpPort: number;
  statsdUdpPort: number;
  /** Veneur's HTTP port (/healthcheck, /debug/pprof) on 127.0.0.1; 0 picks a free one. */
  httpPort: number;
  /** SO_RCVBUF of each UDP socket. Linux caps it at net.core.rmem_max. Default 4 MiB. */
  readBufferBytes?: number;
  /** SO_REUSEPORT sockets (one reader goroutine each) per UDP address, at least 1 (Veneur hangs at start on 0). Default 2. */
  readers?: number;
  /** Flush interval. Default `1s`. */
  interval?: string;
  readyTimeoutMs?: number;
}

function repoRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'fixtures', 'veneur'))) return dir;
    if (dirname(dir) === dir) throw new Error(`repository root not found above ${start}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new Error(`\`${command}\` not found: Go is needed to build Veneur ${VENEUR_VERSION} (tested with Go 1.26): install it or put it on PATH`)
          : e,
      );
    });
    child.once('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`\`${command} ${args.join(' ')}\` failed (exit ${code}):\n${err.slice(-4000)}`));
    });
  });
}

let building: Promise<string> | undefined;

/**
 * Path of the Veneur server binary, `<repo>/.cache/veneur/<version>/veneur`, built first if
 * missing (about 1.5 min the first time; idempotent, safe to call concurrently).
 * `go install …@v14.2.0` refuses this module (its go.mod has replace directives) and the
 * module zip has no vendor/ tree, so: `go mod download` it, then `go build ./cmd/veneur`
 * in its module-cache directory with its own go.mod and go.sum (-mod=readonly).
 */
export function ensureVeneurBinary(): Promise<string> {
  building ??= build().catch((err: unknown) => {
    building = undefined;
    throw err;
  });
  return building;
}

async function build(): Promise<string> {
  const dir = join(repoRoot(), '.cache', 'veneur', VENEUR_VERSION);
  const binary = join(dir, 'veneur');
  if (existsSync(binary)) return binary;
  await mkdir(dir, { recursive: true });
  process.stderr.write(`building Veneur ${VENEUR_VERSION} from the Go module proxy into ${dir} (first time only, ~1-2 min)\n`);
  const env = { ...process.env, GOWORK: 'off', GOFLAGS: '-mod=readonly' };
  const info = JSON.parse(await run('go', ['mod', 'download', '-json', `${VENEUR_MODULE}@${VENEUR_VERSION}`], dir, env)) as { Dir?: string; Error?: string };
  if (info.Dir === undefined) throw new Error(`go mod download ${VENEUR_MODULE}@${VENEUR_VERSION}: ${info.Error ?? 'no directory'}`);
  const partial = `${binary}.${process.pid}.tmp`;
  const ldflags = `-X ${VENEUR_MODULE}.VERSION=${VENEUR_VERSION}`;
  await run('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', partial, './cmd/veneur'], info.Dir, env);
  await rename(partial, binary);
  return binary;
}

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free TCP port');
  return address.port;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function config(p: { ssf: number; statsd: number; http: number; stats: number; readers: number; readBufferBytes: number; interval: string }): string {
  return `# Written by test/bench/veneur-server.ts. Loopback only. No forward_address (a "global"
# Veneur: it reports listen.received_per_protocol_total) and no sink: metrics and spans are
# processed (span workers, metric extraction, aggregation, flush) and then dropped.
ssf_listen_addresses: ["udp://127.0.0.1:${p.ssf}"]
statsd_listen_addresses: ["udp://127.0.0.1:${p.statsd}"]
http_address: "127.0.0.1:${p.http}"
stats_address: "127.0.0.1:${p.stats}"
interval: "${p.interval}"
hostname: "veneur-bench"
# Sized for a 2-core machine. Readers: one SO_REUSEPORT socket and goroutine each per UDP
# address (the kernel spreads datagrams by sender address: one sender socket feeds one reader).
num_readers: ${p.readers}
# Aggregation workers (statsd metrics and SSF samples, hashed by name and tags).
num_workers: 4
# Span workers: SSF spans go through the metric-extraction span sink to the workers.
num_span_workers: 2
span_channel_capacity: 10000
read_buffer_size_bytes: ${p.readBufferBytes}
# Largest datagrams accepted. trace_max_length_bytes has no default: 0 makes Veneur exit.
trace_max_length_bytes: 65536
metric_max_length: 65536
`;
}

/** One DogStatsD line: name:value|type[|@rate][|#tags]. */
function parseLine(line: string): { name: string; value: number; tags: Map<string, string> } | undefined {
  const colon = line.indexOf(':');
  const parts = line.slice(colon + 1).split('|');
  if (colon <= 0 || parts.length < 2) return undefined;
  const tags = new Map<string, string>();
  for (const part of parts.slice(2)) {
    if (!part.startsWith('#')) continue;
    for (const tag of part.slice(1).split(',')) {
      const at = tag.indexOf(':');
      tags.set(at < 0 ? tag : tag.slice(0, at), at < 0 ? '' : tag.slice(at + 1));
    }
  }
  return { name: line.slice(0, colon), value: Number(parts[0]), tags };
}

/** Datagrams the kernel dropped (receive buffer full) on the UDP sockets bound to 127.0.0.1:port: last column of /proc/net/udp. */
export async function udpDrops(port: number): Promise<number> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const table = await readFile('/proc/net/udp', 'utf8').catch(() => '');
  let drops = 0;
  for (const row of table.split('\n')) {
    const cells = row.trim().split(/\s+/);
    if (cells[1] === local) drops += Number(cells.at(-1));
  }
  return drops;
}

/** Starts Veneur on 127.0.0.1 and resolves once its HTTP /healthcheck answers (its UDP sockets are bound by then). */
export async function startVeneur(options: StartVeneurOptions): Promise<VeneurServer> {
  const binary = await ensureVeneurBinary();
  const workDir = await mkdtemp(join(tmpdir(), 'veneur-bench-'));
  const ports = {
    ssf: options.ssfUdpPort || (await freeUdpPort()),
    statsd: options.statsdUdpPort || (await freeUdpPort()),
    http: options.httpPort || (await freeTcpPort()),
  };

  // Veneur's self-metrics arrive here.
  const counts: VeneurCounts = {
    ssfSpans: 0,
    statsdLines: 0,
    ssfSpansByService: {},
    ssfErrors: 0,
    workerMetricsProcessed: 0,
    flushes: 0,
    settled: false,
    statsDatagramsDropped: 0,
    ssfKernelDrops: 0,
    statsdKernelDrops: 0,
  };
  let inputThisFlush = 0;
  let lastFlushInput = -1;
  const statsSocket: Socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  statsSocket.on('message', (datagram: Buffer) => {
    for (const line of datagram.toString('utf8').split('\n')) {
      const m = parseLine(line);
      if (m === undefined || !Number.isFinite(m.value)) continue;
      if (m.name === 'veneur.listen.received_per_protocol_total') {
        // Emitted in a fixed order per flush, one line per protocol; ssf-grpc is the last.
        const protocol = m.tags.get('protocol');
        if (protocol === 'ssf-udp') counts.ssfSpans += m.value;
        if (protocol === 'dogstatsd-udp') counts.statsdLines += m.value;
        inputThisFlush += protocol === 'ssf-udp' || protocol === 'dogstatsd-udp' ? m.value : 0;
        if (protocol === 'ssf-grpc') {
          counts.flushes++;
          lastFlushInput = inputThisFlush;
          inputThisFlush = 0;
        }
      } else if (m.name === 'veneur.ssf.spans.received_total') {
        const service = m.tags.get('service') ?? '';
        counts.ssfSpansByService[service] = (counts.ssfSpansByService[service] ?? 0) + m.value;
      } else if (m.name === 'veneur.ssf.error_total') {
        counts.ssfErrors += m.value;
      } else if (m.name === 'veneur.worker.metrics_processed_total') {
        counts.workerMetricsProcessed += m.value;
      }
    }
  });
  await new Promise<void>((resolve, reject) => statsSocket.once('error', reject).bind(0, '127.0.0.1', resolve));
  const statsPort = statsSocket.address().port;

  const configFile = join(workDir, 'veneur.yaml');
  const logFile = join(workDir, 'veneur.log');
  await writeFile(
    configFile,
    config({
      ...ports,
      stats: statsPort,
      readers: Math.max(1, Math.floor(options.readers ?? 2)),
      readBufferBytes: options.readBufferBytes ?? 4 << 20,
      interval: options.interval ?? '1s',
    }),
  );
  // Veneur reads VENEUR_* variables over its config (envconfig) and DD_* ones as tags.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VENEUR_') && !k.startsWith('DD_')));
  const logFd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(binary, ['-f', configFile], { cwd: workDir, env, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  let exited = false;
  let spawnError = '';
  const exit = new Promise<void>((resolve) => {
    const gone = (): void => {
      exited = true;
      process.off('exit', killOnExit);
      resolve();
    };
    child.once('exit', gone);
    child.once('error', (err) => {
      spawnError = `${err.message}\n`; // could not be started: there is no 'exit'
      gone();
    });
  });

  const cleanup = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGINT'); // graceful: Veneur's HTTP server shuts down and main returns
      const escalate = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(escalate);
    }
    statsSocket.close();
    await rm(workDir, { recursive: true, force: true });
  };
  const logTail = async (): Promise<string> => (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');

  const httpAddress = `127.0.0.1:${ports.http}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (exited) {
      const tail = await logTail();
      await cleanup();
      throw new Error(`Veneur exited before it was ready: ${spawnError}its log:\n${tail}`);
    }
    const ok = await fetch(`http://${httpAddress}/healthcheck`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      const tail = await logTail();
      await cleanup();
      throw new Error(`Veneur did not answer http://${httpAddress}/healthcheck in time; its log:\n${tail}`);
    }
    await sleep(50);
  }

  return {
    pid: child.pid ?? 0,
    ssfAddress: `127.0.0.1:${ports.ssf}`,
    statsdAddress: `127.0.0.1:${ports.statsd}`,
    httpAddress,
    configFile,
    logFile,
    async stats({ waitForIdle = true, timeoutMs = 30_000 } = {}): Promise<VeneurCounts> {
      // The flush after the next one began after this call: it reports everything read
      // before the call. With waitForIdle, keep waiting until a flush saw no new input.
      const first = counts.flushes + 2;
      const until = Date.now() + timeoutMs;
      let settled = false;
      while (Date.now() < until && !exited) {
        if (counts.flushes >= first && (!waitForIdle || lastFlushInput === 0)) {
          settled = true;
          break;
        }
        await sleep(25);
      }
      await sleep(150); // the rest of that flush's report (DogStatsD buffers for 100 ms)
      const [statsDatagramsDropped, ssfKernelDrops, statsdKernelDrops] = await Promise.all([udpDrops(statsPort), udpDrops(ports.ssf), udpDrops(ports.statsd)]);
      return { ...counts, ssfSpansByService: { ...counts.ssfSpansByService }, settled, statsDatagramsDropped, ssfKernelDrops, statsdKernelDrops };
    },
    stop: cleanup,
  };
}

type Blast = (address: string, datagrams: Buffer[], total: number) => Promise<{ sent: number; seconds: number }>;

/**
 * The benchmark's UDP rows for Veneur: `ssfDatagrams` SSF datagrams, then `statsdDatagrams`
 * statsd datagrams (cycling through the given ones), each sent with `blast`, against
 * what Veneur counted. Rows: target, input, sent, sent/s, accepted, loss %.
 */
export async function measureVeneur(
  udpSpans: Buffer[],
  statsdPackets: Buffer[],
  blast: Blast,
  { ssfDatagrams = 300_000, statsdDatagrams = 50_000 } = {},
): Promise<Array<Record<string, string | number>>> {
  const veneur = await startVeneur({ ssfUdpPort: 0, statsdUdpPort: 0, httpPort: 0 });
  try {
    const ssf = await blast(veneur.ssfAddress, udpSpans, ssfDatagrams);
    const afterSsf = await veneur.stats();
    const statsd = await blast(veneur.statsdAddress, statsdPackets, statsdDatagrams);
    const afterStatsd = await veneur.stats();
    const linesIn = statsdPackets.map(
      (p) =>
        p
          .toString('utf8')
          .split('\n')
          .filter((l) => l.length > 0).length,
    );
    let linesSent = 0;
    for (let i = 0; i < statsd.sent; i++) linesSent += linesIn[i % linesIn.length] ?? 0;
    const row = (input: string, sent: number, seconds: number, accepted: number): Record<string, string | number> => ({
      target: 'veneur v14.2.0',
      input,
      sent,
      'sent/s': Math.round(sent / seconds).toLocaleString('en-US'),
      accepted,
      'loss %': ((100 * (sent - accepted)) / sent).toFixed(3),
    });
    return [
      row('UDP SSF datagrams', ssf.sent, ssf.seconds, afterSsf.ssfSpans),
      row(`statsd lines (${linesIn[0] ?? 0} per datagram)`, linesSent, statsd.seconds, afterStatsd.statsdLines),
    ];
  } finally {
    await veneur.stop();
  }
}
