/**
 * A real, single-node Apache Kafka broker (KRaft, combined broker+controller) for the
 * integration tests and for running the distributed mode by hand. The jars come from
 * Maven Central through deploy/kafka/pom.xml and are cached under `<repo>/.cache/kafka/`.
 *
 *   node dist/deploy/local/kafka-broker.js start [--port N] [--data DIR] [--topic NAME:PARTITIONS]...
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, realpathSync, rmSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { freePort } from '../../src/net/free-port.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { ITopicConfig } from 'kafkajs';
import type { InfraErrorCode } from './infra-errors.js';

export type KafkaBrokerErrorCode = Extract<InfraErrorCode, 'INFRA_ERR_JAVA_MISSING' | 'INFRA_ERR_MVN_MISSING' | `INFRA_ERR_KAFKA_${string}`>;

export class KafkaBrokerError extends Error {
  readonly code: KafkaBrokerErrorCode;
  constructor(code: KafkaBrokerErrorCode, message: string) {
    super(message);
    this.name = 'KafkaBrokerError';
    this.code = code;
  }
}

export interface KafkaJarsOptions {
  /** Where the jars go. Default `<repo>/.cache/kafka/<version>/`. */
  cacheDir?: string;
  /** Progress lines (fetching, ready, ...). Default: silent. */
  log?: (line: string) => void;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Topic-level configs, e.g. `{ 'retention.ms': '3600000' }`. */
  configs?: Record<string, string>;
}

export interface KafkaBrokerOptions extends KafkaJarsOptions {
  /** Client (PLAINTEXT) port on 127.0.0.1. Default: a free port. */
  port?: number;
  /** KRaft controller port on 127.0.0.1. Default: a free port. */
  controllerPort?: number;
  /** Holds config, data and broker.log. Default: a fresh temp dir, removed by stop(). */
  dataDir?: string;
  /** JVM max heap. Default 512. */
  heapMb?: number;
  /** How long to wait for the broker to answer kafkajs. Default 90 000. */
  readyTimeoutMs?: number;
  /** Created (idempotently) once the broker is ready. */
  topics?: TopicSpec[];
}

export interface KafkaBroker {
  /** Bootstrap addresses for kafkajs, e.g. `['127.0.0.1:40123']`. */
  brokers: string[];
  port: number;
  /** The JVM's process id (the watchdog shell `exec`s into it), for reading its CPU time. */
  pid: number;
  dataDir: string;
  logFile: string;
  /** SIGTERM, wait for exit (SIGKILL after 30 s). Idempotent. */
  stop(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const STOP_TIMEOUT_MS = 30_000;
const READY_MARKER = 'READY.json';
const noop = (): void => {};

/** The repo root holds deploy/kafka/pom.xml; this file runs from src/ (vitest) or dist/src/. */
function findPom(): string {
  for (let dir = here, i = 0; i < 8; i += 1, dir = path.dirname(dir)) {
    const pom = path.join(dir, 'deploy', 'kafka', 'pom.xml');
    if (existsSync(pom)) return pom;
  }
  throw new Error(`deploy/kafka/pom.xml not found above ${here}`);
}

async function readPom(): Promise<{ pomFile: string; version: string; sha256: string; repoRoot: string }> {
  const pomFile = findPom();
  const text = await readFile(pomFile, 'utf8');
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(text)?.[1]?.trim();
  if (version === undefined) throw new Error(`${pomFile} has no <kafka.version>`);
  const sha256 = createHash('sha256').update(text).digest('hex');
  return { pomFile, version, sha256, repoRoot: path.resolve(path.dirname(pomFile), '..', '..') };
}

export interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a command to completion, collecting stdout+stderr; rejects only if it cannot start. */
export function run(cmd: string, args: string[], options: { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'ENOENT';
}

export function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export interface JavaInfo {
  bin: string;
  /** First line of `java -version`: keys the class-data-sharing archive. */
  banner: string;
}

export async function checkJava(): Promise<JavaInfo> {
  const home = process.env['JAVA_HOME'];
  const bin = home ? path.join(home, 'bin', 'java') : 'java';
  const hint = 'Install a JDK or JRE 11+ (17 is tested), e.g. `apt-get install -y default-jdk-headless` ' + 'or `apt-get install -y openjdk-17-jre-headless`.';
  let result: RunResult;
  try {
    result = await run(bin, ['-version']);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    throw new KafkaBrokerError('INFRA_ERR_JAVA_MISSING', `Java is missing: \`${bin}\` was not found${home ? ' (from JAVA_HOME)' : ' on PATH'}. ${hint}`);
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.output);
  const major = match?.[1] === '1' ? Number(match[2]) : Number(match?.[1]);
  if (result.code !== 0 || !Number.isFinite(major) || major < 11) {
    throw new KafkaBrokerError('INFRA_ERR_JAVA_MISSING', `Java 11+ is needed for Kafka, \`${bin} -version\` said: ${result.output.trim()}. ${hint}`);
  }
  return { bin, banner: result.output.trim().split('\n')[0] ?? '' };
}

async function checkMaven(): Promise<void> {
  try {
    await run('mvn', ['-v']);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    throw new KafkaBrokerError(
      'INFRA_ERR_MVN_MISSING',
      'Maven is missing: `mvn` was not found on PATH; it fetches the Kafka jars from Maven Central. ' + 'Install it with `apt-get install -y maven`.',
    );
  }
}

interface ReadyMarker {
  version: string;
  pomSha256: string;
}

async function readMarker(file: string): Promise<ReadyMarker | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { version, pomSha256 } = parsed as Record<string, unknown>;
    return typeof version === 'string' && typeof pomSha256 === 'string' ? { version, pomSha256 } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'EPERM';
  }
}

/** Staging dirs left by a fetch whose process died (named lib.partial-<pid>-<random>). */
async function removeAbandonedStaging(cacheDir: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const pid = /^lib\.partial-(\d+)-/.exec(name)?.[1];
    if (pid !== undefined && !isAlive(Number(pid))) await rm(path.join(cacheDir, name), { recursive: true, force: true });
  }
}

async function defaultCacheDir(): Promise<string> {
  const { repoRoot, version } = await readPom();
  return path.join(repoRoot, '.cache', 'kafka', version);
}

/**
 * Makes sure the Kafka jars are in `<cacheDir>/lib` and returns that directory.
 * Warm: reads two small files and returns, no network. Cold: runs Maven with a private
 * local repository `<cacheDir>/m2` (removed afterwards, so `rm -rf .cache` resets all),
 * copies the jars to a staging dir, moves it in place and writes READY.json last, so an
 * interrupted fetch is redone. Editing deploy/kafka/pom.xml also triggers a refetch.
 */
export async function ensureKafkaJars(options: KafkaJarsOptions = {}): Promise<string> {
  const log = options.log ?? noop;
  const pom = await readPom();
  const cacheDir = path.resolve(options.cacheDir ?? path.join(pom.repoRoot, '.cache', 'kafka', pom.version));
  const libDir = path.join(cacheDir, 'lib');
  const markerFile = path.join(cacheDir, READY_MARKER);
  const isReady = async (): Promise<boolean> => {
    const marker = await readMarker(markerFile);
    return marker?.pomSha256 === pom.sha256 && existsSync(libDir);
  };
  if (await isReady()) return libDir;

  await checkMaven();
  await checkJava();
  await mkdir(cacheDir, { recursive: true });
  await removeAbandonedStaging(cacheDir);
  const staging = path.join(cacheDir, `lib.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  const started = Date.now();
  log(`fetching Kafka ${pom.version} jars with Maven into ${cacheDir}`);
  try {
    const result = await run('mvn', [
      '-q',
      '-B',
      '-f',
      pom.pomFile,
      `-Dmaven.repo.local=${path.join(cacheDir, 'm2')}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${staging}`,
    ]);
    const jars = existsSync(staging) ? await readdir(staging) : [];
    if (result.code !== 0 || !jars.includes(`kafka_2.13-${pom.version}.jar`)) {
      throw new KafkaBrokerError(
        'INFRA_ERR_KAFKA_FETCH_FAILED',
        `mvn dependency:copy-dependencies failed (exit ${result.code}); Maven Central must be reachable.\n${tail(result.output)}`,
      );
    }
    // Another process may have finished first: keep its copy.
    if (await isReady()) return libDir;
    await rm(libDir, { recursive: true, force: true });
    await rename(staging, libDir);
    const marker: ReadyMarker = { version: pom.version, pomSha256: pom.sha256 };
    const tmpMarker = `${markerFile}.${process.pid}.tmp`;
    await writeFile(tmpMarker, `${JSON.stringify(marker, null, 2)}\n`);
    await rename(tmpMarker, markerFile);
    await rm(path.join(cacheDir, 'm2'), { recursive: true, force: true });
    log(`fetched ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return libDir;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The server.properties lines of a KRaft node (broker and controller) on 127.0.0.1, single or in a cluster. */
export function kraftNodeProperties(p: { id: number; voters: string; port: number; controllerPort: number; logDir: string }): string[] {
  return [
    'process.roles=broker,controller',
    `node.id=${p.id}`,
    `controller.quorum.voters=${p.voters}`,
    `listeners=PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${p.port}`,
    'inter.broker.listener.name=PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${p.logDir}`,
  ];
}

function serverProperties(p: { port: number; controllerPort: number; logDir: string }): string {
  return [
    ...kraftNodeProperties({ ...p, id: 1, voters: `1@127.0.0.1:${p.controllerPort}` }),
    // Topics are created explicitly (createTopics) with the partition counts the pipeline
    // expects; auto-creation would hide a misspelt topic and race with its first producer.
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    // Consumer groups in tests should not wait 3 s for more members, nor for 50
    // __consumer_offsets partitions to be created (one coordinator is all a node needs).
    'group.initial.rebalance.delay.ms=0',
    'offsets.topic.num.partitions=1',
    'log.segment.bytes=16777216',
    '',
  ].join('\n');
}

export const LOG4J_PROPERTIES = [
  'log4j.rootLogger=INFO, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka.request.logger=WARN',
  'log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN',
  '',
].join('\n');

/**
 * Kills the broker if this Node process dies without running its 'exit' hooks (SIGKILL,
 * an unhandled signal): a subshell polls the parent pid, then `exec` turns the shell into
 * the JVM so that the pid Node holds is the JVM's own.
 */
export const WATCHDOG = [
  'parent=$PPID; self=$$',
  '( while kill -0 "$parent" 2>/dev/null && kill -0 "$self" 2>/dev/null; do sleep 1; done',
  '  kill -0 "$parent" 2>/dev/null && exit 0',
  '  kill -TERM "$self" 2>/dev/null || exit 0',
  '  i=0; while kill -0 "$self" 2>/dev/null && [ $i -lt 30 ]; do sleep 1; i=$((i+1)); done',
  '  kill -KILL "$self" 2>/dev/null ) </dev/null >/dev/null 2>&1 &',
  'exec "$@"',
].join('\n');

/** The broker's first ERROR/FATAL lines (the cause) and its last lines (the state). */
export function readLogSummary(file: string): Promise<string> {
  return readFile(file, 'utf8').then(
    (text) => {
      const lines = text.split('\n');
      // Each ERROR line with the exception line that follows it, if any.
      const errors = lines
        .flatMap((line, i) => {
          if (!/ (ERROR|FATAL) /.test(line)) return [];
          const next = lines[i + 1] ?? '';
          return next.startsWith('[') || next === '' ? [line] : [line, next];
        })
        .slice(0, 10);
      const head = errors.length > 0 ? `first errors:\n${errors.join('\n')}\nlast lines:\n` : 'last lines:\n';
      return head + tail(text, 20);
    },
    () => '(no log)',
  );
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A client that asks once and fails fast: readiness polls retry on their own schedule. */
export function readinessClient(brokers: string[]): Kafka {
  return new Kafka({
    clientId: 'ssf-kafka-ready',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  });
}

async function waitUntilReady(brokers: string[], child: ChildProcess, timeoutMs: number): Promise<void> {
  const kafka = readinessClient(brokers);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited(child)) {
      throw new KafkaBrokerError('INFRA_ERR_KAFKA_EXITED', `exited with ${child.exitCode ?? child.signalCode}`);
    }
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0) return;
    } catch {
      // not listening yet, or still catching up with the metadata log
    } finally {
      await admin.disconnect().catch(noop);
    }
    if (Date.now() > deadline) {
      throw new KafkaBrokerError('INFRA_ERR_KAFKA_NOT_READY', `did not answer within ${timeoutMs / 1000} s`);
    }
    await sleep(200);
  }
}

/**
 * The first FindCoordinator creates __consumer_offsets; done here, the first consumer
 * group of a test neither waits for it nor logs kafkajs's "group coordinator is not
 * available" error.
 */
export async function warmGroupCoordinator(brokers: string[], log: (line: string) => void): Promise<void> {
  const retry = { initialRetryTime: 50, maxRetryTime: 1_000, retries: 30 };
  const admin = new Kafka({ clientId: 'ssf-kafka-ready', brokers, logLevel: logLevel.NOTHING, retry }).admin();
  try {
    await admin.connect();
    await admin.describeGroups(['ssf-kafka-warm-up']);
  } catch (err) {
    log(`group coordinator not ready yet (${err instanceof Error ? err.message : String(err)}); continuing`);
  } finally {
    await admin.disconnect().catch(noop);
  }
}

/**
 * Class-data sharing: the first broker run dumps the classes it loaded into an archive
 * when it exits cleanly; later runs (and the format step) map it and start about twice
 * as fast (broker 2.5 s → 1.5 s on 2 cores). Keyed by JVM build and jar folder; an
 * archive the JVM cannot use is ignored by it (-Xshare:auto, the default).
 */
export interface CdsPlan {
  /** JVM flags for a run that only reads the archive (empty if there is none yet). */
  readArgs: string[];
  /** JVM flags for the broker: read the archive, or write it at exit. */
  brokerArgs: string[];
  /** After the broker exited: keep the archive it wrote if the exit was clean. */
  finish(clean: boolean): Promise<void>;
}

export async function cdsPlan(cacheDir: string, libDir: string, java: JavaInfo): Promise<CdsPlan> {
  // lib/ is renamed into place by each fetch, so its mtime changes with the jar set.
  const libStamp = (await stat(libDir)).mtimeMs;
  const key = createHash('sha256').update(`${java.banner}\n${libDir}\n${libStamp}`).digest('hex').slice(0, 16);
  const archive = path.join(cacheDir, `kafka-${key}.jsa`);
  const quiet = '-Xlog:cds=off,cds+dynamic=off';
  if (existsSync(archive)) {
    const readArgs = [`-XX:SharedArchiveFile=${archive}`, quiet];
    return { readArgs, brokerArgs: readArgs, finish: async () => {} };
  }
  const partial = `${archive}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  return {
    readArgs: [],
    brokerArgs: [`-XX:ArchiveClassesAtExit=${partial}`, quiet],
    async finish(clean) {
      const size = await stat(partial).then(
        (s) => s.size,
        () => 0,
      );
      if (!clean || size === 0) {
        await rm(partial, { force: true });
        return;
      }
      await rename(partial, archive).catch(noop);
      // Archives of an older JVM or jar set are never used again.
      for (const name of await readdir(cacheDir)) {
        if (/^kafka-[0-9a-f]{16}\.jsa$/.test(name) && name !== path.basename(archive)) {
          await rm(path.join(cacheDir, name), { force: true });
        }
      }
    },
  };
}

/** A KRaft cluster id: 16 random bytes, base64url, not starting with `-` (StorageTool would read it as a flag). */
export function newClusterId(): string {
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  return clusterId;
}

/** How to run a Kafka JVM: its classpath and logging, and the class-data sharing flags (see `cdsPlan`). */
export interface KafkaJvm {
  java: JavaInfo;
  classpath: string;
  log4jArg: string;
  cds: CdsPlan;
}

/** The Kafka JVM of the jars in `libDir`, logging as `log4jFile` says, with the class archive of `cacheDir`. */
export async function kafkaJvm(java: JavaInfo, libDir: string, cacheDir: string, log4jFile: string): Promise<KafkaJvm> {
  return {
    java,
    classpath: `${libDir}${path.sep}*`,
    log4jArg: `-Dlog4j.configuration=${pathToFileURL(log4jFile).href}`,
    cds: await cdsPlan(cacheDir, libDir, java),
  };
}

/** Formats a node's log dir (`kafka.tools.StorageTool format`) for the given cluster id. */
export function formatStorage(jvm: KafkaJvm, clusterId: string, propsFile: string): Promise<RunResult> {
  // A short-lived JVM: C1 only and the serial GC start it fastest.
  return run(jvm.java.bin, [
    '-Xmx128m',
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    ...jvm.cds.readArgs,
    jvm.log4jArg,
    '-cp',
    jvm.classpath,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    propsFile,
  ]);
}

/** The JVM arguments of a broker (`kafka.Kafka`) reading `propsFile`; `cdsArgs` is the plan's readArgs or brokerArgs. */
export function brokerJvmArgs(jvm: KafkaJvm, heapMb: number, cdsArgs: string[], propsFile: string): string[] {
  return [
    `-Xmx${heapMb}m`,
    `-Xms${Math.min(64, heapMb)}m`,
    '-Djava.awt.headless=true',
    ...cdsArgs,
    jvm.log4jArg,
    '-cp',
    jvm.classpath,
    'kafka.Kafka',
    propsFile,
  ];
}

/**
 * Starts a single-node KRaft broker on 127.0.0.1 and resolves once kafkajs gets an answer
 * from it (and the requested topics exist). The broker is killed if this process exits.
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const log = options.log ?? noop;
  const java = await checkJava();
  const cacheDir = path.resolve(options.cacheDir ?? (await defaultCacheDir()));
  const libDir = await ensureKafkaJars({ cacheDir, log });

  const port = options.port ?? (await freePort());
  let controllerPort = options.controllerPort ?? (await freePort());
  while (controllerPort === port) controllerPort = await freePort();
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = path.resolve(options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'ssf-kafka-'))));
  const logDir = path.join(dataDir, 'kraft');
  const logFile = path.join(dataDir, 'broker.log');
  const propsFile = path.join(dataDir, 'server.properties');
  const log4jFile = path.join(dataDir, 'log4j.properties');
  await mkdir(dataDir, { recursive: true });
  await writeFile(propsFile, serverProperties({ port, controllerPort, logDir }));
  await writeFile(log4jFile, LOG4J_PROPERTIES);
  const jvm = await kafkaJvm(java, libDir, cacheDir, log4jFile);
  const { cds } = jvm;

  // A given dataDir keeps its data across restarts: format only once.
  if (!existsSync(path.join(logDir, 'meta.properties'))) {
    const format = await formatStorage(jvm, newClusterId(), propsFile);
    await writeFile(logFile, format.output);
    if (format.code !== 0) {
      throw new KafkaBrokerError('INFRA_ERR_KAFKA_FORMAT_FAILED', `kafka StorageTool format failed (exit ${format.code}):\n${tail(format.output)}`);
    }
  }

  const heapMb = options.heapMb ?? 512;
  const jvmArgs = brokerJvmArgs(jvm, heapMb, cds.brokerArgs, propsFile);
  const logFd = openSync(logFile, 'a');
  const started = Date.now();
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', WATCHDOG, 'sh', java.bin, ...jvmArgs], {
      cwd: dataDir,
      stdio: ['ignore', logFd, logFd],
      detached: false,
    });
  } finally {
    closeSync(logFd);
  }
  const killOnExit = (): void => {
    child.kill('SIGKILL');
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true, maxRetries: 2 });
  };
  process.on('exit', killOnExit);
  const brokers = [`127.0.0.1:${port}`];
  log(`starting Kafka broker on ${brokers[0]} (controller ${controllerPort}, data ${dataDir})`);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited(child)) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
          log(`Kafka broker did not stop within ${STOP_TIMEOUT_MS / 1000} s, killing it`);
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      process.removeListener('exit', killOnExit);
      // The JVM turns SIGTERM into exit(143) after its shutdown hooks: only that is clean.
      await cds.finish(exited(child) && child.signalCode === null);
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    await waitUntilReady(brokers, child, options.readyTimeoutMs ?? 90_000);
    await warmGroupCoordinator(brokers, log);
    log(`Kafka broker ready on ${brokers[0]} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (options.topics !== undefined && options.topics.length > 0) await createTopics(brokers, options.topics);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const code = err instanceof KafkaBrokerError ? err.code : 'INFRA_ERR_KAFKA_NOT_READY';
    const logSummary = await readLogSummary(logFile);
    // Keep the data dir so that the full log can be read.
    stopping ??= (async () => {
      if (!exited(child)) {
        child.kill('SIGKILL');
        await waitForExit(child, 5_000);
      }
      process.removeListener('exit', killOnExit);
      await cds.finish(false);
    })();
    await stopping;
    throw new KafkaBrokerError(code, `Kafka broker on ${brokers[0]} failed to start: ${reason}. Log ${logFile}, ${logSummary}`);
  }
  return { brokers, port, pid: child.pid as number, dataDir, logFile, stop };
}

/** Creates the topics that do not exist yet (replication: the broker's default). */
export async function createTopics(brokers: string[], topics: TopicSpec[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = new Kafka({ clientId: 'ssf-kafka-admin', brokers, logLevel: logLevel.ERROR }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = topics
      .filter((t) => !existing.has(t.name))
      .map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      }));
    if (missing.length === 0) return;
    try {
      // Resolves false (no throw) when all of them were created meanwhile by someone else.
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (err) {
      const now = new Set(await admin.listTopics());
      if (!missing.every((t) => now.has(t.topic))) throw err;
    }
  } finally {
    await admin.disconnect();
  }
}

async function cli(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      data: { type: 'string' },
      topic: { type: 'string', multiple: true },
    },
  });
  if (positionals[0] !== 'start') {
    process.stderr.write('usage: kafka-broker.js start [--port N] [--data DIR] [--topic NAME:PARTITIONS]...\n');
    process.exitCode = 2;
    return;
  }
  const topics = (values.topic ?? []).map((spec) => {
    const [name = '', partitions = '1'] = spec.split(':');
    return { name, partitions: Number(partitions) };
  });
  const log = (line: string): void => {
    process.stderr.write(`[kafka] ${line}\n`);
  };
  const broker = await startKafkaBroker({
    log,
    topics,
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(values.data !== undefined ? { dataDir: values.data } : {}),
  });
  writeSync(1, `${broker.brokers.join(',')}\n`);
  log(`log: ${broker.logFile}; Ctrl-C stops`);
  const shutdown = (): void => {
    log('stopping');
    broker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log(String(err));
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
