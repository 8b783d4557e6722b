/**
 * gateway.maxConnectionsPerSource against the real gateway, on each TCP
 * listener, and on the query API's own listener (distributed mode), with
 * gateway.capLoopbackSources (loopback sources are not capped otherwise; this
 * machine's tests have no other): one source (127.0.0.1) that holds its cap of connections has its
 * next ones closed as they are accepted, and counted; another source
 * (127.0.0.2, also loopback on Linux) is still answered; and a source whose
 * connections are gone may open as many again.
 */
import { request } from 'node:http';
import { connect as http2 } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportTraceServiceRequest } from '../../ingest/otlp/otlp-messages.js';
import { encodeFrame } from '../../src/codec/framing.js';
import { encodeBatch, encodeSpan } from '../../src/codec/index.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { startQueryApi } from '../../cli/query-api-command.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { clickhouseUrl } from '../setup/services.js';

const CAP = 4;
const ONE = '127.0.0.1';
const OTHER = '127.0.0.2';
const MS = 1_000_000n;
const NOW = BigInt(Date.now()) * MS;
const CODE = 'GW_ERR_SOURCE_TOO_MANY_CONNECTIONS';

let aio: AllInOne;
beforeAll(async () => {
  aio = await startAllInOne('ssf_source_cap', {
    SSF_GATEWAY_MAX_CONNECTIONS_PER_SOURCE: String(CAP),
    SSF_GATEWAY_CAP_LOOPBACK_SOURCES: 'true',
    SSF_GATEWAY_TCP_LISTEN: '127.0.0.1:0',
  });
}, 120_000);
afterAll(async () => aio?.close());

function hostPort(where: string): [string, number] {
  const at = where.lastIndexOf(':');
  return [where.slice(0, at).replace(/^http:\/\//, ''), Number(where.slice(at + 1))];
}

/** A raw connection from `from` to a listener, once established. */
function dial(where: string, from: string): Promise<Socket> {
  const [host, port] = hostPort(where);
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, localAddress: from }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes `text` and resolves with the first bytes the server answers: proof that the listener took the connection. */
function firstAnswer(s: Socket, text: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    s.once('data', (b: Buffer) => resolve(b.toString('latin1')));
    s.once('close', () => reject(new Error('closed without an answer')));
    s.write(text);
  });
}

/** Resolves with what the server sent before it closed the connection (nothing, for a refusal at accept). */
function closedByServer(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
  });
}

/** An HTTP request from `from`: status and body. */
function httpFrom(
  from: string,
  url: string,
  method = 'GET',
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, localAddress: from, headers: { connection: 'close', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Refusals of `code` on `protocol`, read from /metrics by the other source (the first one may be at its cap). */
async function refused(protocol: string, code = CODE): Promise<number> {
  const text = (await httpFrom(OTHER, `${aio.http}/metrics`)).body;
  const m = new RegExp(`ssf_gateway_refused_total\\{protocol="${protocol}",code="${code}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

async function spansOf(service: string): Promise<number> {
  const rows = await (
    await aio.ch.client.query({
      query: `SELECT count() AS n FROM ${aio.ch.database}.spans WHERE service = {service:String}`,
      query_params: { service },
      format: 'JSONEachRow',
    })
  ).json<{ n: string }>();
  return Number(rows[0]?.n ?? 0);
}

async function until(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

const HEALTHY = 'GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

function ssfBody(service: string): Buffer {
  return Buffer.from(encodeBatch([spanEvent({ traceId: 4242n, id: 1n, startTimestamp: NOW, endTimestamp: NOW + MS, name: 'op', service })]));
}

describe('connections per source on the HTTP listener', () => {
  it('closes the connections of a source past its cap as they are accepted, counts them, answers another source, and gives the slots back', async () => {
    // The server side of each connection of ONE the cap took (it destroys those it refuses before this
    // listener, added after it, sees them). Their 'close' runs after the cap's own.
    const serverSide: Socket[] = [];
    const watch = (s: Socket): void => {
      if (s.remoteAddress === ONE && !s.destroyed) serverSide.push(s);
    };
    aio.gateway.app.server.on('connection', watch);
    try {
      // The cap's connections, each answered (so each was taken by the listener), kept open.
      const held: Socket[] = [];
      for (let i = 0; i < CAP; i++) {
        const s = await dial(aio.http, ONE);
        expect(await firstAnswer(s, HEALTHY)).toMatch(/^HTTP\/1\.1 200 /);
        held.push(s);
      }
      for (let i = 0; i < 2; i++) expect(await closedByServer(await dial(aio.http, ONE))).toBe('');

      const other = await httpFrom(OTHER, `${aio.http}/v1/ssf`, 'POST', ssfBody('source-cap-http'), { 'content-type': 'application/x-protobuf' });
      expect(other.status).toBe(200);
      expect(other.body).toContain('"accepted":1');
      expect(await refused('http')).toBe(2);
      expect(await refused('http', 'GW_ERR_HTTP_TOO_MANY_CONNECTIONS')).toBe(0);
      // The held connections still answer.
      expect(await firstAnswer(held[0] as Socket, HEALTHY)).toMatch(/^HTTP\/1\.1 200 /);

      // Once its connections are gone (closed on the server's side too), the source may open as many again.
      expect(serverSide).toHaveLength(CAP);
      for (const s of held) s.destroy();
      await Promise.all(serverSide.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())))));
      const again: Socket[] = [];
      for (let i = 0; i < CAP; i++) {
        const s = await dial(aio.http, ONE);
        expect(await firstAnswer(s, HEALTHY)).toMatch(/^HTTP\/1\.1 200 /);
        again.push(s);
      }
      expect(await closedByServer(await dial(aio.http, ONE))).toBe('');
      expect(await refused('http')).toBe(3);
      for (const s of again) s.destroy();
    } finally {
      aio.gateway.app.server.off('connection', watch);
    }
  });
});

/** The cap's connections of ONE to `where`, each shown taken by its first answer to `hello`, then two more closed unanswered. */
async function fillAndOverflow(where: string, hello: string | Buffer, answer: RegExp | ((first: string) => boolean)): Promise<Socket[]> {
  const held: Socket[] = [];
  for (let i = 0; i < CAP; i++) {
    const s = await dial(where, ONE);
    const first = await firstAnswer(s, hello);
    if (answer instanceof RegExp) expect(first).toMatch(answer);
    else expect(answer(first)).toBe(true);
    held.push(s);
  }
  for (let i = 0; i < 2; i++) expect(await closedByServer(await dial(where, ONE))).toBe('');
  return held;
}

describe('connections per source on the OTLP listeners', () => {
  it('OTLP/HTTP: past the cap closed and counted; another source exports', async () => {
    const where = aio.where['otlp_http'] as string;
    // An empty export, answered 200 on a connection kept open.
    const empty = 'POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
    const held = await fillAndOverflow(where, empty, /^HTTP\/1\.1 200 /);
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'source-cap-otlp-http' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  name: 'op',
                  startTimeUnixNano: String(NOW),
                  endTimeUnixNano: String(NOW + MS),
                },
              ],
            },
          ],
        },
      ],
    });
    const other = await httpFrom(OTHER, `${where}/v1/traces`, 'POST', body, { 'content-type': 'application/json' });
    expect(other.status).toBe(200);
    expect(await refused('otlp_http')).toBe(2);
    expect(await refused('otlp_http', 'OTLP_ERR_TOO_MANY_CONNECTIONS')).toBe(0);
    for (const s of held) s.destroy();
    await until(async () => (await spansOf('source-cap-otlp-http')) === 1);
    expect(await spansOf('source-cap-otlp-http')).toBe(1);
  });

  it('OTLP/gRPC: past the cap closed before the HTTP/2 preface and counted; another source exports with grpc-status 0', async () => {
    const where = aio.where['otlp_grpc'] as string;
    // The client preface and an empty SETTINGS frame: a connection the listener took answers with its SETTINGS.
    const preface = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
    const held = await fillAndOverflow(where, preface, (first) => first.charCodeAt(3) === 4); // a frame of type 4, SETTINGS
    const [host, port] = hostPort(where);
    const session: ClientHttp2Session = http2(`http://${where}`, { createConnection: () => connect({ host, port, localAddress: OTHER }) });
    session.on('error', () => {});
    const message = ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'source-cap-otlp-grpc' } }] },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: Buffer.from('6b8efff798038103d269b633813fc60c', 'hex'),
                    spanId: Buffer.from('fee19b7ec3c1b174', 'hex'),
                    name: 'op',
                    startTimeUnixNano: String(NOW),
                    endTimeUnixNano: String(NOW + MS),
                  },
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const framed = Buffer.alloc(5 + message.length);
    framed.writeUInt32BE(message.length, 1);
    framed.set(message, 5);
    const call = session.request({
      ':method': 'POST',
      ':path': '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const status = new Promise<string>((resolve) => {
      let grpcStatus = '';
      call.on('response', (h) => (grpcStatus = String(h['grpc-status'] ?? grpcStatus)));
      call.on('trailers', (h) => (grpcStatus = String(h['grpc-status'] ?? grpcStatus)));
      call.on('error', () => {});
      call.on('close', () => resolve(grpcStatus));
      call.resume();
    });
    call.end(framed);
    expect(await status).toBe('0');
    session.close();
    expect(await refused('otlp_grpc')).toBe(2);
    expect(await refused('otlp_grpc', 'OTLP_ERR_TOO_MANY_CONNECTIONS')).toBe(0);
    for (const s of held) s.destroy();
  });
});

describe('connections per source on the framed stream (TCP)', () => {
  it('past the cap closed and counted; the held connections and another source write spans', async () => {
    const where = aio.where['tcp'] as string;
    // The listener answers nothing: connections established one after another are accepted in that
    // order (the kernel's queue), so the first CAP are taken and the next two refused.
    const held: Socket[] = [];
    for (let i = 0; i < CAP; i++) held.push(await dial(where, ONE));
    for (let i = 0; i < 2; i++) expect(await closedByServer(await dial(where, ONE))).toBe('');
    expect(held.every((s) => !s.destroyed)).toBe(true);
    const frame = (service: string): Buffer =>
      Buffer.from(encodeFrame(encodeSpan(spanEvent({ traceId: 777n, id: 1n, startTimestamp: NOW, endTimestamp: NOW + MS, name: 'op', service }))));
    const other = await dial(where, OTHER);
    other.end(frame('source-cap-tcp-other'));
    (held[0] as Socket).end(frame('source-cap-tcp-held'));
    await until(async () => (await spansOf('source-cap-tcp-other')) === 1 && (await spansOf('source-cap-tcp-held')) === 1);
    expect(await spansOf('source-cap-tcp-other')).toBe(1);
    expect(await spansOf('source-cap-tcp-held')).toBe(1);
    expect(await refused('tcp')).toBe(2);
    expect(await refused('tcp', 'GW_ERR_STREAM_TOO_MANY_CONNECTIONS')).toBe(0);
    for (const s of held) s.destroy();
  });
});

describe('connections per source on the query API listener (distributed mode)', () => {
  it('past the cap closed and counted; another source is answered', async () => {
    const api = await startQueryApi(
      loadConfig({
        env: {
          SSF_CLICKHOUSE_URL: clickhouseUrl(),
          SSF_CLICKHOUSE_DATABASE: aio.ch.database,
          SSF_QUERY_LISTEN: '127.0.0.1:0',
          SSF_GATEWAY_MAX_CONNECTIONS_PER_SOURCE: String(CAP),
          SSF_GATEWAY_CAP_LOOPBACK_SOURCES: 'true',
          SSF_LOG_LEVEL: 'warn',
        },
      }),
    );
    try {
      const held = await fillAndOverflow(api.url, HEALTHY, /^HTTP\/1\.1 200 /);
      const sql = await httpFrom(OTHER, `${api.url}/v1/sql`, 'POST', JSON.stringify({ sql: 'SELECT 1 AS one' }), { 'content-type': 'application/json' });
      expect(sql.status).toBe(200);
      expect(sql.body).toContain('"one"');
      const metrics = (await httpFrom(OTHER, `${api.url}/metrics`)).body;
      expect(metrics).toContain('ssf_query_refused_total{code="QUERY_ERR_SOURCE_TOO_MANY_CONNECTIONS"} 2');
      for (const s of held) s.destroy();
    } finally {
      await api.close();
    }
  });
});
