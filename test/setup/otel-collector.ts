/**
 * A real OpenTelemetry Collector for the tests and benches: the small
 * distribution in test/fixtures/otel-collector (otlp receiver, batch
 * processor, otlp / otlphttp / debug / clickhouse exporters, every module
 * at collector release 0.165), built with `go build` from the Go module
 * proxy into `<repo>/.cache/otelcol/otelcol` and run with a YAML config.
 *
 *   const binary = await buildOtelCollector();            // once; minutes when cold
 *   const collector = await startOtelCollector({ config: yaml });
 *   ...
 *   await collector.stop();
 *
 * forwardingConfig() and clickhouseConfig() write the YAML of the two roles
 * the project uses (see test/fixtures/otel-collector/README.md).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/net/free-port.js';
import { watchChild } from '../../src/process/watch-child.js';
import type { ChildExit, WatchedChild } from '../../src/process/watch-child.js';

const root = resolve(import.meta.dirname, '..', '..');
const SOURCE_DIR = join(root, 'test', 'fixtures', 'otel-collector');
const DEFAULT_BINARY = join(root, '.cache', 'otelcol', 'otelcol');
// Logged by the collector's service (at info) once every component has started.
const READY_LINE = 'Everything is ready';

export type OtelCollectorErrorCode = 'OTELCOL_ERR_GO_MISSING' | 'OTELCOL_ERR_BUILD' | 'OTELCOL_ERR_EXITED' | 'OTELCOL_ERR_TIMEOUT';

export class OtelCollectorError extends Error {
  override readonly name = 'OtelCollectorError';
  readonly code: OtelCollectorErrorCode;

  constructor(code: OtelCollectorErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const defaultLog = (line: string): void => {
  process.stderr.write(`[otelcol] ${line}\n`);
};

export interface BuildOtelCollectorOptions {
  /** Where the binary goes. Default `<repo>/.cache/otelcol/otelcol`. */
  binary?: string;
  /** The distribution's Go sources. Default `<repo>/test/fixtures/otel-collector` (from dist/, the bench gives the repo's). */
  sourceDir?: string;
  /** Progress lines. Default: stderr, prefixed `[otelcol]`. */
  log?: (line: string) => void;
}

const builds = new Map<string, Promise<string>>();

/**
 * Builds the collector when the binary is missing or older than any of
 * main.go, the other .go files, go.mod and go.sum; resolves with its path.
 * One build per binary path at a time in this process; across processes
 * the binary is written beside and renamed, so a concurrent build or a
 * running collector never sees half a file.
 */
export function buildOtelCollector(options: BuildOtelCollectorOptions = {}): Promise<string> {
  const binary = resolve(options.binary ?? DEFAULT_BINARY);
  let build = builds.get(binary);
  if (build === undefined) {
    build = buildIfStale(binary, resolve(options.sourceDir ?? SOURCE_DIR), options.log ?? defaultLog);
    builds.set(binary, build);
    const forget = (): void => {
      builds.delete(binary);
    };
    void build.then(forget, forget);
  }
  return build;
}

async function buildIfStale(binary: string, sourceDir: string, log: (line: string) => void): Promise<string> {
  const sources = (await readdir(sourceDir)).filter((name) => name.endsWith('.go') || name === 'go.mod' || name === 'go.sum');
  const newestSource = Math.max(...(await Promise.all(sources.map(async (name) => (await stat(join(sourceDir, name))).mtimeMs))));
  const built = await stat(binary).catch(() => undefined);
  if (built !== undefined && built.mtimeMs >= newestSource) return binary;

  await mkdir(resolve(binary, '..'), { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  log(`building ${binary} from ${sourceDir} (go build under nice; a cold build takes minutes on 2 CPUs)`);
  const started = performance.now();
  // nice: the machine is shared, and the compile of gRPC, the collector and
  // clickhouse-go keeps every CPU busy for minutes. -trimpath and -s -w: a
  // smaller binary whose content does not depend on where the repo lives.
  const child = spawn('nice', ['-n', '10', 'go', 'build', '-trimpath', '-ldflags=-s -w', '-o', partial, '.'], {
    cwd: sourceDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: string): void => {
    output += chunk;
  };
  child.stdout.setEncoding('utf8').on('data', collect);
  child.stderr.setEncoding('utf8').on('data', collect);
  const progress = setInterval(() => log(`still building (${Math.round((performance.now() - started) / 1000)} s)`), 30_000);
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0) {
      await rm(partial, { force: true });
      if (code === 127) throw new OtelCollectorError('OTELCOL_ERR_GO_MISSING', `\`go\` not found on PATH: install the Go toolchain\n${output}`);
      throw new OtelCollectorError('OTELCOL_ERR_BUILD', `go build failed in ${sourceDir} (exit ${code}):\n${output}`);
    }
  } catch (err) {
    if (err instanceof OtelCollectorError) throw err;
    throw new OtelCollectorError('OTELCOL_ERR_BUILD', 'cannot run `nice go build`', { cause: err });
  } finally {
    clearInterval(progress);
  }
  await rename(partial, binary);
  log(`built ${binary} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return binary;
}

export interface StartOtelCollectorOptions {
  /** The collector configuration (YAML; JSON is YAML too). Written to a temp file and passed with `--config`. */
  config: string;
  /** Launcher lifecycle lines (not the collector's own log, which goes to `logFile`). Default: stderr. */
  log?: (line: string) => void;
  /**
   * The collector's own metrics (otelcol_receiver_accepted_spans, ...). Default
   * false: `service.telemetry.metrics.level: none`, so no server on :8888 that
   * parallel runs would fight over. True: a Prometheus endpoint on a free
   * 127.0.0.1 port, given as `metricsUrl`. Either overrides the config's own.
   */
  selfMetrics?: boolean;
  /** Also wait until these 127.0.0.1 ports accept TCP (when the config logs above info and hides the ready line). */
  readyPorts?: number[];
  /** Extra environment, e.g. for `${env:NAME}` in the config. */
  env?: Record<string, string>;
  /** Deadline to be ready. Default 60 000. */
  readyTimeoutMs?: number;
  /** stop() sends SIGKILL after this. Default 15 000 (the collector flushes its batches and queues on SIGTERM). */
  stopTimeoutMs?: number;
  /** The binary. Default: buildOtelCollector()'s (built if stale). */
  binary?: string;
  /** Keep the temp directory (config and log) after stop(). Default false: it is removed. */
  keepFiles?: boolean;
}

export interface OtelCollector {
  readonly pid: number;
  /** The collector's stdout and stderr (its log, and the debug exporter's output); removed by stop() unless `keepFiles`. */
  readonly logFile: string;
  /** `http://127.0.0.1:<port>/metrics` when `selfMetrics` is true. */
  readonly metricsUrl: string | undefined;
  /** Settles when the process exits, for whatever reason. */
  readonly exited: Promise<ChildExit>;
  /** The collector's output so far (the log file is gone after stop() unless `keepFiles`). */
  output(): Promise<string>;
  /** SIGTERM (the collector drains), SIGKILL after `stopTimeoutMs`; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the collector with `config` and resolves once it logs that every
 * component has started (and `readyPorts` accept connections). It dies with
 * this process: on a normal exit through an exit handler, on SIGKILL through
 * the kernel (PR_SET_PDEATHSIG, set by the binary itself).
 */
export async function startOtelCollector(options: StartOtelCollectorOptions): Promise<OtelCollector> {
  const log = options.log ?? defaultLog;
  const binary = options.binary ?? (await buildOtelCollector({ log }));
  const dir = await mkdtemp(join(tmpdir(), 'otelcol-'));
  const configFile = join(dir, 'config.yaml');
  const logFile = join(dir, 'otelcol.log');
  await writeFile(configFile, options.config);

  // Later --config sources override earlier ones key by key: the caller's
  // YAML stays free of the self-telemetry details.
  let metricsUrl: string | undefined;
  const overrides: string[] = [];
  if (options.selfMetrics === true) {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    overrides.push(`yaml:service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: "127.0.0.1", port: ${port}}}}}]`);
  } else {
    overrides.push('yaml:service::telemetry::metrics::level: none');
  }
  const args = [`--config=file:${configFile}`, ...overrides.map((source) => `--config=${source}`)];

  const out = createWriteStream(logFile);
  await once(out, 'open');
  const child = spawn(binary, args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env, SSF_OTELCOL_PARENT_PID: String(process.pid) },
  });
  let watched: WatchedChild;
  try {
    watched = await watchChild(child, 'SIGKILL');
  } catch (spawnError) {
    out.end();
    throw new OtelCollectorError('OTELCOL_ERR_EXITED', `cannot start ${binary}`, { cause: spawnError });
  }
  child.on('error', (err) => log(`collector process error: ${err.message}`));
  const { exited, pid } = watched;

  // The ready line can arrive split across chunks: keep a short tail.
  let ready = false;
  let tail = '';
  const watch = (chunk: Buffer): void => {
    out.write(chunk);
    if (ready) return;
    tail = (tail + chunk.toString('utf8')).slice(-4_096);
    if (tail.includes(READY_LINE)) ready = true;
  };
  child.stdout.on('data', watch);
  child.stderr.on('data', watch);
  const streamsClosed = Promise.all([once(child.stdout, 'close'), once(child.stderr, 'close')]).then(() => {
    out.end();
  });

  log(`collector starting: pid ${pid}, config ${configFile}, log ${logFile}`);
  const startedAt = performance.now();
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const ports = options.readyPorts ?? [];
  for (;;) {
    const exit = watched.exit();
    if (exit !== undefined) {
      await streamsClosed;
      throw new OtelCollectorError(
        'OTELCOL_ERR_EXITED',
        `the collector exited before it was ready (code ${exit.code}, signal ${exit.signal}); ${logFile}:\n${await logTail(logFile)}`,
      );
    }
    if (ready && (await Promise.all(ports.map(accepts))).every(Boolean)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      await streamsClosed;
      throw new OtelCollectorError('OTELCOL_ERR_TIMEOUT', `the collector was not ready within ${timeoutMs} ms; ${logFile}:\n${await logTail(logFile)}`);
    }
    await Promise.race([sleep(50), exited]);
  }
  log(`collector ready in ${Math.round(performance.now() - startedAt)} ms (pid ${pid})`);

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await watched.stop(options.stopTimeoutMs ?? 15_000);
    await streamsClosed;
    if (options.keepFiles !== true) await rm(dir, { recursive: true, force: true });
    log(`collector stopped: pid ${pid}`);
  };
  return {
    pid,
    logFile,
    metricsUrl,
    exited,
    output: () => readFile(logFile, 'utf8'),
    stop: () => (stopping ??= stop()),
  };
}

/** Ports of an OTLP receiver on 127.0.0.1 (0 or absent: that protocol is off). */
export interface OtlpReceiverPorts {
  grpcPort?: number;
  httpPort?: number;
}

export interface ForwardingConfigOptions extends OtlpReceiverPorts {
  /**
   * `grpc`: the `otlp_grpc` exporter (called `otlp` before 0.165, still
   * accepted with a deprecation warning), endpoint `127.0.0.1:PORT`.
   * `http`: the `otlp_http` exporter (formerly `otlphttp`), endpoint
   * `http://127.0.0.1:PORT`, to which it appends /v1/traces, /v1/logs, /v1/metrics.
   */
  protocol: 'grpc' | 'http';
  endpoint: string;
  /** http only: `proto` (default) or `json`. */
  encoding?: 'proto' | 'json';
  /** http only: `gzip` (the exporter's default) or `none`. */
  compression?: 'gzip' | 'none';
  /** Batch processor timeout. Default `200ms` (the collector's default). */
  batchTimeout?: string;
  /** Batch processor send_batch_size. Default 8192 (the collector's default). */
  batchSize?: number;
  /** Also print what passes through (debug exporter, detailed) into the log file. */
  debug?: boolean;
}

/** Role (a): OTLP in, batch, OTLP out (gRPC or HTTP) to one endpoint, for traces, logs and metrics. */
export function forwardingConfig(options: ForwardingConfigOptions): string {
  const name = options.protocol === 'grpc' ? 'otlp_grpc' : 'otlp_http';
  const exporter =
    options.protocol === 'grpc'
      ? `  otlp_grpc:\n    endpoint: ${q(options.endpoint)}\n    tls:\n      insecure: true\n`
      : `  otlp_http:\n    endpoint: ${q(options.endpoint)}\n    encoding: ${options.encoding ?? 'proto'}\n    compression: ${options.compression ?? 'gzip'}\n`;
  const debug = options.debug === true ? '  debug:\n    verbosity: detailed\n' : '';
  const exporters = options.debug === true ? `[${name}, debug]` : `[${name}]`;
  return [receiverYaml(options), batchYaml(options.batchTimeout, options.batchSize), `exporters:\n${exporter}${debug}`, pipelinesYaml(exporters)].join('');
}

export interface ClickHouseConfigOptions extends OtlpReceiverPorts {
  /** `http://127.0.0.1:PORT` (ClickHouse's HTTP interface) or `tcp://127.0.0.1:PORT` (native). */
  endpoint: string;
  /** Created by the exporter if missing. Default `default`. */
  database?: string;
  /** Default true (the exporter's default). False: plain synchronous INSERTs. */
  asyncInsert?: boolean;
  /** Exporter compression: `none`, `lz4` (default), `zstd`, ... */
  compress?: string;
  batchTimeout?: string;
  batchSize?: number;
}

/** Role (b): OTLP in, batch, the contrib ClickHouse exporter (its own otel_* tables, created at start). */
export function clickhouseConfig(options: ClickHouseConfigOptions): string {
  const settings = [
    `    endpoint: ${q(options.endpoint)}`,
    `    database: ${q(options.database ?? 'default')}`,
    `    async_insert: ${options.asyncInsert ?? true}`,
    ...(options.compress === undefined ? [] : [`    compress: ${q(options.compress)}`]),
    // The exporter's own defaults: create_schema true, tables otel_traces, otel_logs, otel_metrics_*.
    '    create_schema: true',
  ];
  return [
    receiverYaml(options),
    batchYaml(options.batchTimeout, options.batchSize),
    `exporters:\n  clickhouse:\n${settings.join('\n')}\n`,
    pipelinesYaml('[clickhouse]'),
  ].join('');
}

function receiverYaml(ports: OtlpReceiverPorts): string {
  const protocols: string[] = [];
  if (ports.grpcPort !== undefined && ports.grpcPort > 0) protocols.push(`      grpc:\n        endpoint: "127.0.0.1:${ports.grpcPort}"\n`);
  if (ports.httpPort !== undefined && ports.httpPort > 0) protocols.push(`      http:\n        endpoint: "127.0.0.1:${ports.httpPort}"\n`);
  if (protocols.length === 0) throw new Error('an OTLP receiver needs grpcPort or httpPort');
  return `receivers:\n  otlp:\n    protocols:\n${protocols.join('')}`;
}

function batchYaml(timeout = '200ms', size = 8192): string {
  return `processors:\n  batch:\n    timeout: ${timeout}\n    send_batch_size: ${size}\n`;
}

function pipelinesYaml(exporters: string): string {
  const pipeline = (signal: string): string => `    ${signal}:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: ${exporters}\n`;
  return `service:\n  pipelines:\n${pipeline('traces')}${pipeline('logs')}${pipeline('metrics')}`;
}

/** A YAML double-quoted scalar (JSON string syntax is valid YAML). */
function q(value: string): string {
  return JSON.stringify(value);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((settle) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      settle(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      settle(false);
    });
    socket.once('error', () => settle(false));
  });
}

async function logTail(file: string, max = 4_000): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - max);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}
