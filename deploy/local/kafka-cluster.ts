/**
 * Several Kafka nodes (KRaft, each a combined broker+controller) as one
 * cluster on 127.0.0.1, for the local cluster (deploy/local/cluster.ts) and
 * its fault tests: replication factor 3 and `min.insync.replicas=2` by
 * default, and the faster failover settings measured in
 * /work/shared/INFRASTRUCTURE.md (a leader's kill -9 stalls produce 3-4 s
 * instead of ~8 s). Each node can be killed (-9) and started again on its
 * ports and data. Same jars and JVM tricks as kafka-broker.ts.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../../src/net/free-port.js';
import {
  KafkaBrokerError,
  LOG4J_PROPERTIES,
  WATCHDOG,
  brokerJvmArgs,
  checkJava,
  createTopics,
  ensureKafkaJars,
  exited,
  formatStorage,
  kafkaJvm,
  kraftNodeProperties,
  newClusterId,
  readLogSummary,
  readinessClient,
  tail,
  waitForExit,
  warmGroupCoordinator,
} from './kafka-broker.js';
import type { TopicSpec } from './kafka-broker.js';

export interface KafkaClusterOptions {
  /** Nodes (each broker and controller). Default 3; 2 of 3 must live for the quorum. */
  nodes?: number;
  /** Client ports, one per node. Default: free ports. */
  ports?: number[];
  /** Each node's config, data and log go under `<dataDir>/kafka-<id>`. */
  dataDir: string;
  /** JVM max heap per node. Default 256. */
  heapMb?: number;
  /** Default replication factor and `min.insync.replicas` of new topics. Default 3 and 2. */
  replicationFactor?: number;
  minInsyncReplicas?: number;
  topics?: TopicSpec[];
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface KafkaNode {
  /** node.id, 1-based. */
  id: number;
  port: number;
  controllerPort: number;
  dataDir: string;
  logFile: string;
  /** Running now (not killed or stopped). */
  readonly running: boolean;
}

export interface KafkaCluster {
  /** Bootstrap addresses of every node. */
  brokers: string[];
  nodes: KafkaNode[];
  /** kill -9 of one node (a crash); resolves once the process is gone. */
  kill(node: KafkaNode): Promise<void>;
  /** Starts a killed or stopped node again and waits for the cluster to see all nodes. */
  restart(node: KafkaNode): Promise<void>;
  /** The node that leads `partition` of `topic` now. */
  leaderOf(topic: string, partition: number): Promise<KafkaNode>;
  stop(): Promise<void>;
}

const noop = (): void => {};

function properties(p: {
  id: number;
  port: number;
  controllerPort: number;
  voters: string;
  logDir: string;
  replicationFactor: number;
  minInsync: number;
}): string {
  return [
    ...kraftNodeProperties(p),
    'auto.create.topics.enable=false',
    `default.replication.factor=${p.replicationFactor}`,
    `min.insync.replicas=${p.minInsync}`,
    `offsets.topic.replication.factor=${p.replicationFactor}`,
    'offsets.topic.num.partitions=3',
    `transaction.state.log.replication.factor=${p.replicationFactor}`,
    `transaction.state.log.min.isr=${p.minInsync}`,
    'group.initial.rebalance.delay.ms=0',
    // A dead node is fenced, and its partitions led elsewhere, within seconds.
    'broker.session.timeout.ms=3000',
    'broker.heartbeat.interval.ms=500',
    'replica.lag.time.max.ms=5000',
    'log.segment.bytes=16777216',
    '',
  ].join('\n');
}

interface NodeState extends KafkaNode {
  child: ChildProcess | undefined;
  propsFile: string;
}

/** Starts every node in parallel and resolves once kafkajs sees all of them (and the topics exist). */
export async function startKafkaCluster(options: KafkaClusterOptions): Promise<KafkaCluster> {
  const log = options.log ?? noop;
  const count = options.nodes ?? 3;
  const java = await checkJava();
  const libDir = await ensureKafkaJars({ log });
  const cacheDir = path.dirname(libDir);
  const root = path.resolve(options.dataDir);
  const replicationFactor = options.replicationFactor ?? Math.min(3, count);
  const minInsync = options.minInsyncReplicas ?? Math.min(2, replicationFactor);
  const nodes: NodeState[] = [];
  for (let id = 1; id <= count; id++) {
    const dataDir = path.join(root, `kafka-${id}`);
    nodes.push({
      id,
      port: options.ports?.[id - 1] ?? (await freePort()),
      controllerPort: await freePort(),
      dataDir,
      logFile: path.join(dataDir, 'broker.log'),
      propsFile: path.join(dataDir, 'server.properties'),
      child: undefined,
      get running() {
        return this.child !== undefined && !exited(this.child);
      },
    });
  }
  const voters = nodes.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(',');
  const log4jFile = path.join(root, 'log4j.properties');
  await mkdir(root, { recursive: true });
  await writeFile(log4jFile, LOG4J_PROPERTIES);
  const jvm = await kafkaJvm(java, libDir, cacheDir, log4jFile);
  const clusterIdFile = path.join(root, 'kafka-cluster-id');
  let clusterId = newClusterId();
  if (existsSync(clusterIdFile)) clusterId = (await readFile(clusterIdFile, 'utf8')).trim();
  else await writeFile(clusterIdFile, clusterId);

  await Promise.all(
    nodes.map(async (node) => {
      const logDir = path.join(node.dataDir, 'kraft');
      await mkdir(node.dataDir, { recursive: true });
      await writeFile(node.propsFile, properties({ ...node, voters, logDir, replicationFactor, minInsync }));
      if (existsSync(path.join(logDir, 'meta.properties'))) return;
      const format = await formatStorage(jvm, clusterId, node.propsFile);
      if (format.code !== 0) {
        throw new KafkaBrokerError(
          'INFRA_ERR_KAFKA_FORMAT_FAILED',
          `kafka StorageTool format of node ${node.id} failed (exit ${format.code}):\n${tail(format.output)}`,
        );
      }
    }),
  );

  const heapMb = options.heapMb ?? 256;
  const launch = (node: NodeState): void => {
    const fd = openSync(node.logFile, 'a');
    try {
      // Only reads the class archive (kafka-broker.ts writes it): three JVMs must not race to write it.
      node.child = spawn('/bin/sh', ['-c', WATCHDOG, 'sh', java.bin, ...brokerJvmArgs(jvm, heapMb, jvm.cds.readArgs, node.propsFile)], {
        cwd: node.dataDir,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    log(`Kafka node ${node.id} starting on 127.0.0.1:${node.port} (pid ${node.child.pid})`);
  };
  const killAll = (): void => {
    for (const n of nodes) n.child?.kill('SIGKILL');
  };
  process.on('exit', killAll);
  const brokers = nodes.map((n) => `127.0.0.1:${n.port}`);

  /** Until every node is in the cluster's metadata, as `via` (default: any node) answers it. */
  const waitForAll = async (timeoutMs: number, via?: NodeState): Promise<void> => {
    const kafka = readinessClient(via ? [`127.0.0.1:${via.port}`] : brokers);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = nodes.find((n) => n.child !== undefined && exited(n.child));
      if (dead !== undefined) {
        throw new KafkaBrokerError('INFRA_ERR_KAFKA_EXITED', `Kafka node ${dead.id} exited; log ${dead.logFile}, ${await readLogSummary(dead.logFile)}`);
      }
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length === nodes.length) return;
      } catch {
        // not all up yet
      } finally {
        await admin.disconnect().catch(noop);
      }
      if (Date.now() > deadline)
        throw new KafkaBrokerError('INFRA_ERR_KAFKA_NOT_READY', `the Kafka cluster did not show ${nodes.length} brokers within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const stopNode = async (node: NodeState, signal: NodeJS.Signals): Promise<void> => {
    const child = node.child;
    if (child === undefined || exited(child)) return;
    child.kill(signal);
    if (!(await waitForExit(child, 30_000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
  };

  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => stopNode(n, 'SIGTERM')));
    process.removeListener('exit', killAll);
  };

  const started = Date.now();
  for (const node of nodes) launch(node);
  try {
    await waitForAll(options.readyTimeoutMs ?? 120_000);
    await warmGroupCoordinator(brokers, log);
    // Right after start the nodes may not all know a new topic yet (kafkajs then fails the
    // wait for its leaders): creating only what is missing, again, is safe.
    for (let attempt = 1; options.topics !== undefined && options.topics.length > 0; attempt++) {
      try {
        await createTopics(brokers, options.topics);
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } catch (err) {
    for (const n of nodes) n.child?.kill('SIGKILL');
    process.removeListener('exit', killAll);
    throw err;
  }
  log(`Kafka cluster ready on ${brokers.join(',')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const byId = (id: number): NodeState => {
    const node = nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no Kafka node ${id}`);
    return node;
  };
  return {
    brokers,
    nodes,
    kill: (node) => stopNode(byId(node.id), 'SIGKILL'),
    async restart(node) {
      const state = byId(node.id);
      await stopNode(state, 'SIGTERM');
      launch(state);
      await waitForAll(options.readyTimeoutMs ?? 120_000, state);
    },
    async leaderOf(topic, partition) {
      const admin = new Kafka({
        clientId: 'ssf-kafka-admin',
        brokers: nodes.filter((n) => n.running).map((n) => `127.0.0.1:${n.port}`),
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      try {
        // A topic just created may not be known to every node yet.
        for (let attempt = 0; ; attempt++) {
          try {
            const meta = await admin.fetchTopicMetadata({ topics: [topic] });
            const leader = meta.topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
            if (leader !== undefined && leader >= 0) return byId(leader);
          } catch (err) {
            if (attempt >= 40) throw err;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        await admin.disconnect();
      }
    },
    stop,
  };
}
