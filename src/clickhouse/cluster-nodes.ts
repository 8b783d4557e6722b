import type { ClickHouse } from './create-client.js';

export interface ClusterNode {
  shard: number;
  replica: number;
  /** `host:port` of the node's HTTP interface. */
  hostPort: string;
}

const HOST = /^[0-9A-Za-z.:_-]+$/;

/**
 * Every node of `ch.cluster`, shard by shard, replica by replica, found from
 * the connected node's `system.clusters` (native TCP addresses) and each
 * node's own answer to `getServerPort('http_port')` over that address: the
 * sharded mode applies its DDL node by node, over HTTP, and needs no list of
 * URLs in the configuration.
 */
export async function clusterNodes(ch: ClickHouse): Promise<ClusterNode[]> {
  const members = await (
    await ch.client.query({
      query: 'SELECT shard_num, replica_num, host_address, port FROM system.clusters WHERE cluster = {cluster:String} ORDER BY shard_num, replica_num',
      query_params: { cluster: ch.cluster },
      format: 'JSONEachRow',
    })
  ).json<{ shard_num: number; replica_num: number; host_address: string; port: number }>();
  if (members.length === 0) throw new Error(`cluster "${ch.cluster}" is not in system.clusters of the configured ClickHouse (clickhouse.url)`);
  const nodes: ClusterNode[] = [];
  for (const m of members) {
    // remote() takes its address as a literal: only what an address is made of gets in.
    if (!HOST.test(m.host_address) || !Number.isInteger(Number(m.port))) throw new Error(`system.clusters has an odd address: ${m.host_address}:${m.port}`);
    const host = m.host_address.includes(':') ? `[${m.host_address}]` : m.host_address;
    const [answer] = await (
      await ch.client.query({
        query: `SELECT http_port FROM remote('${host}:${Number(m.port)}', view(SELECT getServerPort('http_port') AS http_port))`,
        format: 'JSONEachRow',
      })
    ).json<{ http_port: number }>();
    if (answer === undefined) throw new Error(`node ${host}:${m.port} of cluster "${ch.cluster}" did not say its HTTP port`);
    nodes.push({ shard: Number(m.shard_num), replica: Number(m.replica_num), hostPort: `${host}:${Number(answer.http_port)}` });
  }
  return nodes;
}
