import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch, encodeSpan } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { startAllInOne } from './all-in-one.js';
import type { AllInOne } from './all-in-one.js';
import { spanEvent } from '../../src/codec/span-event.js';

const NOW = BigInt(Date.now()) * 1_000_000n;
const span = (i: number): SpanEvent =>
  spanEvent({
    traceId: 42n,
    id: BigInt(i + 1),
    parentId: i === 0 ? 0n : 1n,
    startTimestamp: NOW + BigInt(i),
    endTimestamp: NOW + BigInt(i) + 2_000_000n,
    error: i === 3,
    service: i % 2 ? 'api' : 'web',
    name: `op${i}`,
    isTrace: true,
    metrics: [{ type: 'counter', name: 'hits', value: 1, timestamp: 0n, message: '', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'default' }],
    logs: [{ timestamp: 0n, severity: 'info', severityNumber: 9, body: `line ${i}`, attributes: {} }],
  });

describe('all-in-one: the gateway hands batches to ClickHouse in the same process (no Kafka)', () => {
  let aio: AllInOne;
  let ch: ClickHouse;
  let where: Record<string, string>;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_aio');
    ({ ch, where } = aio);
  });
  afterAll(async () => aio.close());

  it('answers 200 only after the rows are in ClickHouse, for HTTP, UDP and statsd', async () => {
    const res = await fetch(`${where['http']}/v1/ssf`, {
      method: 'POST',
      body: Buffer.from(encodeBatch([0, 1, 2, 3].map(span))),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    expect(res.status).toBe(200);
    // 200 means written: the rows are there now, with no waiting.
    const count = async (table: string): Promise<number> => {
      const rows = await (await ch.client.query({ query: `SELECT count() AS n FROM ${ch.database}.${table}`, format: 'JSONEachRow' })).json<{ n: string }>();
      return Number(rows[0]?.n);
    };
    expect(await count('spans')).toBe(4);
    expect(await count('logs')).toBe(4);
    expect(await count('samples')).toBe(4);

    const [host, port] = (where['udp'] as string).split(':') as [string, string];
    const [shost, sport] = (where['statsd'] as string).split(':') as [string, string];
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.send(Buffer.from(encodeSpan(span(10))), Number(port), host, () => resolve()));
    await new Promise<void>((resolve) => socket.send(Buffer.from('hits:5|c\nqueue:3|g'), Number(sport), shost, () => resolve()));
    socket.close();
    const deadline = Date.now() + 10_000;
    while ((await count('samples')) < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await count('spans')).toBe(5);
    expect(await count('samples')).toBe(7);
    const trace = await (
      await ch.client.query({ query: `SELECT sum(spans) AS n, sum(errors) AS e FROM ${ch.database}.trace_index WHERE trace_id = 42`, format: 'JSONEachRow' })
    ).json<{ n: string; e: string }>();
    expect(trace).toEqual([{ n: '5', e: '1' }]);
  });
});

describe("the gateway's own spans", () => {
  it('traces its HTTP requests as SSF spans of service ssf-gateway, straight into its own pipeline', async () => {
    const { ch, gateway, where } = await startAllInOne(
      'ssf_self',
      { SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '1', SSF_GATEWAY_UDP_LISTEN: '', SSF_GATEWAY_STATSD_LISTEN: '' },
      1000,
    );
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${where['http']}/v1/ssf`, {
          method: 'POST',
          body: Buffer.from(encodeBatch([span(i)])),
          headers: { 'content-type': 'application/x-protobuf' },
        });
        expect(res.status).toBe(200);
      }
    } finally {
      await gateway.close();
    }
    const rows = await (
      await ch.client.query({
        query: `SELECT name, tags['http.status_code'] AS status FROM ${ch.database}.spans WHERE service = 'ssf-gateway'`,
        format: 'JSONEachRow',
      })
    ).json<{ name: string; status: string }>();
    await ch.close();
    expect(rows).toEqual(Array.from({ length: 3 }, () => ({ name: 'POST /v1/ssf', status: '200' })));
  });
});
