/**
 * One tenant sending more than its ingest rate limit is answered "slow down"
 * (429 + Retry-After, OTLP's google.rpc.Status RESOURCE_EXHAUSTED) and
 * counted, while another tenant's data is taken and stored; what was answered
 * 200 is stored exactly once, what was answered 429 not at all. With
 * authentication off, or tokens of one tenant only, there is nobody to be
 * fair to, and no limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcStatus } from '../../ingest/otlp/otlp-messages.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

const NOW = BigInt(Date.now()) * 1_000_000n;
const PAD = 'p'.repeat(200);
// 20,000 bytes a second, 40,000 at once: a batch of 40 spans is about 10 KB.
const LIMITS = { SSF_GATEWAY_TENANT_RATE_LIMIT_BYTES: '20000', SSF_GATEWAY_TENANT_BURST_BYTES: '40000' };

function batch(service: string, first: number, n = 40): SpanEvent[] {
  return Array.from({ length: n }, (_, k) =>
    spanEvent({
      traceId: BigInt(first + k + 1),
      id: BigInt(first + k + 1),
      startTimestamp: NOW,
      endTimestamp: NOW + 1_000_000n,
      service,
      name: 'op',
      tags: { pad: PAD },
      isTrace: true,
    }),
  );
}

async function countOf(aio: AllInOne, tenant: string, service: string): Promise<number> {
  const r = await aio.ch.client.query({
    query: `SELECT count() AS n FROM ${aio.ch.database}.spans WHERE tenant = {t:String} AND service = {s:String}`,
    query_params: { t: tenant, s: service },
    format: 'JSONEachRow',
  });
  return Number(((await r.json()) as Array<{ n: string }>)[0]?.n);
}

function otlpJson(service: string, spans: number): string {
  const t = NOW;
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId: (i + 1).toString(16).padStart(32, '0'),
              spanId: (i + 1).toString(16).padStart(16, '0'),
              name: 'op',
              startTimeUnixNano: String(t),
              endTimeUnixNano: String(t + 1_000_000n),
              attributes: [{ key: 'pad', value: { stringValue: PAD } }],
            })),
          },
        ],
      },
    ],
  });
}

describe('per-tenant ingest rate limit (authentication on)', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('tenant_limit', { SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokB=globex', ...LIMITS });
  }, 120_000);
  afterAll(async () => {
    await aio?.close();
  });

  it('POST /v1/ssf: the tenant over its limit gets 429 with Retry-After; the other tenant is served; 200s are stored exactly', async () => {
    let stored = 0;
    let limited: Response | undefined;
    for (let i = 0; i < 20 && limited === undefined; i++) {
      const r = await aio.post(batch('flood', i * 40), 'tokA');
      if (r.status === 200) stored += 40;
      else limited = r;
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await limited?.json()) as { error: { code: string; reason: string } };
    expect(body.error.code).toBe('GW_ERR_TENANT_RATE_LIMITED');
    expect(body.error.reason).toMatch(/tenant acme is over its ingest rate limit of 20000 bytes\/s/);
    // The burst (40,000 bytes) took a few batches, not all twenty.
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(20 * 40);

    // acme is in debt; globex is not slowed by it.
    const other = await aio.post(batch('calm', 0), 'tokB');
    expect(other.status).toBe(200);

    // Once the time it was told has passed, acme is admitted again.
    await new Promise((r) => setTimeout(r, Number(limited?.headers.get('retry-after')) * 1000 + 100));
    const again = await aio.post(batch('flood', 10_000), 'tokA');
    expect(again.status).toBe(200);
    stored += 40;

    expect(await countOf(aio, 'acme', 'flood')).toBe(stored);
    expect(await countOf(aio, 'globex', 'calm')).toBe(40);
    const metrics = await (await fetch(`${aio.http}/metrics`)).text();
    expect(metrics).toMatch(/ssf_gateway_tenant_limited_total\{protocol="http",tenant="acme"\} [1-9]/);
    expect(metrics).not.toMatch(/ssf_gateway_tenant_limited_total\{[^}]*tenant="globex"/);
    expect(metrics).toMatch(/ssf_gateway_refused_total\{protocol="http",code="GW_ERR_TENANT_RATE_LIMITED"\} [1-9]/);
  });

  it('OTLP/HTTP: 429 with Retry-After and a RESOURCE_EXHAUSTED status; the other tenant is served', async () => {
    const otlp = aio.where['otlp_http'] as string;
    const send = (service: string, token: string): Promise<Response> =>
      fetch(`${otlp}/v1/traces`, {
        method: 'POST',
        body: otlpJson(service, 40),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      });
    let limited: Response | undefined;
    for (let i = 0; i < 20 && limited === undefined; i++) {
      const r = await send('otlp-flood', 'tokA');
      if (r.status !== 200) limited = r;
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const text = await limited?.text();
    expect(text).toMatch(/OTLP_ERR_TENANT_RATE_LIMITED/);
    const other = await send('otlp-calm', 'tokB');
    expect(other.status).toBe(200);
    expect(await countOf(aio, 'globex', 'otlp-calm')).toBe(40);
  });

  it('over gRPC the same refusal is RESOURCE_EXHAUSTED (8) with its retry delay', async () => {
    const { connect } = await import('node:http2');
    const { ExportTraceServiceRequest } = await import('../../ingest/otlp/otlp-messages.js');
    const grpc = aio.where['otlp_grpc'] as string;
    const message = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(JSON.parse(otlpJson('grpc-flood', 40)))).finish();
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), Buffer.from(message)]);
    frame.writeUInt32BE(message.length, 1);
    const session = connect(`http://${grpc}`);
    try {
      const call = (): Promise<Record<string, string>> =>
        new Promise((resolve, reject) => {
          const req = session.request({
            ':method': 'POST',
            ':path': '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
            'content-type': 'application/grpc',
            te: 'trailers',
            authorization: 'Bearer tokA',
          });
          let trailers: Record<string, string> = {};
          req.on('response', (h) => {
            if (h['grpc-status'] !== undefined) trailers = h as Record<string, string>;
          });
          req.on('trailers', (t) => {
            trailers = t as Record<string, string>;
          });
          req.on('data', () => {});
          req.on('end', () => resolve(trailers));
          req.on('error', reject);
          req.end(frame);
        });
      let status = '0';
      let last: Record<string, string> = {};
      for (let i = 0; i < 40 && status === '0'; i++) {
        last = await call();
        status = String(last['grpc-status']);
      }
      expect(status).toBe('8');
      expect(decodeURIComponent(String(last['grpc-message']))).toMatch(/OTLP_ERR_TENANT_RATE_LIMITED|over its ingest rate limit/);
      const details = Buffer.from(String(last['grpc-status-details-bin']), 'base64');
      expect(RpcStatus.decode(details).code).toBe(8);
      expect(details.toString('latin1')).toContain('type.googleapis.com/google.rpc.RetryInfo');
    } finally {
      session.close();
    }
  });
});

describe('per-tenant ingest rate limit on the listeners without credentials', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('tenant_limit_listeners', {
      SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokB=globex',
      SSF_GATEWAY_LISTENER_TENANTS: 'tcp=acme,udp=acme',
      SSF_GATEWAY_TCP_LISTEN: '127.0.0.1:0',
      ...LIMITS,
    });
  }, 120_000);
  afterAll(async () => {
    await aio?.close();
  });

  it('a framed stream over the limit is paused, not dropped: every span arrives', async () => {
    const { connect } = await import('node:net');
    const { encodeFrames } = await import('../../src/codec/framing.js');
    const { encodeSpan } = await import('../../src/codec/span-codec.js');
    // 480 spans of about 250 bytes: about 120 KB, three times the burst.
    const spans = Array.from({ length: 12 }, (_, i) => batch('stream', i * 40)).flat();
    const [host, port] = (aio.where['tcp'] as string).split(':');
    const socket = connect(Number(port), host);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    for (let i = 0; i < spans.length; i += 40) {
      socket.write(encodeFrames(spans.slice(i, i + 40).map((s) => encodeSpan(s))));
      await new Promise((r) => setTimeout(r, 20));
    }
    socket.end();
    const deadline = Date.now() + 30_000;
    while ((await countOf(aio, 'acme', 'stream')) < spans.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await countOf(aio, 'acme', 'stream')).toBe(spans.length);
    const metrics = await (await fetch(`${aio.http}/metrics`)).text();
    expect(metrics).toMatch(/ssf_gateway_tenant_limited_total\{protocol="tcp",tenant="acme"\} [1-9]/);
    expect(metrics).not.toMatch(/ssf_gateway_dropped_total\{protocol="tcp"/);
  });

  it('UDP datagrams over the limit are dropped and counted', async () => {
    const { createSocket } = await import('node:dgram');
    const { encodeSpan } = await import('../../src/codec/span-codec.js');
    const [host, port] = (aio.where['udp'] as string).split(':');
    const udp = createSocket('udp4');
    const spans = Array.from({ length: 8 }, (_, i) => batch('udp', 100_000 + i * 40)).flat();
    for (const s of spans) await new Promise<void>((resolve) => udp.send(encodeSpan(s), Number(port), host, () => resolve()));
    udp.close();
    const metricsText = async (): Promise<string> => (await fetch(`${aio.http}/metrics`)).text();
    const deadline = Date.now() + 10_000;
    while (!/ssf_gateway_dropped_total\{protocol="udp",reason="tenant_limit"\} [1-9]/.test(await metricsText()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const metrics = await metricsText();
    expect(metrics).toMatch(/ssf_gateway_tenant_limited_total\{protocol="udp",tenant="acme"\} [1-9]/);
    const dropped = Number(/ssf_gateway_dropped_total\{protocol="udp",reason="tenant_limit"\} (\d+)/.exec(metrics)?.[1]);
    expect(dropped).toBeGreaterThan(0);
    // Nothing dropped is stored.
    await new Promise((r) => setTimeout(r, 500));
    expect(await countOf(aio, 'acme', 'udp')).toBeLessThanOrEqual(spans.length - dropped);
  });
});

describe('per-tenant ingest rate limit (one tenant)', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('tenant_one', { SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokA2=acme', ...LIMITS });
  }, 120_000);
  afterAll(async () => {
    await aio?.close();
  });

  it('tokens of one tenant only: nobody to be fair to, no limit', async () => {
    for (let i = 0; i < 12; i++) expect((await aio.post(batch('one', i * 40), i % 2 === 0 ? 'tokA' : 'tokA2')).status).toBe(200);
    expect(await countOf(aio, 'acme', 'one')).toBe(480);
  });
});

describe('per-tenant ingest rate limit (authentication off)', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('tenant_nolimit', LIMITS);
  }, 120_000);
  afterAll(async () => {
    await aio?.close();
  });

  it('one tenant: nobody to be fair to, no limit', async () => {
    for (let i = 0; i < 12; i++) expect((await aio.post(batch('solo', i * 40))).status).toBe(200);
    expect(await countOf(aio, 'default', 'solo')).toBe(480);
  });
});
