/**
 * The whole pipeline as a local multi-node cluster, for development, tests
 * and demos: 3 Kafka nodes (KRaft, RF=3, min.insync.replicas=2), 4 ClickHouse
 * nodes (2 shards x 2 replicas, `sharded` mode: chDB has no Keeper), 2
 * gateways, 2 materializers and the query API, each role its own `ssf`
 * process configured through SSF_* variables only.
 *
 *   npm run cluster [-- --data DIR]      fixed ports (Kafka 9092-9094, gateways 8127/8137, query 8130)
 *
 * As a library (tests): startCluster() with free ports.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startClickHouseCluster } from './clickhouse-cluster.js';
import type { ClickHouseCluster, ClickHouseNode } from './clickhouse-cluster.js';
import { freePort } from '../../src/net/free-port.js';
import { watchChild } from '../../src/process/watch-child.js';
import { startKafkaCluster } from './kafka-cluster.js';
import type { KafkaCluster } from './kafka-cluster.js';

export type Role = 'gateway' | 'materializer' | 'query-api';

export interface RoleProcess {
  role: Role;
  /** e.g. `gateway-2`. */
  name: string;
  /** The role's HTTP base URL (gateway intake, materializer metrics, query API). */
  url: string;
  env: Record<string, string>;
  logFile: string;
  readonly pid: number;
  readonly exited: Promise<void>;
  /** Sends a signal without waiting (SIGKILL: a crash). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, and waits for the exit (SIGKILL after 20 s). */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Where every node keeps its data and log. Default: a fresh temp dir, removed by stop(). */
  dataDir?: string;
  /** The documented ports (Kafka 9092-9094, gateways 8127/8137 + neighbours, query API 8130); default: free ports. */
  fixedPorts?: boolean;
  gateways?: number;
  materializers?: number;
  /** Partitions of the spans topic. Default 6. */
  partitions?: number;
  /** Extra SSF_* settings for every role. */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export interface LocalCluster {
  kafka: KafkaCluster;
  clickhouse: ClickHouseCluster;
  gateways: RoleProcess[];
  materializers: RoleProcess[];
  queryApi: RoleProcess;
  dataDir: string;
  /** The SSF_* settings every role shares (Kafka, ClickHouse cluster, database). */
  env: Record<string, string>;
  /** Starts one more materializer (on the given ClickHouse node) and resolves once it is ready. */
  addMaterializer(node?: ClickHouseNode): Promise<RoleProcess>;
  /** Starts a role again with its settings (after a kill). */
  restart(role: RoleProcess): Promise<RoleProcess>;
  /** One line: every endpoint. */
  describe(): string;
  stop(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * How to run `ssf`: the built CLI (`npm run build`). Not the sources through
 * tsx: the gateway's Kafka thread is a worker, and Node 20 does not apply
 * tsx's loader inside workers of a process started with `--import tsx`.
 */
export function ssfCommand(): string[] {
  for (let dir = here, i = 0; i < 5; i += 1, dir = path.dirname(dir)) {
    for (const built of [path.join(dir, 'cli', 'main.js'), path.join(dir, 'dist', 'cli', 'main.js')]) {
      if (built.includes(`${path.sep}dist${path.sep}`) && existsSync(built)) return [process.execPath, built];
    }
  }
  throw new Error(`the built ssf command (dist/cli/main.js) is missing above ${here}: run \`npm run build\``);
}

function ready(url: string): Promise<boolean> {
  return new Promise((settle) => {
    const request = get(`${url}/-/ready`, { agent: false, timeout: 2_000 }, (response) => {
      response.resume();
      settle(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => settle(false));
  });
}

export async function startCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const log = options.log ?? ((): void => {});
  const fixed = options.fixedPorts === true;
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = path.resolve(options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'ssf-cluster-'))));
  await mkdir(dataDir, { recursive: true });
  const partitions = options.partitions ?? 6;
  const port = async (fixedPort: number): Promise<number> => (fixed ? fixedPort : freePort());
  const command = ssfCommand();

  const [kafkaResult, clickhouseResult] = await Promise.allSettled([
    startKafkaCluster({
      dataDir,
      log,
      ...(fixed ? { ports: [9092, 9093, 9094] } : {}),
      topics: [
        { name: 'ssf.spans', partitions },
        { name: 'ssf.dead-letter', partitions: 1 },
      ],
    }),
    startClickHouseCluster({ dataDir, log }),
  ]);
  if (kafkaResult.status === 'rejected' || clickhouseResult.status === 'rejected') {
    if (kafkaResult.status === 'fulfilled') await kafkaResult.value.stop();
    if (clickhouseResult.status === 'fulfilled') await clickhouseResult.value.stop();
    throw kafkaResult.status === 'rejected' ? kafkaResult.reason : (clickhouseResult as PromiseRejectedResult).reason;
  }
  const kafka = kafkaResult.value;
  const clickhouse = clickhouseResult.value;
  const env: Record<string, string> = {
    SSF_KAFKA_BROKERS: kafka.brokers.join(','),
    SSF_KAFKA_PARTITIONS: String(partitions),
    SSF_KAFKA_REPLICATION_FACTOR: '3',
    SSF_CLICKHOUSE_CLUSTER: clickhouse.name,
    SSF_CLICKHOUSE_CLUSTER_MODE: 'sharded',
    SSF_LOG_LEVEL: 'warn',
    ...options.env,
  };
  const nodeAt = (i: number): ClickHouseNode => clickhouse.nodes[i % clickhouse.nodes.length] as ClickHouseNode;

  const roles: RoleProcess[] = [];
  const spawnRole = async (role: Role, name: string, url: string, roleEnv: Record<string, string>): Promise<RoleProcess> => {
    const logFile = path.join(dataDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      const [bin = process.execPath, ...args] = command;
      // Each role is configured by its own SSF_* settings only: the launcher's (a test run's) are not its.
      const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SSF_')));
      child = spawn(bin, [...args, role], { stdio: ['ignore', fd, fd], env: { ...inherited, ...roleEnv } });
    } finally {
      closeSync(fd);
    }
    // A role must not outlive the launcher (a test run that ends, a launcher that crashes).
    const watched = await watchChild(child, 'SIGKILL');
    const exited = watched.exited.then(() => {});
    const proc: RoleProcess = {
      role,
      name,
      url,
      env: roleEnv,
      logFile,
      pid: watched.pid,
      exited,
      kill: (signal = 'SIGKILL') => {
        if (watched.exit() === undefined) child.kill(signal);
      },
      stop: () => watched.stop(20_000),
    };
    roles.push(proc);
    const deadline = Date.now() + 180_000;
    while (!(await ready(url))) {
      if (watched.exit() !== undefined) throw new Error(`${name} exited before it was ready; ${logFile}:\n${(await readFile(logFile, 'utf8')).slice(-3_000)}`);
      if (Date.now() > deadline) throw new Error(`${name} was not ready at ${url}/-/ready within 180 s; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    log(`${name} ready: ${url}`);
    return proc;
  };

  const startGateway = async (i: number): Promise<RoleProcess> => {
    const http = await port(8127 + 10 * i);
    const roleEnv = {
      ...env,
      SSF_GATEWAY_HTTP_LISTEN: `127.0.0.1:${http}`,
      SSF_GATEWAY_UDP_LISTEN: `127.0.0.1:${await port(8128 + 10 * i)}`,
      SSF_GATEWAY_STATSD_LISTEN: `127.0.0.1:${await port(8125 + 10 * i)}`,
      // OTLP's standard ports for the first gateway, the next ten up for the second.
      SSF_GATEWAY_OTLP_HTTP_LISTEN: `127.0.0.1:${await port(4318 + 10 * i)}`,
      SSF_GATEWAY_OTLP_GRPC_LISTEN: `127.0.0.1:${await port(4317 + 10 * i)}`,
    };
    return spawnRole('gateway', `gateway-${i + 1}`, `http://127.0.0.1:${http}`, roleEnv);
  };
  let materializerCount = 0;
  const startMaterializer = async (node: ClickHouseNode, listen?: number): Promise<RoleProcess> => {
    const i = materializerCount++;
    const http = listen ?? (await port(8129 + 10 * i));
    const roleEnv = { ...env, SSF_CLICKHOUSE_URL: node.url, SSF_MATERIALIZER_METRICS_LISTEN: `127.0.0.1:${http}` };
    return spawnRole('materializer', `materializer-${i + 1}`, `http://127.0.0.1:${http}`, roleEnv);
  };

  const stop = async (): Promise<void> => {
    // Roles first (materializers write what they hold), then the stores.
    await Promise.allSettled(roles.map((r) => r.stop()));
    await Promise.allSettled([kafka.stop(), clickhouse.stop()]);
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const gatewayCount = options.gateways ?? 2;
    const gateways = await Promise.all(Array.from({ length: gatewayCount }, (_, i) => startGateway(i)));
    // Materializers on different shards' nodes; they migrate at start, at the same time.
    const materializers = await Promise.all(Array.from({ length: options.materializers ?? 2 }, (_, i) => startMaterializer(nodeAt(2 * i))));
    const queryPort = await port(8130);
    const queryApi = await spawnRole('query-api', 'query-api', `http://127.0.0.1:${queryPort}`, {
      ...env,
      SSF_CLICKHOUSE_URL: nodeAt(1).url,
      SSF_QUERY_LISTEN: `127.0.0.1:${queryPort}`,
    });
    const cluster: LocalCluster = {
      kafka,
      clickhouse,
      gateways,
      materializers,
      queryApi,
      dataDir,
      env,
      async addMaterializer(node = nodeAt(3)) {
        const m = await startMaterializer(node);
        materializers.push(m);
        return m;
      },
      async restart(role) {
        await role.stop();
        const index = roles.indexOf(role);
        if (index >= 0) roles.splice(index, 1);
        const again = await spawnRole(role.role, role.name, role.url, role.env);
        for (const list of [gateways, materializers]) {
          const at = list.indexOf(role);
          if (at >= 0) list[at] = again;
        }
        return again;
      },
      describe: () =>
        [
          `kafka ${kafka.brokers.join(',')}`,
          `gateways ${gateways.map((g) => g.url).join(' ')}`,
          `query ${queryApi.url}`,
          `materializers ${materializers.map((m) => m.url).join(' ')}`,
          `clickhouse ${clickhouse.nodes.map((n) => `${n.url}(shard ${n.shard} replica ${n.replica})`).join(' ')}`,
          `data ${dataDir}`,
        ].join('; '),
      stop,
    };
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { data: { type: 'string' } } });
  const root = path.resolve(here, '..', '..', ...(here.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []));
  const dataDir = values.data ?? path.join(root, '.cache', 'cluster');
  const log = (line: string): void => {
    process.stderr.write(`[cluster] ${line}\n`);
  };
  let stopping = false;
  const cluster = await startCluster({ dataDir, fixedPorts: true, log });
  process.stdout.write(`cluster ready: ${cluster.describe()}\n`);
  await new Promise<void>((settle) => {
    const shutdown = (): void => {
      if (stopping) return;
      stopping = true;
      settle();
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  log('stopping');
  await cluster.stop();
  return 0;
}

const entry = process.argv[1];
if (entry !== undefined && existsSync(entry) && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
