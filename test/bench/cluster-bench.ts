import { startCluster } from '../../deploy/local/cluster.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { counts } from '../ingest/materializer/helpers.js';
import { AUTH_TOKENS, nodeClient, runLoad } from '../cluster/cluster-load.js';
import type { Tenant } from '../cluster/cluster-load.js';
import { printNote, printTable } from './measure.js';

/**
 * `npm run bench -- cluster`: the local cluster (deploy/local/cluster.ts)
 * end to end, from the first POST to the last row readable through the
 * Distributed tables: with 1 gateway and 1 materializer, then 2 and 2, as a
 * ratio (every process shares the machine's cores, so 2x the processes is
 * not 2x the CPU). Then the failover stall: the produce latency (POST to
 * acknowledgement) before and right after a kill -9 of the leader of
 * partition 0.
 */

const PER_BATCH = 200;

async function endToEnd(ch: ClickHouse, tenant: Tenant, gateways: string[], batches: number): Promise<number> {
  const started = performance.now();
  const load = await runLoad({ gateways, tenant, batches, perBatch: PER_BATCH, concurrency: 8 });
  const deadline = Date.now() + 600_000;
  for (;;) {
    const c = await counts(ch, tenant);
    if (c.uniqSpans >= load.expected.spans && c.uniqLogs >= load.expected.logs && c.uniqSamples >= load.expected.samples) break;
    if (Date.now() > deadline) throw new Error(`cluster bench: ${tenant} incomplete after 10 minutes: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return (batches * PER_BATCH) / ((performance.now() - started) / 1000);
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN;
}

export async function clusterBench(): Promise<void> {
  console.log('\n## cluster: end to end on the local cluster (3 Kafka, 4 ClickHouse, gateways, materializers)');
  const cluster = await startCluster({
    env: {
      SSF_GATEWAY_AUTH_TOKENS: AUTH_TOKENS,
      SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
      SSF_MATERIALIZER_BATCH_MS: '300',
      // Every sample of the load has a tag set of its own (the rows are counted by it): past the
      // guard's limit they would fold into the overflow series and never all be found.
      SSF_GATEWAY_MAX_TAG_SETS_PER_METRIC: '10000000',
    },
  });
  const ch = await nodeClient((cluster.clickhouse.nodes[1] as { url: string }).url);
  try {
    const batches = Number(process.env['BENCH_CLUSTER_BATCHES'] ?? 150);
    const [g1, g2] = cluster.gateways.map((g) => g.url) as [string, string];
    // 1 gateway, 1 materializer: the second leaves the group first.
    const second = cluster.materializers[1];
    await second?.stop();
    const one = await endToEnd(ch, 'bench1', [g1], batches);
    if (second) await cluster.restart(second);
    const two = await endToEnd(ch, 'bench2', [g1, g2], batches);
    printTable('cluster: events per second end to end (POST to readable through the Distributed tables)', [
      { setup: '1 gateway, 1 materializer', 'events/s': Math.round(one), ratio: 1 },
      { setup: '2 gateways, 2 materializers', 'events/s': Math.round(two), ratio: Number((two / one).toFixed(2)) },
    ]);

    // Failover: produce latency around a kill -9 of partition 0's leader.
    const leader = await cluster.kafka.leaderOf('ssf.spans', 0);
    let killedAt = 0;
    const load = await runLoad({
      gateways: [g1, g2],
      tenant: 'failover',
      batches: 300,
      perBatch: 50,
      concurrency: 4,
      faultAfter: 100,
      during: async () => {
        killedAt = Date.now();
        await cluster.kafka.kill(leader);
      },
    });
    const before = load.latencies.filter((l) => l.at < killedAt).map((l) => l.ms);
    const around = load.latencies.filter((l) => l.at >= killedAt && l.at < killedAt + 15_000).map((l) => l.ms);
    printTable('cluster: produce latency (POST to acknowledgement) around a kill -9 of the partition leader', [
      { when: 'before the kill', 'p99 ms': Math.round(p99(before)), 'max ms': Math.round(Math.max(...before)), requests: before.length },
      { when: '15 s after the kill', 'p99 ms': Math.round(p99(around)), 'max ms': Math.round(Math.max(...around)), requests: around.length },
    ]);
    printNote(`cluster failover: ${load.retried} requests were retried by the client (to the other gateway)`);
    await cluster.kafka.restart(leader);
  } finally {
    await ch.close();
    await cluster.stop();
  }
}
