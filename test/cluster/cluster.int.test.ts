import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ssfCommand, startCluster } from '../../deploy/local/cluster.js';
import type { LocalCluster } from '../../deploy/local/cluster.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { startQueryApi } from '../../cli/query-api-command.js';
import { createEventBatch, insertBatch } from '../../src/clickhouse/event-writer.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { emptyExpected, exactCounts, makeEvent, NOW } from '../ingest/materializer/helpers.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { AUTH_TOKENS, nodeClient, runLoad, settleTenant } from './cluster-load.js';

/**
 * The local cluster (deploy/local/cluster.ts: 3 Kafka nodes RF=3
 * min.insync=2, 4 ClickHouse nodes as 2 shards x 2 replicas in the sharded
 * mode, 2 gateways, 2 materializers, the query API), started once for this
 * file, and the faults the issue asks to survive. Each test writes as a
 * tenant of its own and ends with exact counts per table of that tenant:
 * every acknowledged event exactly once, rollups included, nothing else.
 *
 * What these tests found (docs/operations.md): chDB nodes that aborted on a
 * failed native handshake, kafkajs losing the records of a send that spans
 * several leaders when it retries, a consumer that stopped fetching after a
 * failover, and a log shard key that depended on the gateway's received time.
 */

let cluster: LocalCluster;
let ch: ClickHouse;
const root = join(import.meta.dirname, '..', '..');

/** Runs `ssf <args>` as a process of its own (the built CLI, as the cluster's roles). */
async function ssf(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const [bin = process.execPath, ...rest] = ssfCommand();
  const child = spawn(bin, [...rest, ...args], {
    // Only the given SSF_* settings: the test run's own (SSF_TEST_CLUSTER, ...) are not the command's.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SSF_'))), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

const gatewayUrls = (): string[] => cluster.gateways.map((g) => g.url);
/** The versions of the migration files: a fresh database gets them all. */
const VERSIONS = readdirSync(join(root, 'schema', 'clickhouse'))
  .filter((f) => /^\d{4}_.*\.sql$/.test(f))
  .map((f) => Number(f.slice(0, 4)))
  .sort((a, b) => a - b);

describe('the local cluster', () => {
  beforeAll(async () => {
    // The roles run the built CLI: build it from these sources.
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    cluster = await startCluster({
      // SSF_TEST_CLUSTER_DATA keeps the cluster's logs and data after the run (for a post-mortem),
      // each run in a new folder under it: a run on the topics and tables of an earlier one
      // would count that run's unconsumed records as its own.
      ...(process.env['SSF_TEST_CLUSTER_DATA']
        ? { dataDir: join(process.env['SSF_TEST_CLUSTER_DATA'], `run-${new Date().toISOString().replace(/[:.]/g, '-')}`) }
        : {}),
      env: {
        SSF_GATEWAY_AUTH_TOKENS: AUTH_TOKENS,
        SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
        SSF_KAFKA_LINGER_MS: '2',
        SSF_MATERIALIZER_BATCH_MS: '300',
      },
      log: (line) => process.stderr.write(`[cluster] ${line}\n`),
    });
    ch = await nodeClient((cluster.clickhouse.nodes[1] as { url: string }).url);
  }, 600_000);

  afterAll(async () => {
    for (const n of cluster?.clickhouse.nodes ?? []) {
      if (n.crashes > 0)
        process.stderr.write(`[cluster] ClickHouse node ${n.shard}-${n.replica} died on its own ${n.crashes} time(s); see ${n.server.logFile}\n`);
    }
    await ch?.close();
    await cluster?.stop();
  }, 120_000);

  it('migrates in the sharded mode from empty and from version 5, two processes at once', { timeout: 300_000 }, async () => {
    const nodes = cluster.clickhouse.nodes;
    const env = (database: string, node: number): Record<string, string> => ({
      ...cluster.env,
      SSF_CLICKHOUSE_URL: (nodes[node] as { url: string }).url,
      SSF_CLICKHOUSE_DATABASE: database,
    });
    // From empty: two `ssf migrate` processes on different nodes at once.
    const fresh = await Promise.all([ssf(['migrate'], env('mig_fresh', 0)), ssf(['migrate'], env('mig_fresh', 3))]);
    for (const r of fresh) expect(r.code, r.output).toBe(0);
    expect(fresh.map((r) => Number(/^(\d+) applied/m.exec(r.output)?.[1])).sort()).toEqual([0, VERSIONS.length]);

    // From version 5 with rows in the rollups: 0006's step swaps the tables on every node, keeping each row.
    const old = await nodeClient((nodes[2] as { url: string }).url, 'mig_v5');
    const config = loadConfig({ env: { ...env('mig_v5', 2) } });
    await migrate({ ...old, cluster: config.clickhouse.cluster, clusterMode: 'sharded' }, config, () => {}, { until: 5 });
    await old.client.command({
      query: `INSERT INTO mig_v5.samples (tenant, name, type, timestamp, value, sample_rate, tags, service)
        SELECT 'mig', 'm', 'counter', now64(9) - toIntervalSecond(number % 7200), 1, 1, map('k', toString(number % 50)), 'svc'
        FROM numbers(10000) SETTINGS distributed_foreground_insert = 1`,
    });
    // And log lines: 0010's step moves them on every node, 0020's copies them into the new key.
    await old.client.command({
      query: `INSERT INTO mig_v5.logs (tenant, service, timestamp, severity, severity_number, body, trace_id, span_id, attributes)
        SELECT 'mig', concat('svc', toString(number % 3)), now64(9) - toIntervalSecond(number % 90000), 'info', 9,
               concat('line ', toString(number)), toInt64(cityHash64(number)), toInt64(number), map('k', toString(number % 5))
        FROM numbers(20000) SETTINGS distributed_foreground_insert = 1`,
    });
    const logLines = async (): Promise<string> =>
      (
        await (
          await old.client.query({
            query: 'SELECT count() AS n, toString(sum(cityHash64(service, timestamp, body, span_id))) AS h FROM mig_v5.logs',
            format: 'JSONEachRow',
          })
        ).json<{ n: string; h: string }>()
      ).map((r) => `${r.n} ${r.h}`)[0] ?? '';
    const linesBefore = await logLines();
    expect(linesBefore).toMatch(/^20000 /);
    const rollup = async (table: string): Promise<number> =>
      Number((await (await old.client.query({ query: `SELECT sum(count) AS c FROM mig_v5.${table}`, format: 'JSONEachRow' })).json<{ c: number }>())[0]?.c);
    expect(await rollup('metrics_1m')).toBe(10_000);
    const upgrade = await Promise.all([ssf(['migrate'], env('mig_v5', 1)), ssf(['migrate'], env('mig_v5', 2))]);
    for (const r of upgrade) expect(r.code, r.output).toBe(0);
    expect(upgrade.map((r) => Number(/^(\d+) applied/m.exec(r.output)?.[1])).sort()).toEqual([0, VERSIONS.filter((v) => v > 5).length]);
    expect(await rollup('metrics_1m')).toBe(10_000);
    expect(await rollup('metrics_1h')).toBe(10_000);
    expect(await logLines()).toBe(linesBefore);

    // Every node has the same tables, the swapped rollups with 256-row granules, one ledger (on the first node) with each version once.
    for (const database of ['mig_fresh', 'mig_v5']) {
      const perNode = await Promise.all(
        nodes.map(async (n) => {
          const c = await nodeClient(n.url, database);
          try {
            const tables = await (
              await c.client.query({
                query: `SELECT name, engine, create_table_query LIKE '%index_granularity = 256%' AS g256,
                               create_table_query LIKE '%PRIMARY KEY (tenant, toStartOfHour(timestamp), service)%' AS hourKey FROM system.tables WHERE database = {d:String} AND name NOT LIKE 'schema_migrations%' ORDER BY name`,
                query_params: { d: database },
                format: 'JSONEachRow',
              })
            ).json<{ name: string; engine: string; g256: number; hourKey: number }>();
            return tables;
          } finally {
            await c.close();
          }
        }),
      );
      for (const tables of perNode) expect(tables).toEqual(perNode[0]);
      const names = (perNode[0] ?? []).map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['spans', 'spans_local', 'metrics_1m', 'metrics_1m_local', 'metrics_1h_local', 'trace_index_mv']));
      expect(names).not.toContain('metrics_1m_0006_local');
      expect(names.filter((n) => n.includes('_0020'))).toEqual([]);
      expect(perNode[0]?.find((t) => t.name === 'logs_local')?.hourKey).toBe(1);
      expect(perNode[0]?.find((t) => t.name === 'spans')?.engine).toBe('Distributed');
      expect(perNode[0]?.find((t) => t.name === 'metrics_1m_local')?.g256).toBe(1);
      const first = await nodeClient((nodes[0] as { url: string }).url, database);
      const ledger = await (
        await first.client.query({
          query: `SELECT version, count() AS n FROM ${database}.schema_migrations GROUP BY version ORDER BY version`,
          format: 'JSONEachRow',
        })
      ).json<{ version: number; n: string }>();
      await first.close();
      expect(ledger.map((r) => [r.version, Number(r.n)])).toEqual(VERSIONS.map((v) => [v, 1]));
    }
    await old.close();
  });

  it('answers traces, logs and metrics on the cluster as on one node, for the same data', { timeout: 180_000 }, async () => {
    // The same rows into the cluster (through a Distributed insert on one node) and into one server.
    const expected = emptyExpected();
    const events = Array.from({ length: 400 }, (_, i) => ({ ...makeEvent(i, expected), tenant: 'same' }));
    const database = uniqueDatabase('same');
    const single = await nodeClient(clickhouseUrl(), database);
    await migrate(single, loadConfig({ env: {} }));
    const writeTo = async (target: ClickHouse): Promise<void> => {
      const batch = createEventBatch(target, 'same');
      for (const e of events) batch.append(e);
      await insertBatch(target, batch, `same-${database}`);
    };
    const writer = await nodeClient((cluster.clickhouse.nodes[2] as { url: string }).url);
    await Promise.all([writeTo(single), writeTo(writer)]);
    await writer.close();
    await settleTenant(ch, 'same', expected, 60_000);
    const local = await startQueryApi(
      loadConfig({
        env: {
          SSF_CLICKHOUSE_URL: clickhouseUrl(),
          SSF_CLICKHOUSE_DATABASE: database,
          SSF_QUERY_LISTEN: '127.0.0.1:0',
          SSF_GATEWAY_AUTH_TOKENS: AUTH_TOKENS,
          SSF_LOG_LEVEL: 'warn',
        },
      }),
    );
    try {
      const from = Number(NOW / 1_000_000n) - 60_000;
      const to = Number(NOW / 1_000_000n) + 3_600_000;
      const range = `from=${from}&to=${to}`;
      const paths = [
        ...[500_000, 500_013, 500_079].map((t) => `/v1/traces/${t}`),
        `/v1/traces?${range}&service=shop&limit=20`,
        `/v1/logs?${range}&limit=50`,
        `/v1/logs?${range}&q=log&service=shop&limit=20&order=asc`,
        `/v1/metrics/query?${range}&name=mat.hits&step=1m`,
        `/v1/metrics/query?${range}&name=mat.hits&step=1h&agg=count`,
        `/v1/metrics/query?${range}&name=mat.latency&step=1m&agg=p99`,
        `/v1/metrics/query?${range}&name=mat.depth&step=10s&agg=max`,
        `/v1/metrics/query?${range}&name=ssf.span.duration&step=1m&agg=count&group_by=name`,
        `/v1/services?${range}`,
      ];
      /** The answer without what measures the query itself. */
      const answer = async (base: string, path: string): Promise<unknown> => {
        const res = await fetch(`${base}${path}`, { headers: { authorization: 'Bearer tok-same' } });
        const body = (await res.json()) as Record<string, unknown>;
        for (const k of ['took_ms', 'elapsed_ms', 'stats', 'statistics']) delete body[k];
        return { status: res.status, body };
      };
      let compared = 0;
      for (const path of paths) {
        const [one, many] = await Promise.all([answer(local.url, path), answer(cluster.queryApi.url, path)]);
        expect(many, path).toEqual(one);
        expect((one as { status: number }).status, `${path}: ${JSON.stringify(one).slice(0, 300)}`).toBe(200);
        compared++;
      }
      expect(compared).toBe(paths.length);
    } finally {
      await local.close();
      await single.close();
    }
  });

  it('loses and doubles nothing when a materializer is killed -9 during a rebalance', { timeout: 300_000 }, async () => {
    let victim = cluster.materializers[0];
    const load = await runLoad({
      gateways: gatewayUrls(),
      tenant: 'rebalance',
      batches: 120,
      perBatch: 50,
      faultAfter: 30,
      during: async () => {
        // A third member joins (the group rebalances); while it does, the first one dies.
        const joining = cluster.addMaterializer();
        await new Promise((r) => setTimeout(r, 1_500));
        victim?.kill('SIGKILL');
        await joining;
      },
    });
    const counts = await settleTenant(ch, 'rebalance', load.expected, 120_000);
    expect(counts).toEqual(exactCounts(load.expected));
    if (victim) victim = await cluster.restart(victim);
  });

  it('loses and doubles nothing when the partition leader broker is killed -9 under load', { timeout: 300_000 }, async () => {
    const leader = await cluster.kafka.leaderOf('ssf.spans', 0);
    const load = await runLoad({
      gateways: gatewayUrls(),
      tenant: 'brokerkill',
      batches: 200,
      perBatch: 50,
      faultAfter: 40,
      during: async () => {
        await cluster.kafka.kill(leader);
        await new Promise((r) => setTimeout(r, 8_000));
        await cluster.kafka.restart(leader);
      },
    });
    const counts = await settleTenant(ch, 'brokerkill', load.expected, 120_000);
    // No loss first (distinct rows), then no doubles.
    expect({ spans: counts.uniqSpans, logs: counts.uniqLogs, samples: counts.uniqSamples }).toEqual({
      spans: load.expected.spans,
      logs: load.expected.logs,
      samples: load.expected.samples,
    });
    expect(counts).toEqual(exactCounts(load.expected));
  });

  it('writes a request retried with the same Idempotency-Key on the other gateway once', { timeout: 120_000 }, async () => {
    // Each request goes to one gateway, then again (same key, same body) to the other.
    const key = (b: number): Record<string, string> => ({ 'idempotency-key': `idem-${process.pid}-${b}` });
    const first = await runLoad({ gateways: [gatewayUrls()[0] as string], tenant: 'idem', batches: 10, perBatch: 20, headers: key });
    const retry = await runLoad({ gateways: [gatewayUrls()[1] as string], tenant: 'idem', batches: 10, perBatch: 20, headers: key });
    expect(retry.expected).toEqual(first.expected);
    const counts = await settleTenant(ch, 'idem', first.expected, 60_000);
    expect(counts).toEqual(exactCounts(first.expected));
  });
  // Last: a node that was killed leaves its peers' Distributed queues to drain.
  it('loses and doubles nothing when a ClickHouse node is killed -9 and comes back', { timeout: 300_000 }, async () => {
    // shard 1 replica 1: materializer-1 writes through it; the query API reads through shard 1 replica 2.
    const node = cluster.clickhouse.nodes[0];
    if (node === undefined) throw new Error('no node');
    const load = await runLoad({
      gateways: gatewayUrls(),
      tenant: 'chkill',
      batches: 120,
      perBatch: 50,
      faultAfter: 30,
      during: async () => {
        await cluster.clickhouse.kill(node);
        await new Promise((r) => setTimeout(r, 5_000));
        await cluster.clickhouse.restart(node);
      },
    });
    const counts = await settleTenant(ch, 'chkill', load.expected, 120_000);
    expect(counts).toEqual(exactCounts(load.expected));
    // Both replicas of each shard hold the same rows once the queues drained, in every table:
    // reads see one replica per shard, and a double on the other (the killed one) would hide.
    const replicaTables: Record<string, [string, string]> = {
      spans: ['count()', 'spans_local'],
      logs: ['count()', 'logs_local'],
      samples: ['count()', 'samples_local'],
      traceIndexSpans: ['sum(spans)', 'trace_index_local'],
      rollupCount: ['sum(count)', 'metrics_1m_local'],
    };
    const perReplica: Array<{ table: string; shard: string; replica: string; n: string }> = [];
    for (const [table, [aggregate, local]] of Object.entries(replicaTables)) {
      const rows = await (
        await ch.client.query({
          query: `SELECT hostName() AS h, getMacro('shard') AS shard, getMacro('replica') AS replica, ${aggregate} AS n FROM clusterAllReplicas({c:String}, ssf.${local}) WHERE tenant = 'chkill' GROUP BY h, shard, replica ORDER BY shard, replica`,
          query_params: { c: cluster.clickhouse.name },
          format: 'JSONEachRow',
        })
      ).json<{ shard: string; replica: string; n: string }>();
      perReplica.push(...rows.map((r) => ({ table, ...r })));
    }
    const byShard = new Map<string, number[]>();
    for (const r of perReplica) byShard.set(`${r.table} shard ${r.shard}`, [...(byShard.get(`${r.table} shard ${r.shard}`) ?? []), Number(r.n)]);
    expect(byShard.size).toBe(Object.keys(replicaTables).length * 2);
    for (const [shard, counts] of byShard) expect(counts.length === 2 && counts[0] === counts[1], `replicas of ${shard}: ${counts}`).toBe(true);
  });
});
