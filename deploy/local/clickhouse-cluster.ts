/**
 * Several chDB-based ClickHouse nodes as one cluster (shards x replicas) on
 * 127.0.0.1, for the local cluster (deploy/local/cluster.ts) and its tests.
 * Each node listens on HTTP and on the native TCP port (what Distributed
 * tables use to reach the others) and reads a config file with the cluster's
 * `remote_servers` (internal_replication=false: the Distributed table writes
 * every replica itself, there is no Keeper here) and its own `macros`.
 * What chDB cannot do (Keeper, ON CLUSTER, interserver HTTP) is why the
 * tables of this cluster use the `sharded` mode (docs/operations.md).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createClient } from '@clickhouse/client';
import { join, resolve } from 'node:path';
import { startClickHouseServer } from './clickhouse-server.js';
import type { ClickHouseServer } from './clickhouse-server.js';
import { startNativeRelay } from './native-relay.js';
import type { NativeRelay } from './native-relay.js';
import { freePort } from '../../src/net/free-port.js';

export interface ClickHouseNodeSpec {
  /** 1-based, as ClickHouse's `system.clusters.shard_num`. */
  shard: number;
  /** 1-based. */
  replica: number;
  httpPort: number;
  tcpPort: number;
  dataDir: string;
}

export interface ClickHouseClusterOptions {
  /** The cluster's name in `remote_servers`. Default `ssf`. */
  name?: string;
  shards?: number;
  replicas?: number;
  /** Each node's data goes under `<dataDir>/clickhouse-<shard>-<replica>`. */
  dataDir: string;
  /** HTTP ports, shard by shard then replica by replica. Default: free ports. */
  httpPorts?: number[];
  log?: (line: string) => void;
}

export interface ClickHouseNode extends ClickHouseNodeSpec {
  readonly url: string;
  server: ClickHouseServer;
  /** Times the node died on its own and was started again (a supervisor's restart). */
  crashes: number;
}

export interface ClickHouseCluster {
  name: string;
  /** Shard by shard, replica by replica: nodes[0] is shard 1 replica 1. */
  nodes: ClickHouseNode[];
  /** kill -9 of one node (a crash); its data dir is kept, and it stays down until restart(). */
  kill(node: ClickHouseNode): Promise<void>;
  /** Starts a stopped or killed node again on its ports and data. */
  restart(node: ClickHouseNode): Promise<void>;
  stop(): Promise<void>;
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The main config of one node: ports, the cluster, its macros, the schedule
 * pools chDB leaves at 0. `portOf` gives the native port this node reaches
 * each node on (its own directly, the others through a relay).
 */
export function nodeConfig(
  name: string,
  nodes: readonly ClickHouseNodeSpec[],
  self: ClickHouseNodeSpec,
  usersFile: string,
  portOf: (node: ClickHouseNodeSpec) => number = (node) => node.tcpPort,
): string {
  const shards = [...new Set(nodes.map((n) => n.shard))].sort((a, b) => a - b);
  const remote = shards
    .map((shard) => {
      const replicas = nodes
        .filter((n) => n.shard === shard)
        .map((n) => `        <replica><host>127.0.0.1</host><port>${portOf(n)}</port></replica>`)
        .join('\n');
      return `      <shard>\n        <internal_replication>false</internal_replication>\n${replicas}\n      </shard>`;
    })
    .join('\n');
  return `<clickhouse>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${self.httpPort}</http_port>
  <tcp_port>${self.tcpPort}</tcp_port>
  <!-- chDB leaves these at 0: asynchronous Distributed inserts would never leave system.distribution_queue. -->
  <background_schedule_pool_size>32</background_schedule_pool_size>
  <background_distributed_schedule_pool_size>8</background_distributed_schedule_pool_size>
  <remote_servers>
    <${name}>
${remote}
    </${name}>
  </remote_servers>
  <macros>
    <cluster>${name}</cluster>
    <shard>${self.shard}</shard>
    <replica>r${self.replica}</replica>
  </macros>
  <user_directories>
    <users_xml><path>${xml(usersFile)}</path></users_xml>
  </user_directories>
</clickhouse>
`;
}

/**
 * The `default` user of every node. A replica that was down gets its queued
 * rows after the Distributed sender's backoff, capped here at 2 s instead of
 * ClickHouse's 30 s so a node that comes back catches up within seconds.
 */
const USERS = `<clickhouse>
  <profiles>
    <default>
      <distributed_background_insert_max_sleep_time_ms>2000</distributed_background_insert_max_sleep_time_ms>
      <!-- A chDB node aborts (SIGABRT) when a native connection fails during its handshake
           (a reset or a close before the Hello is complete): reproduced with a raw socket. So no
           node may give up on a handshake it started: no hedged requests (they drop the slower
           replica's connection once another answers, 50 ms by default), and connect and
           handshake timeouts far above what a loaded machine takes. -->
      <use_hedged_requests>0</use_hedged_requests>
      <connect_timeout_with_failover_ms>10000</connect_timeout_with_failover_ms>
      <handshake_timeout_ms>60000</handshake_timeout_ms>
      <!-- It also aborts when the connection is reset while it reads the query: a LIMIT met by
           the initiator's own shard (the log search's "more" probe, SELECT ... LIMIT 1 on a
           Distributed table) cancels the remote shards' queries while they are still being sent.
           Reproduced with SELECT * FROM cluster('ssf', system.numbers) LIMIT 3: 2 to 7 aborts in
           30 queries; with every shard read over TCP (the local one too), none in 150 at load 2. -->
      <prefer_localhost_replica>0</prefer_localhost_replica>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <access_management>1</access_management>
    </default>
  </users>
  <quotas><default/></quotas>
</clickhouse>
`;

/**
 * Starts every node (in parallel: each is ready in well under a second).
 * Ports are picked free and then bound by the node a moment later; another
 * socket (a client's ephemeral port, one of the cluster's own relays, a
 * broker starting beside it) can take one in between: the node's start finds
 * it taken (INFRA_ERR_PORT_IN_USE), or the node exits with "Address already
 * in use". Then the whole cluster is started again on new ports (at most
 * three times).
 */
export async function startClickHouseCluster(options: ClickHouseClusterOptions): Promise<ClickHouseCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClickHouseClusterOnce(options);
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
      const portTaken = code === 'INFRA_ERR_PORT_IN_USE' || (err instanceof Error && err.message.includes('Address already in use'));
      if (attempt >= 3 || !portTaken) throw err;
      options.log?.(`a port was taken before its ClickHouse node bound it; starting the cluster again on new ports (attempt ${attempt + 1})`);
    }
  }
}

async function startClickHouseClusterOnce(options: ClickHouseClusterOptions): Promise<ClickHouseCluster> {
  const name = options.name ?? 'ssf';
  const shards = options.shards ?? 2;
  const replicas = options.replicas ?? 2;
  const log = options.log ?? ((): void => {});
  const root = resolve(options.dataDir);
  const specs: ClickHouseNodeSpec[] = [];
  for (let shard = 1; shard <= shards; shard++) {
    for (let replica = 1; replica <= replicas; replica++) {
      const given = options.httpPorts?.[specs.length];
      specs.push({
        shard,
        replica,
        httpPort: given ?? (await freePort()),
        tcpPort: await freePort(),
        dataDir: join(root, `clickhouse-${shard}-${replica}`),
      });
    }
  }
  const usersFile = join(root, 'clickhouse-users.xml');
  await mkdir(root, { recursive: true });
  await writeFile(usersFile, USERS);
  // By shard and replica, not by object: launch() gets the spec at the start and the node (a copy) on a restart.
  const configs = new Map<string, string>();
  const key = (n: ClickHouseNodeSpec): string => `${n.shard}-${n.replica}`;
  // Nodes whose process is not running (set on exit, cleared once started again).
  const down = new Set<string>();
  // Every node reaches every other through a relay of its own (native-relay.ts): a node
  // killed -9 in the middle of a send would otherwise make chDB abort on the other end.
  const relays: NativeRelay[] = [];
  for (const spec of specs) {
    await mkdir(spec.dataDir, { recursive: true });
    const relayPorts = new Map<string, number>();
    for (const target of specs) {
      if (target === spec) continue;
      const relay = await startNativeRelay(target.tcpPort, () => down.has(key(spec)));
      relays.push(relay);
      relayPorts.set(key(target), relay.port);
    }
    const file = join(spec.dataDir, 'node-config.xml');
    await writeFile(
      file,
      nodeConfig(name, specs, spec, usersFile, (n) => relayPorts.get(key(n)) ?? n.tcpPort),
    );
    configs.set(key(spec), file);
  }
  const launch = async (spec: ClickHouseNodeSpec): Promise<ClickHouseServer> => {
    const configFile = configs.get(key(spec));
    if (configFile === undefined) throw new Error(`no config file for ClickHouse node ${key(spec)}`);
    const server = await startClickHouseServer({
      port: spec.httpPort,
      dataDir: spec.dataDir,
      configFile,
      listenTcp: true,
      // Errors only: a node that dies says why in its log.
      logLevel: 'error',
      log: (line) => log(`[clickhouse ${spec.shard}-${spec.replica}] ${line}`),
    });
    void server.exited.then(() => down.add(key(spec)));
    // chDB answers /ping before it has read `remote_servers`: ready means the cluster is known.
    const client = createClient({ url: `http://127.0.0.1:${spec.httpPort}` });
    try {
      for (let i = 0; ; i++) {
        const known = await client
          .query({ query: 'SELECT count() AS n FROM system.clusters WHERE cluster = {c:String}', query_params: { c: name }, format: 'JSONEachRow' })
          .then((r) => r.json<{ n: string | number }>())
          .then((rows) => Number(rows[0]?.n ?? 0) > 0)
          .catch(() => false);
        if (known) break;
        if (i >= 300) throw new Error(`ClickHouse node ${spec.shard}-${spec.replica} does not know cluster ${name} after 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch (err) {
      await server.stop();
      throw err;
    } finally {
      await client.close();
    }
    down.delete(key(spec));
    return server;
  };
  const started = await Promise.allSettled(specs.map(launch));
  const nodes: ClickHouseNode[] = [];
  // Nodes stopped or killed on purpose; any other exit is a crash, and the node is started
  // again, as a service manager would (chDB nodes have been seen to abort under load here).
  const held = new Set<ClickHouseNode>();
  let stopping = false;
  const supervise = (node: ClickHouseNode): void => {
    const server = node.server;
    void server.exited.then(async (how) => {
      if (stopping || held.has(node) || node.server !== server) return;
      node.crashes++;
      log(`[clickhouse ${node.shard}-${node.replica}] died (code ${how.code}, signal ${how.signal}); starting it again`);
      for (let attempt = 1; !stopping && !held.has(node); attempt++) {
        try {
          node.server = await launch(node);
          supervise(node);
          return;
        } catch (err) {
          if (attempt >= 5) {
            log(`[clickhouse ${node.shard}-${node.replica}] does not start again: ${err instanceof Error ? err.message : String(err)}`);
            return;
          }
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    });
  };
  started.forEach((result, i) => {
    const spec = specs[i] as ClickHouseNodeSpec;
    if (result.status === 'fulfilled') nodes.push({ ...spec, url: `http://127.0.0.1:${spec.httpPort}`, server: result.value, crashes: 0 });
  });
  const stop = async (): Promise<void> => {
    stopping = true;
    await Promise.allSettled(nodes.map((n) => n.server.stop()));
    await Promise.allSettled(relays.map((r) => r.close()));
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  for (const node of nodes) supervise(node);
  return {
    name,
    nodes,
    async kill(node) {
      held.add(node);
      node.server.kill('SIGKILL');
      await node.server.exited;
    },
    async restart(node) {
      held.add(node);
      await node.server.stop();
      node.server = await launch(node);
      held.delete(node);
      supervise(node);
    },
    stop,
  };
}
