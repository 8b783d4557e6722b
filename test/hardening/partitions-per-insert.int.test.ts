import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanEvent } from '../../src/codec/span-event.js';
import type { LogRecord, MetricSample } from '../../src/codec/index.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { batchRecord, startRig, waitFor } from '../ingest/materializer/helpers.js';

/*
 * Hardening, "one request stops every writer": the tables are partitioned by
 * day, and ClickHouse refuses an insert block that touches more than 100
 * partitions (max_partitions_per_insert_block). With a retention past 100
 * days, one request whose events spread over more days than that (a backfill,
 * or a hostile tenant) failed the whole insert: in all-in-one mode every
 * request batched with it got 503, and the materializer retried the batch
 * forever, holding its partition for every tenant. The gateway already bounds
 * every time to the tables' retention, so the inserts allow every partition
 * that window holds.
 */

const MS = 1_000_000n;
const DAY = 86_400_000n * MS;
const NOW = BigInt(Date.now()) * MS;
const DAYS = 150;

const sample = (day: number): MetricSample => ({
  type: 'counter',
  name: 'backfill.count',
  value: 1,
  timestamp: NOW - BigInt(day) * DAY,
  message: '',
  status: 'ok',
  sampleRate: 1,
  tags: {},
  unit: '',
  scope: 'default',
});
const log = (day: number): LogRecord => ({ timestamp: NOW - BigInt(day) * DAY, severity: 'info', severityNumber: 9, body: `day ${day}`, attributes: {} });

describe('an insert may touch every daily partition the retention holds', () => {
  let aio: AllInOne;
  const count = async (sql: string): Promise<number> => {
    const rows = await (await aio.ch.client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>();
    return Number(rows[0]?.n ?? 0);
  };
  beforeAll(async () => {
    aio = await startAllInOne('ssf_partitions', {
      SSF_RETENTION_SPANS_DAYS: '400',
      SSF_RETENTION_SAMPLES_DAYS: '400',
      SSF_RETENTION_LOGS_DAYS: '400',
      SSF_RETENTION_ROLLUP1M_DAYS: '400',
    });
  });
  afterAll(async () => aio?.close());

  it(`stores one request of spans, logs and samples over ${DAYS} days, and a request after it`, async () => {
    const days = Array.from({ length: DAYS }, (_, d) => d + 1);
    const spans = days.map((d) =>
      spanEvent({
        traceId: 9_000n + BigInt(d),
        id: BigInt(d),
        startTimestamp: NOW - BigInt(d) * DAY,
        endTimestamp: NOW - BigInt(d) * DAY + 5n * MS,
        service: 'backfill',
        name: 'replayed',
        logs: [log(d)],
        metrics: [sample(d)],
      }),
    );
    const res = await aio.post(spans);
    expect(res.status, await res.clone().text()).toBe(200);
    const db = aio.ch.database;
    expect(await count(`SELECT count() AS n FROM ${db}.spans WHERE service = 'backfill'`)).toBe(DAYS);
    expect(await count(`SELECT count() AS n FROM ${db}.logs WHERE service = 'backfill'`)).toBe(DAYS);
    expect(await count(`SELECT count() AS n FROM ${db}.samples WHERE name = 'backfill.count'`)).toBe(DAYS);
    expect(await count(`SELECT uniqExact(_partition_id) AS n FROM ${db}.spans WHERE service = 'backfill'`)).toBe(DAYS);
    const after = await aio.post([spanEvent({ traceId: 9_999n, id: 1n, startTimestamp: NOW, endTimestamp: NOW + MS, service: 'after', name: 'next' })]);
    expect(after.status).toBe(200);
  });
});

describe('the materializer inserts a batch over more than 100 days', () => {
  it('stores what the retention keeps of it and goes on to the next record (it retried the batch forever)', async () => {
    const rig = await startRig({ name: 'mat-partitions', database: 'mat_partitions', batchRows: 1_000, batchMs: 200 });
    try {
      // Days 1-29 are inside the default 30-day retention (the TTL drops the older ones, at insert or at a merge).
      const days = [...Array.from({ length: 29 }, (_, d) => d + 1), ...Array.from({ length: 121 }, (_, d) => d + 40)];
      const spans = days.map((d) =>
        spanEvent({
          traceId: 80_000n + BigInt(d),
          id: BigInt(d),
          startTimestamp: NOW - BigInt(d) * DAY,
          endTimestamp: NOW - BigInt(d) * DAY + 5n * MS,
          service: 'backfill',
          name: 'replayed',
        }),
      );
      await rig.producer.send({ topic: rig.topic, acks: -1, messages: [batchRecord(spans, 0)] });
      const next = spanEvent({ traceId: 81_000n, id: 1_000n, startTimestamp: NOW, endTimestamp: NOW + MS, service: 'after', name: 'next' });
      await rig.producer.send({ topic: rig.topic, acks: -1, messages: [batchRecord([next], 0)] });
      const db = rig.ch.database;
      const count = async (where: string): Promise<number> => {
        const rows = await (await rig.ch.client.query({ query: `SELECT count() AS n FROM ${db}.spans WHERE ${where}`, format: 'JSONEachRow' })).json<{
          n: string;
        }>();
        return Number(rows[0]?.n ?? 0);
      };
      await waitFor('the record after the batch', async () => (await count("service = 'after'")) === 1, 30_000);
      expect(await count("service = 'backfill' AND start > now() - INTERVAL 30 DAY")).toBe(29);
      expect(rig.running.materializer.metrics.retries.get({ step: 'insert', code: 'MAT_ERR_INSERT_FAILED' })).toBe(0);
    } finally {
      await rig.close();
    }
  });
});
