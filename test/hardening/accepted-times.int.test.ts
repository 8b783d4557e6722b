import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanEvent } from '../../src/codec/span-event.js';
import type { LogRecord, MetricSample, SpanEvent } from '../../src/codec/index.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

/*
 * Hardening, "accepted, then lost": events outside the times the tables hold
 * were answered `accepted` and never stored (TTL through 32-bit DateTime), or
 * stored in the wrong rollup bucket. Now each is refused on its own with
 * SSF_TIME_OUT_OF_RANGE, and everything inside lands where it belongs.
 */

const MS = 1_000_000n;
const DAY = 86_400_000n * MS;
const NOW = BigInt(Date.now()) * MS;
const INT64_MAX = 2n ** 63n - 1n;

const sample = (name: string, timestamp: bigint, over: Partial<MetricSample> = {}): MetricSample => ({
  type: 'counter',
  name,
  value: 1,
  timestamp,
  message: '',
  status: 'ok',
  sampleRate: 1,
  tags: {},
  unit: '',
  scope: 'default',
  ...over,
});
const log = (body: string, timestamp: bigint): LogRecord => ({ timestamp, severity: 'info', severityNumber: 9, body, attributes: {} });
const trace = (id: bigint, start: bigint, extra: Partial<SpanEvent> = {}): SpanEvent =>
  spanEvent({ traceId: 7_000n + id, id, startTimestamp: start, endTimestamp: start + 5n * MS, service: 'edge', name: `span ${id}`, ...extra });

interface Answer {
  accepted: number;
  events: number;
  rejected: Array<{ index: number; code: string; field: string }>;
  partial: Array<{ index: number; code: string; field: string }>;
}

describe('accepted times: every event inside is stored in its place, every event outside is refused on its own', () => {
  let aio: AllInOne;
  const count = async (sql: string): Promise<number> => {
    const rows = await (await aio.ch.client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>();
    return Number(rows[0]?.n ?? 0);
  };
  beforeAll(async () => {
    aio = await startAllInOne('ssf_times', { SSF_RETENTION_SPANS_DAYS: '30', SSF_RETENTION_SAMPLES_DAYS: '30', SSF_RETENTION_LOGS_DAYS: '30' });
  });
  afterAll(async () => aio?.close());

  it('refuses trace spans outside [now - retention + 1 h, now + maxFutureSeconds] and keeps the ones inside', async () => {
    const spans = [
      trace(1n, NOW - 29n * DAY), // inside: 29 days old
      trace(2n, NOW + 30n * 60_000n * MS), // inside: 30 minutes ahead
      trace(3n, NOW - 30n * DAY), // outside: at the retention (expires at insert)
      trace(4n, 2n ** 62n + 12345n), // year 2116: past 32-bit DateTime
      trace(5n, 1_000_000_000n), // 1970
      trace(6n, -5n * DAY), // before 1970
      trace(7n, NOW + 2n * 3_600_000n * MS), // two hours ahead (limit one)
      trace(8n, NOW, { endTimestamp: INT64_MAX }), // ends in 2262
    ];
    const res = await aio.post(spans);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Answer;
    expect(answer.accepted).toBe(2);
    expect(answer.rejected.map((r) => [r.index, r.code, r.field])).toEqual([
      [2, 'SSF_TIME_OUT_OF_RANGE', 'start_timestamp'],
      [3, 'SSF_TIME_OUT_OF_RANGE', 'start_timestamp'],
      [4, 'SSF_TIME_OUT_OF_RANGE', 'start_timestamp'],
      [5, 'SSF_TIME_OUT_OF_RANGE', 'start_timestamp'],
      [6, 'SSF_TIME_OUT_OF_RANGE', 'start_timestamp'],
      [7, 'SSF_TIME_OUT_OF_RANGE', 'end_timestamp'],
    ]);
    expect(await count(`SELECT count() AS n FROM ${aio.ch.database}.spans WHERE service = 'edge'`)).toBe(2);
    expect(await count(`SELECT count() AS n FROM ${aio.ch.database}.spans WHERE service = 'edge' AND span_id IN (1, 2)`)).toBe(2);
  });

  it('refuses samples and log records outside on their own, keeps their neighbours, and buckets the rest by their own minute', async () => {
    const old = NOW - 29n * DAY;
    const carrier = spanEvent({
      service: 'edge-metrics',
      metrics: [
        sample('edge.in', old),
        sample('edge.out', INT64_MAX),
        sample('edge.out', 7_258_118_400_000n * MS), // 2200-01-01
        sample('edge.in', 0n), // absent: the received time
        sample('edge.rate', 0n, { sampleRate: 1e-45 }),
        sample('edge.rate', 0n, { sampleRate: 1e-6 }),
      ],
      logs: [log('inside', old), log('outside', INT64_MAX), log('before 1970', -1n)],
    });
    const res = await aio.post([carrier]);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Answer;
    expect(answer.rejected).toEqual([]);
    expect(answer.partial.map((r) => [r.code, r.field]).sort()).toEqual(
      [
        ['SSF_METRIC_SAMPLE_RATE_RANGE', 'metrics[4].sample_rate'],
        ['SSF_TIME_OUT_OF_RANGE', 'logs[1].timestamp'],
        ['SSF_TIME_OUT_OF_RANGE', 'logs[2].timestamp'],
        ['SSF_TIME_OUT_OF_RANGE', 'metrics[1].timestamp'],
        ['SSF_TIME_OUT_OF_RANGE', 'metrics[2].timestamp'],
      ].sort(),
    );
    const db = aio.ch.database;
    expect(await count(`SELECT count() AS n FROM ${db}.samples WHERE name = 'edge.in'`)).toBe(2);
    expect(await count(`SELECT count() AS n FROM ${db}.samples WHERE name = 'edge.out'`)).toBe(0);
    expect(await count(`SELECT count() AS n FROM ${db}.logs WHERE body = 'inside'`)).toBe(1);
    expect(await count(`SELECT count() AS n FROM ${db}.logs WHERE service = 'edge-metrics'`)).toBe(1);
    // The 29-day-old sample is in its own minute's bucket, in both rollups.
    const minute = new Date(Number(old / MS) - (Number(old / MS) % 60_000)).toISOString().replace('T', ' ').slice(0, 19);
    expect(await count(`SELECT count() AS n FROM ${db}.metrics_1m WHERE name = 'edge.in' AND bucket = toDateTime64('${minute}', 9, 'UTC')`)).toBe(1);
    expect(await count(`SELECT count() AS n FROM ${db}.metrics_1m WHERE name = 'edge.out'`)).toBe(0);
    // The smallest rate: one sample stands for a million, and no more.
    expect(await count(`SELECT sum(count) AS n FROM ${db}.metrics_1m WHERE name = 'edge.rate'`)).toBe(1_000_000);
  });

  it('refuses a span whose every event is outside, under their reasons', async () => {
    const res = await aio.post([spanEvent({ service: 'edge-all-out', metrics: [sample('edge.gone', INT64_MAX)], logs: [log('gone', -1n)] })]);
    expect(res.status).toBe(422);
    const body = (await res.json()) as Answer & { error: { code: string } };
    expect(body.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'SSF_TIME_OUT_OF_RANGE'],
      [0, 'SSF_TIME_OUT_OF_RANGE'],
    ]);
  });
});
