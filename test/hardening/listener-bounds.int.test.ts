/**
 * What a sender on the network can hold or fill, against the real gateway:
 * authentication decided by every listener that takes a token, listeners
 * without credentials off loopback, the framed stream's per-frame deadline
 * and connection cap, the HTTP listener's connection cap, and the
 * cardinality guard's caps on metric names.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/codec/framing.js';
import { encodeBatch, encodeSpan } from '../../src/codec/index.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

const MS = 1_000_000n;
const NOW = BigInt(Date.now()) * MS;

function refused(text: string, protocol: string, code: string): number {
  const m = new RegExp(`ssf_gateway_refused_total\\{protocol="${protocol}",code="${code}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

function hostPort(where: string): [string, number] {
  const at = where.lastIndexOf(':');
  return [where.slice(0, at).replace(/^http:\/\//, ''), Number(where.slice(at + 1))];
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

describe('listeners on the network', () => {
  it('OTLP on a network address with tokens: a write without a token is refused (401 / UNAUTHENTICATED), with one it is taken', async () => {
    const aio = await startAllInOne('ssf_otlp_exposed', { SSF_GATEWAY_OTLP_HTTP_LISTEN: '0.0.0.0:0', SSF_GATEWAY_AUTH_TOKENS: 'tok=acme' });
    try {
      const [, port] = hostPort(aio.where['otlp_http'] as string);
      const url = `http://127.0.0.1:${port}/v1/traces`;
      const headers = { 'content-type': 'application/json' };
      expect((await fetch(url, { method: 'POST', body: '{}', headers })).status).toBe(401);
      expect((await fetch(url, { method: 'POST', body: '{}', headers: { ...headers, authorization: 'Bearer tok' } })).status).toBe(200);
    } finally {
      await aio.close();
    }
  });

  it('a listener without credentials off loopback is not started unless gateway.listenerTenants names its tenant', async () => {
    const off = await startAllInOne('ssf_udp_exposed', { SSF_GATEWAY_UDP_LISTEN: '0.0.0.0:0', SSF_GATEWAY_STATSD_LISTEN: '0.0.0.0:0' });
    try {
      expect(off.where['udp']).toBeUndefined();
      expect(off.where['statsd']).toBeUndefined();
      expect(off.where['otlp_http']).toBeDefined();
    } finally {
      await off.close();
    }
    const on = await startAllInOne('ssf_udp_named', { SSF_GATEWAY_UDP_LISTEN: '0.0.0.0:0', SSF_GATEWAY_LISTENER_TENANTS: 'udp=acme' });
    try {
      expect(on.where['udp']).toBeDefined();
      // On loopback, with authentication off, the default tenant as before.
      expect(on.where['statsd']).toBeDefined();
    } finally {
      await on.close();
    }
  });
});

describe('the framed stream', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_stream_bounds', {
      SSF_GATEWAY_TCP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_STREAM_IDLE_TIMEOUT_S: '30',
      SSF_GATEWAY_STREAM_FRAME_TIMEOUT_S: '1',
      SSF_GATEWAY_STREAM_MAX_CONNECTIONS: '2',
    });
  });
  afterAll(async () => aio?.close());

  const tcp = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const [host, port] = hostPort(aio.where['tcp'] as string);
      const s = connect(port, host, () => resolve(s));
      s.once('error', reject);
    });
  const metrics = async (): Promise<string> => (await fetch(`${aio.http}/metrics`)).text();

  it('closes a connection whose frame trickles in past gateway.streamFrameTimeoutS, though bytes keep coming, and counts it', async () => {
    const s = await tcp();
    const header = Buffer.alloc(5);
    header.writeUInt32BE(1_048_576, 1); // a 1 MiB frame...
    s.write(header);
    s.write(Buffer.alloc(1_000_000)); // ...almost all of it, then a byte every 200 ms (the idle timeout is 30 s)
    const drip = setInterval(() => s.writable && s.write(Buffer.alloc(1)), 200);
    const closed = await Promise.race([
      new Promise<boolean>((resolve) => s.on('close', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ]);
    clearInterval(drip);
    s.destroy();
    expect(closed).toBe(true);
    expect(refused(await metrics(), 'tcp', 'GW_ERR_STREAM_FRAME_TIMEOUT')).toBe(1);
  });

  it('keeps a slow stream of whole frames open past the frame deadline, and takes its spans', async () => {
    const s = await tcp();
    s.on('error', () => {});
    for (let i = 1; i <= 8; i++) {
      const span = spanEvent({
        traceId: 700n + BigInt(i),
        id: BigInt(i),
        startTimestamp: NOW,
        endTimestamp: NOW + MS,
        name: `slow ${i}`,
        service: 'stream-slow',
      });
      const frame = encodeFrame(encodeSpan(span));
      s.write(frame.subarray(0, 3)); // each frame split, its halves 100 ms apart
      await new Promise((r) => setTimeout(r, 100));
      s.write(frame.subarray(3));
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(s.destroyed).toBe(false);
    s.end();
    const count = async (): Promise<number> =>
      Number(
        (
          await (
            await aio.ch.client.query({ query: `SELECT count() AS n FROM ${aio.ch.database}.spans WHERE service = 'stream-slow'`, format: 'JSONEachRow' })
          ).json<{
            n: string;
          }>()
        )[0]?.n,
      );
    await until(async () => (await count()) === 8);
    expect(await count()).toBe(8);
  });

  it('closes one connection past gateway.streamMaxConnections as it is accepted, and counts it', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const held = [await tcp(), await tcp()];
    const third = await tcp();
    const closed = await Promise.race([
      new Promise<boolean>((resolve) => third.on('close', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
    ]);
    for (const s of [...held, third]) s.destroy();
    expect(closed).toBe(true);
    expect(refused(await metrics(), 'tcp', 'GW_ERR_STREAM_TOO_MANY_CONNECTIONS')).toBe(1);
  });
});

describe('the HTTP listener', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_http_bounds', { SSF_GATEWAY_HTTP_MAX_CONNECTIONS: '3' });
  });
  afterAll(async () => aio?.close());

  /** A raw TCP connection to the HTTP listener, once connected. */
  const raw = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const [host, port] = hostPort(aio.http);
      const s = connect(port, host, () => resolve(s));
      s.once('error', reject);
    });
  const closedByServer = (s: Socket): Promise<boolean> =>
    Promise.race([
      new Promise<boolean>((resolve) => s.on('close', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
    ]);

  it('closes a connection past gateway.httpMaxConnections as it is accepted, counts it, and answers on the connections it holds', async () => {
    // Two idle connections and a third: the listener holds three, the cap.
    const held = [await raw(), await raw()];
    const third = await raw();
    const fourth = await raw();
    fourth.on('error', () => {});
    expect(await closedByServer(fourth)).toBe(true);

    // A request on an allowed connection is answered as ever.
    const span = spanEvent({ traceId: 990n, id: 1n, startTimestamp: NOW, endTimestamp: NOW + MS, name: 'capped', service: 'http-cap' });
    const body = Buffer.from(encodeBatch([span]));
    let answer = '';
    third.setEncoding('latin1').on('data', (c: string) => (answer += c));
    const ended = new Promise<void>((resolve) => third.on('close', () => resolve()));
    third.write(
      `POST /v1/ssf HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    third.write(body);
    await ended;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"accepted":1');

    for (const s of held) s.destroy();
    // With the connections gone, /metrics is reachable again: the one refused connection is counted.
    let text = '';
    await until(async () => {
      text = await (await fetch(`${aio.http}/metrics`)).text().catch(() => '');
      return text.includes('ssf_gateway_refused_total');
    });
    expect(refused(text, 'http', 'GW_ERR_HTTP_TOO_MANY_CONNECTIONS')).toBe(1);
  });
});

describe('the cardinality guard on metric names', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_metric_names', { SSF_GATEWAY_MAX_METRIC_NAMES_PER_TENANT: '3' });
  });
  afterAll(async () => aio?.close());

  it('refuses samples of new names past the cap over statsd, /v1/ssf and OTLP, keeps the known names, and counts them', async () => {
    const [host, port] = hostPort(aio.where['statsd'] as string);
    const socket = createSocket('udp4');
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => socket.send(Buffer.from(`names.random.${i}:1|c`), port, host, () => resolve()));
    const text = async (): Promise<string> => (await fetch(`${aio.http}/metrics`)).text();
    await until(async () => refused(await text(), 'statsd', 'SSF_TOO_MANY_METRIC_NAMES') === 7);
    // A name already seen still works.
    await new Promise<void>((resolve) => socket.send(Buffer.from('names.random.0:5|c'), port, host, () => resolve()));
    socket.close();
    // /v1/ssf: the sample of a new name is refused in the answer's partial list.
    const span = spanEvent({ traceId: 0n, id: 0n, startTimestamp: 0n, endTimestamp: 0n, name: '', service: 'names' });
    span.metrics = [
      { type: 'counter', name: 'names.http.new', value: 1, timestamp: NOW, message: '', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'default' },
    ] as never;
    const r = await fetch(`${aio.http}/v1/ssf`, {
      method: 'POST',
      body: Buffer.from(encodeBatch([span])),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    const answer = JSON.stringify(await r.json());
    expect(answer).toContain('SSF_TOO_MANY_METRIC_NAMES');
    // OTLP: a data point of a new name is rejected in partial_success.
    const otlp = await fetch(`${aio.where['otlp_http'] as string}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'names.otlp.new', gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: String(NOW) }] } }] }] }],
      }),
    });
    expect(otlp.status).toBe(200);
    expect(((await otlp.json()) as { partialSuccess: { rejectedDataPoints: number } }).partialSuccess.rejectedDataPoints).toBe(1);
    const after = await text();
    expect(refused(after, 'http', 'SSF_TOO_MANY_METRIC_NAMES')).toBe(1);
    expect(refused(after, 'otlp_http', 'SSF_TOO_MANY_METRIC_NAMES')).toBe(1);
    expect(after).toMatch(/ssf_gateway_metric_names_refused_total\{tenant="default"\} 9/);
    const stored = async (): Promise<Array<{ name: string; total: number }>> =>
      (
        await aio.ch.client.query({
          query: `SELECT toString(name) AS name, sum(value) AS total FROM ${aio.ch.database}.samples WHERE name LIKE 'names.%' GROUP BY name ORDER BY name`,
          format: 'JSONEachRow',
        })
      ).json();
    await until(async () => (await stored()).reduce((a, x) => a + x.total, 0) === 8);
    expect(await stored()).toEqual([
      { name: 'names.random.0', total: 6 },
      { name: 'names.random.1', total: 1 },
      { name: 'names.random.2', total: 1 },
    ]);
  });
});
