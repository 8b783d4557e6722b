import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../ingest/gateway/gateway.js';
import type { Gateway } from '../../ingest/gateway/gateway.js';
import { KafkaThreadSink } from '../../ingest/sink/kafka-thread-sink.js';
import { StatsdSampleEncoder } from '../../ingest/statsd/statsd-sample-bytes.js';
import { statsdToSpans } from '../../ingest/statsd/statsd-spans.js';
import { loadConfig } from '../../src/config/load-config.js';
import { kafkaBrokers } from '../setup/services.js';
import { seededRandom } from '../setup/random.js';
import { startRig, waitFor } from './materializer/helpers.js';
import type { MaterializerRig } from './materializer/helpers.js';
import { startAllInOne } from './all-in-one.js';

// statsd aggregation end to end: the same datagrams, over real UDP, to a
// gateway in per-sample mode (tenant "per") and one aggregating (tenant
// "agg"), both into one Kafka topic, through the materializer into
// ClickHouse. The rollups of the two tenants must agree: counter sums,
// histogram counts and sums, gauge lasts, set uniques and status exactly,
// histogram percentiles within the documented bound; `samples` holds far
// fewer rows for "agg", stamped at its interval's start.

const INTERVAL_MS = 60_000;

async function startGateway(topic: string, tenant: string, env: Record<string, string>): Promise<{ gateway: Gateway; statsd: string; http: string }> {
  const config = loadConfig({
    env: {
      SSF_KAFKA_BROKERS: kafkaBrokers().join(','),
      SSF_KAFKA_SPANS_TOPIC: topic,
      SSF_KAFKA_LINGER_MS: '2',
      SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_HTTP_LISTEN: '',
      SSF_GATEWAY_OTLP_GRPC_LISTEN: '',
      SSF_GATEWAY_UDP_LISTEN: '',
      SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
      SSF_GATEWAY_STATSD_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_LISTENER_TENANTS: `statsd=${tenant}`,
      ...env,
    },
  });
  const sink = new KafkaThreadSink(config.kafka);
  await sink.connect();
  const gateway = createGateway(config, sink, { parseStatsd: statsdToSpans, statsdFastPath: new StatsdSampleEncoder(), logLevel: false });
  const where = await gateway.listen();
  return { gateway, statsd: where['statsd'] as string, http: where['http'] as string };
}

async function send(address: string, datagrams: Buffer[]): Promise<void> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const socket = createSocket('udp4');
  // One at a time: nothing is lost on loopback at this pace.
  for (const d of datagrams) await new Promise<void>((resolve, reject) => socket.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

/** The datagrams: counters with rates, gauges, sets, timers (one series thinned), events, service checks, bad lines, a |T line. */
function datagrams(): { packets: Buffer[]; lines: number; refused: number } {
  const rand = seededRandom(11);
  const packets: Buffer[] = [];
  let lines = 0;
  for (let d = 0; d < 100; d++) {
    const l: string[] = [];
    for (let i = 0; i < 30; i++) l.push(`api.latency:${(10 + 90 * rand()).toFixed(2)}|ms|#route:/x`); // 3,000 lines: thinned to 1,024
    l.push(`api.requests:1|c|#route:/x,code:200`, `api.requests:3|c|@0.25|#code:500,route:/x`, `api.bytes:${d * 1000}|c`);
    l.push(`queue.depth:${d}|g|#q:a`, `users:u${d % 37}|s`, `size:${d % 7}|h`, `dist:${d}.5|d|#k:v`);
    lines += l.length;
    packets.push(Buffer.from(l.join('\n')));
  }
  const other = ['_e{5,4}:title|text|#a:b', '_sc|db.check|1|#a:b', `own.time:5|c|T${Math.floor(Date.now() / 1000)}`, 'broken line', 'bad:x|c'];
  packets.push(Buffer.from(other.join('\n')));
  return { packets, lines: lines + 3, refused: 2 };
}

interface Rollup {
  name: string;
  type: string;
  tags: string;
  count: number;
  sum: number;
  last: number;
  uniq: number;
  last_status: number;
  q: number[];
}

async function rollups(rig: MaterializerRig, tenant: string): Promise<Map<string, Rollup>> {
  const db = rig.ch.database;
  const rows = await (
    await rig.ch.client.query({
      query: `SELECT name, type, toJSONString(mapSort(any(tags))) AS tags, sum(count) AS count, sum(sum) AS sum, argMaxMerge(last) AS last,
                     uniqHLL12Merge(uniq) AS uniq, argMaxMerge(last_status) AS last_status,
                     quantilesDDMerge(0.01, 0.5, 0.9, 0.99)(quantiles) AS q
              FROM ${db}.metrics_1m WHERE tenant = {t:String} GROUP BY name, type, tags_hash`,
      query_params: { t: tenant },
      format: 'JSONEachRow',
    })
  ).json<Rollup>();
  return new Map(rows.map((r) => [`${r.name} ${r.type} ${r.tags}`, { ...r, count: Number(r.count), sum: Number(r.sum), last: Number(r.last) }]));
}

async function sampleRows(rig: MaterializerRig, tenant: string): Promise<{ rows: number; offInterval: number }> {
  const [row] = await (
    await rig.ch.client.query({
      query: `SELECT count() AS rows, countIf(type != 'status' AND toUnixTimestamp64Milli(timestamp) % {i:UInt64} != 0 AND name != 'own.time') AS offInterval
              FROM ${rig.ch.database}.samples WHERE tenant = {t:String}`,
      query_params: { t: tenant, i: INTERVAL_MS },
      format: 'JSONEachRow',
    })
  ).json<{ rows: string; offInterval: string }>();
  return { rows: Number(row?.rows), offInterval: Number(row?.offInterval) };
}

describe('statsd aggregation through the gateway, Kafka, the materializer and ClickHouse', () => {
  let rig: MaterializerRig;
  let perSample: Awaited<ReturnType<typeof startGateway>>;
  let aggregating: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    rig = await startRig({ name: 'statsdagg', database: 'statsdagg', batchRows: 1000, batchMs: 100 });
    perSample = await startGateway(rig.topic, 'per', {});
    aggregating = await startGateway(rig.topic, 'agg', { SSF_GATEWAY_STATSD_AGGREGATE: 'true', SSF_GATEWAY_STATSD_FLUSH_INTERVAL_MS: String(INTERVAL_MS) });
  }, 120_000);

  afterAll(async () => {
    await perSample?.gateway.close();
    await aggregating?.gateway.close();
    await rig?.close();
  });

  it('stores fewer samples whose rollups equal per-sample mode’s', async () => {
    const { packets, lines, refused } = datagrams();
    await send(perSample.statsd, packets);
    await send(aggregating.statsd, packets);
    for (const g of [perSample, aggregating]) {
      await waitFor('every line accepted', () => g.gateway.metrics.count('accepted', { protocol: 'statsd' }) === lines, 20_000);
      const codes = ['STATSD_ERR_SYNTAX', 'STATSD_ERR_VALUE'].map((code) => g.gateway.metrics.count('refused', { protocol: 'statsd', code }));
      expect(codes.reduce((a, b) => a + b, 0)).toBe(refused);
    }
    // Self-telemetry while the interval is open: lines aggregated, samples held.
    const text = await (await fetch(`${aggregating.http}/metrics`)).text();
    expect(text).toMatch(new RegExp(`ssf_gateway_statsd_aggregated_lines_total ${lines - 3}\\n`));
    expect(text).toMatch(/ssf_gateway_statsd_aggregate_open [1-9]\d*\n/);
    // A graceful stop publishes the open interval.
    await aggregating.gateway.close();
    expect(aggregating.gateway.metrics.count('aggregateSamples', {})).toBeGreaterThan(0);

    await waitFor(
      'both tenants stored',
      async () => {
        const per = await sampleRows(rig, 'per');
        const agg = await sampleRows(rig, 'agg');
        return per.rows === lines - 1 && agg.rows === aggregating.gateway.metrics.count('aggregateSamples', {}) + 2;
      },
      60_000,
    );
    const per = await sampleRows(rig, 'per');
    const agg = await sampleRows(rig, 'agg');
    // 3,000 timer lines become 1,024 samples; 100 gauge lines one; 37 set members of 100 lines; ...
    expect(agg.rows).toBeLessThan(per.rows / 2);
    expect(agg.offInterval).toBe(0);

    const want = await rollups(rig, 'per');
    const got = await rollups(rig, 'agg');
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, w] of want) {
      const g = got.get(k) as Rollup;
      const close = (a: number, b: number, tolerance: number): boolean => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));
      const fail = `${k}: ${JSON.stringify(g)} vs ${JSON.stringify(w)}`;
      // A counter's total is its sum; a histogram's count and sum are exact; a gauge's and a set's count become intervals and members.
      if (w.type === 'histogram' || w.type === 'status') expect(close(g.count, w.count, 1e-6), fail).toBe(true);
      if (w.type === 'counter' || w.type === 'histogram') expect(close(g.sum, w.sum, 1e-6), fail).toBe(true);
      // Per-sample mode stamps a group of datagrams with one received time: its "last" gauge is
      // any of the group's (argMax ties). Aggregation keeps the last line read.
      if (w.type === 'gauge') expect(g.last, fail).toBe(99);
      if (w.type === 'set') expect(g.uniq, fail).toBe(w.uniq);
      if (w.type === 'status') expect(g.last_status, fail).toBe(w.last_status);
      if (w.type === 'histogram') for (let i = 0; i < 3; i++) expect(close(g.q[i] as number, w.q[i] as number, 0.03), fail).toBe(true);
    }
    const named = (m: Map<string, Rollup>, name: string): Rollup | undefined => [...m.values()].find((r) => r.name === name);
    expect(named(want, 'api.latency')?.count).toBe(3000);
    expect(named(got, 'api.latency')?.count).toBeCloseTo(3000, 3);
    expect(named(got, 'queue.depth')?.count).toBe(1);
    expect(named(got, 'api.bytes')?.sum).toBe(4_950_000);
  }, 120_000);

  it('aggregates in all-in-one mode too (a sink that reads the spans), and a graceful stop writes the open interval', async () => {
    const aio = await startAllInOne('statsdagg_aio', { SSF_GATEWAY_STATSD_AGGREGATE: 'true', SSF_GATEWAY_STATSD_FLUSH_INTERVAL_MS: String(INTERVAL_MS) });
    try {
      const lines = [...Array.from({ length: 50 }, () => 'a:1|c|#k:v'), 'g:4|g', 'g:5|g', ...Array.from({ length: 10 }, () => 't:3|ms')];
      await send(aio.where['statsd'] as string, [Buffer.from(lines.join('\n'))]);
      await waitFor('lines accepted', () => aio.gateway.metrics.count('accepted', { protocol: 'statsd' }) === lines.length, 20_000);
      await aio.gateway.close();
      const rows = await (
        await aio.ch.client.query({
          query: `SELECT name, count() AS n, sum(value / toFloat64(toString(sample_rate))) AS total, any(value) AS v FROM ${aio.ch.database}.samples GROUP BY name ORDER BY name`,
          format: 'JSONEachRow',
        })
      ).json<{ name: string; n: string; total: number; v: number }>();
      expect(rows.map((r) => [r.name, Number(r.n), Number(r.total)])).toEqual([
        ['a', 1, 50],
        ['g', 1, 5],
        ['t', 10, 30],
      ]);
    } finally {
      await aio.close();
    }
  }, 60_000);
});
