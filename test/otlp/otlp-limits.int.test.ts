/**
 * The OTLP receivers' bounds, against the real gateway with small settings:
 * streams per connection, bytes held across streams, a deadline per call and
 * per request, idle connections, connections per listener; and every refusal
 * (a bad gRPC prefix, an unknown path, a missing token, a client that went
 * away, an unexpected error) answered in the catalog's shape and counted.
 */
import { connect } from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { connect as tcp } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportTraceServiceRequest, RpcStatus } from '../../ingest/otlp/otlp-messages.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

const TRACES = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const MiB = 1_048_576;

let aio: AllInOne;

beforeAll(async () => {
  aio = await startAllInOne('otlp_limits', {
    SSF_GATEWAY_OTLP_REQUEST_TIMEOUT_S: '1',
    SSF_GATEWAY_OTLP_IDLE_TIMEOUT_S: '1',
    SSF_GATEWAY_OTLP_MAX_IN_FLIGHT_BYTES: String(4 * MiB),
    SSF_GATEWAY_OTLP_MAX_CONCURRENT_STREAMS: '8',
  });
}, 120_000);

afterAll(async () => {
  await aio?.close();
});

async function metricsText(): Promise<string> {
  return (await fetch(`${aio.http}/metrics`)).text();
}

function refused(text: string, protocol: string, code: string): number {
  const m = new RegExp(`ssf_gateway_refused_total\\{protocol="${protocol}",code="${code}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

function hostPort(where: string): [string, number] {
  const at = where.lastIndexOf(':');
  return [where.slice(0, at).replace(/^http:\/\//, ''), Number(where.slice(at + 1))];
}

function grpcSession(): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(`http://${aio.where['otlp_grpc'] as string}`);
    s.once('remoteSettings', () => resolve(s));
    s.once('error', reject);
  });
}

/** The grpc-* headers and trailers a stream ends with, or `reset` when it was closed without them. */
function outcome(req: ClientHttp2Stream): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    const out: Record<string, string> = {};
    const take = (h: Record<string, unknown>): void => {
      for (const [k, v] of Object.entries(h)) if (k.startsWith('grpc-')) out[k] = String(v);
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('error', () => {});
    req.on('close', () => resolve(req.rstCode && !out['grpc-status'] ? { ...out, reset: String(req.rstCode) } : out));
    req.resume();
  });
}

function open(session: ClientHttp2Session, path = TRACES, headers: Record<string, string> = {}): ClientHttp2Stream {
  return session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
}

function framed(message: Uint8Array, flag = 0): Buffer {
  const b = Buffer.alloc(5 + message.length);
  b[0] = flag;
  b.writeUInt32BE(message.length, 1);
  b.set(message, 5);
  return b;
}

function oneSpan(service: string): Uint8Array {
  const now = BigInt(Date.now()) * 1_000_000n;
  return ExportTraceServiceRequest.encode(
    ExportTraceServiceRequest.fromObject({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
                  spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
                  name: 'op',
                  startTimeUnixNano: String(now - 1_000_000n),
                  endTimeUnixNano: String(now),
                },
              ],
            },
          ],
        },
      ],
    }),
  ).finish();
}

/** Writes `bytes` to a raw socket to `where` and resolves with everything the server sent until it closed the connection. */
function raw(where: string, send: (s: Socket) => void, giveUpMs = 10_000): Promise<string> {
  const [host, port] = hostPort(where);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = tcp(port, host, () => send(s));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks).toString());
    });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`the server did not close the connection within ${giveUpMs} ms`));
    }, giveUpMs);
  });
}

describe('OTLP/gRPC bounds', () => {
  it('announces a bound on streams per connection', async () => {
    const s = await grpcSession();
    expect(s.remoteSettings.maxConcurrentStreams).toBe(8);
    s.close();
  });

  it('streams that declare 8 MiB and never end: past the byte budget RESOURCE_EXHAUSTED, the rest DEADLINE_EXCEEDED; then it takes data again', async () => {
    const before = await metricsText();
    const s = await grpcSession();
    const streams = Array.from({ length: 6 }, () => open(s));
    const ends = streams.map(outcome);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(8 * MiB, 1);
    for (const req of streams) {
      req.write(prefix);
      req.write(Buffer.alloc(MiB, 1)); // 1 MiB of 8, then nothing: 6 MiB asked of a 4 MiB budget
    }
    const results = await Promise.race([
      Promise.all(ends),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('streams still open after 10 s')), 10_000)),
    ]);
    const statuses = results.map((r) => r['grpc-status']);
    expect(statuses.filter((x) => x === '8').length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((x) => x === '4').length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((x) => x === '8' || x === '4')).toBe(true);
    const busy = results.find((r) => r['grpc-status'] === '8');
    expect(decodeURIComponent(busy?.['grpc-message'] ?? '')).toMatch(/^OTLP_ERR_BUSY: /);
    expect(busy?.['grpc-status-details-bin']).toBeDefined(); // RetryInfo: a retry can succeed
    const late = results.find((r) => r['grpc-status'] === '4');
    expect(decodeURIComponent(late?.['grpc-message'] ?? '')).toMatch(/^OTLP_ERR_REQUEST_TIMEOUT: /);
    const after = await metricsText();
    expect(refused(after, 'otlp_grpc', 'OTLP_ERR_BUSY') - refused(before, 'otlp_grpc', 'OTLP_ERR_BUSY')).toBe(statuses.filter((x) => x === '8').length);
    expect(refused(after, 'otlp_grpc', 'OTLP_ERR_REQUEST_TIMEOUT') - refused(before, 'otlp_grpc', 'OTLP_ERR_REQUEST_TIMEOUT')).toBe(
      statuses.filter((x) => x === '4').length,
    );
    // Every byte was given back: a normal call is taken.
    const ok = open(s);
    const done = outcome(ok);
    ok.end(framed(oneSpan('otlp-limits-after')));
    expect((await done)['grpc-status']).toBe('0');
    s.close();
  });

  it('closes a connection that opens no call for the idle time, and one that never says a word', async () => {
    const s = await grpcSession();
    const closed = await Promise.race([
      new Promise<boolean>((resolve) => s.on('close', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ]);
    expect(closed).toBe(true);
    // A TCP connection that never sends the HTTP/2 preface.
    await raw(aio.where['otlp_grpc'] as string, () => {});
  });

  it('refuses a compressed flag other than 0 or 1 with INTERNAL (as the gRPC specification and grpc-go), counted', async () => {
    const before = refused(await metricsText(), 'otlp_grpc', 'OTLP_ERR_GRPC_FRAME');
    const s = await grpcSession();
    const req = open(s);
    const done = outcome(req);
    req.end(framed(oneSpan('otlp-limits-flag'), 2));
    const r = await done;
    s.close();
    expect(r['grpc-status']).toBe('13');
    expect(decodeURIComponent(r['grpc-message'] ?? '')).toMatch(/^OTLP_ERR_GRPC_FRAME: .*compressed flag is 2/);
    expect(refused(await metricsText(), 'otlp_grpc', 'OTLP_ERR_GRPC_FRAME')).toBe(before + 1);
  });

  it('counts an unknown method and a client that goes away mid-message', async () => {
    const before = await metricsText();
    const s = await grpcSession();
    const unknown = open(s, '/opentelemetry.proto.collector.trace.v1.TraceService/Nope');
    const u = outcome(unknown);
    unknown.end();
    expect((await u)['grpc-status']).toBe('12');
    s.close();
    // A client that dies mid-message (its connection drops).
    const dying = await grpcSession();
    const half = open(dying);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(1000, 1);
    half.write(Buffer.concat([prefix, Buffer.alloc(100)]));
    await new Promise((r) => setTimeout(r, 100));
    dying.destroy();
    const deadline = Date.now() + 5_000;
    let after = await metricsText();
    while (refused(after, 'otlp_grpc', 'OTLP_ERR_CLIENT_CLOSED') === refused(before, 'otlp_grpc', 'OTLP_ERR_CLIENT_CLOSED') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      after = await metricsText();
    }
    expect(refused(after, 'otlp_grpc', 'OTLP_ERR_NOT_FOUND')).toBe(refused(before, 'otlp_grpc', 'OTLP_ERR_NOT_FOUND') + 1);
    expect(refused(after, 'otlp_grpc', 'OTLP_ERR_CLIENT_CLOSED')).toBe(refused(before, 'otlp_grpc', 'OTLP_ERR_CLIENT_CLOSED') + 1);
  });
});

describe('OTLP/HTTP bounds', () => {
  it('answers 408 to a body that does not arrive within the request deadline, counted, and closes the connection', async () => {
    const before = refused(await metricsText(), 'otlp_http', 'OTLP_ERR_REQUEST_TIMEOUT');
    const answer = await raw(aio.where['otlp_http'] as string, (s) =>
      s.write('POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"resourceSpans":'),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/OTLP_ERR_REQUEST_TIMEOUT/);
    expect(refused(await metricsText(), 'otlp_http', 'OTLP_ERR_REQUEST_TIMEOUT')).toBe(before + 1);
  });

  it('answers 408 to headers that trickle in, counted', async () => {
    const before = refused(await metricsText(), 'otlp_http', 'OTLP_ERR_REQUEST_TIMEOUT');
    const answer = await raw(aio.where['otlp_http'] as string, (s) => {
      s.write('POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const drip = setInterval(() => (s.writable ? s.write('X-A: b\r\n') : clearInterval(drip)), 200);
      s.on('close', () => clearInterval(drip));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 4, message: expect.stringMatching(/^OTLP_ERR_REQUEST_TIMEOUT/) });
    expect(refused(await metricsText(), 'otlp_http', 'OTLP_ERR_REQUEST_TIMEOUT')).toBe(before + 1);
  });

  it('closes a connection that never sends a request', async () => {
    const answer = await raw(aio.where['otlp_http'] as string, () => {});
    expect(answer === '' || /^HTTP\/1\.1 408 /.test(answer)).toBe(true);
  });

  it('answers 429 OTLP_ERR_BUSY with Retry-After while other requests hold the byte budget', async () => {
    const before = refused(await metricsText(), 'otlp_http', 'OTLP_ERR_CLIENT_CLOSED');
    const [host, port] = hostPort(aio.where['otlp_http'] as string);
    // Two requests hold 2 x 2 MiB of the 4 MiB budget with their bodies unfinished.
    const holders = [0, 1].map(
      () =>
        new Promise<Socket>((resolve) => {
          const s = tcp(port, host, () => {
            s.write(`POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${3 * MiB}\r\n\r\n`);
            s.write(Buffer.alloc(2 * MiB), () => resolve(s));
          });
          s.on('error', () => {});
        }),
    );
    const sockets = await Promise.all(holders);
    await new Promise((r) => setTimeout(r, 200));
    const r = await fetch(`${aio.where['otlp_http'] as string}/v1/traces`, {
      method: 'POST',
      body: Buffer.alloc(512 * 1024),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    for (const s of sockets) s.destroy();
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(RpcStatus.decode(Buffer.from(await r.arrayBuffer())).message).toMatch(/^OTLP_ERR_BUSY: /);
    // The two holders went away mid-body: counted, and their bytes given back.
    const deadline = Date.now() + 5_000;
    while (refused(await metricsText(), 'otlp_http', 'OTLP_ERR_CLIENT_CLOSED') < before + 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(refused(await metricsText(), 'otlp_http', 'OTLP_ERR_CLIENT_CLOSED')).toBe(before + 2);
    const ok = await fetch(`${aio.where['otlp_http'] as string}/v1/traces`, {
      method: 'POST',
      body: Buffer.alloc(0),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    expect(ok.status).toBe(200);
  });

  it('counts an unknown path and a client that goes away mid-body', async () => {
    const before = await metricsText();
    expect((await fetch(`${aio.where['otlp_http'] as string}/v1/spans`, { method: 'POST', body: '{}' })).status).toBe(404);
    const [host, port] = hostPort(aio.where['otlp_http'] as string);
    await new Promise<void>((resolve) => {
      const s = tcp(port, host, () => {
        s.write('POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"resourceSpans":');
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 100);
      });
    });
    const deadline = Date.now() + 5_000;
    let after = await metricsText();
    while (refused(after, 'otlp_http', 'OTLP_ERR_CLIENT_CLOSED') === refused(before, 'otlp_http', 'OTLP_ERR_CLIENT_CLOSED') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      after = await metricsText();
    }
    expect(refused(after, 'otlp_http', 'OTLP_ERR_NOT_FOUND')).toBe(refused(before, 'otlp_http', 'OTLP_ERR_NOT_FOUND') + 1);
    expect(refused(after, 'otlp_http', 'OTLP_ERR_CLIENT_CLOSED')).toBe(refused(before, 'otlp_http', 'OTLP_ERR_CLIENT_CLOSED') + 1);
  });
});

describe('compressed bodies count in the byte budget as they inflate', () => {
  /** A valid, empty export request of `bytes` bytes: one unknown field (15, bytes) of zeros, which protobuf skips. */
  function padded(bytes: number): Buffer {
    const n = bytes - 5;
    return Buffer.concat([Buffer.from([0x7a, 0x80 | (n & 0x7f), 0x80 | ((n >> 7) & 0x7f), 0x80 | ((n >> 14) & 0x7f), n >> 21]), Buffer.alloc(n)]);
  }
  /** Holds `bytes` of the budget with an HTTP body that never ends; destroy the socket to give them back. */
  function holder(bytes: number): Promise<Socket> {
    const [host, port] = hostPort(aio.where['otlp_http'] as string);
    return new Promise<Socket>((resolve) => {
      const s = tcp(port, host, () => {
        s.write(`POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${bytes + MiB}\r\n\r\n`);
        s.write(Buffer.alloc(bytes), () => resolve(s));
      });
      s.on('error', () => {});
    });
  }
  function postGzip(body: Buffer): Promise<Response> {
    return fetch(`${aio.where['otlp_http'] as string}/v1/traces`, {
      method: 'POST',
      body: gzipSync(body),
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
    });
  }
  async function grpcGzip(body: Buffer): Promise<Record<string, string>> {
    const s = await grpcSession();
    const req = open(s, TRACES, { 'grpc-encoding': 'gzip' });
    const done = outcome(req);
    req.end(framed(gzipSync(body), 1));
    const r = await done;
    s.close();
    return r;
  }

  it('a small body inflating past what is left of the budget: 429 OTLP_ERR_BUSY on HTTP, RESOURCE_EXHAUSTED on gRPC; taken once there is room', async () => {
    // 3 MiB inflated from a few KiB: the budget (4 MiB) counted only the few KiB, so N such requests held N x 3 MiB
    // (and at the defaults N x 64 MiB: a few dozen concurrent gzip bombs of 64 KiB each took gigabytes).
    const body = padded(3 * MiB);
    const s = await holder(2 * MiB);
    await new Promise((r) => setTimeout(r, 200));
    const r = await postGzip(body);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(RpcStatus.decode(Buffer.from(await r.arrayBuffer())).message).toMatch(/^OTLP_ERR_BUSY: /);
    const g = await grpcGzip(body);
    expect(g['grpc-status']).toBe('8');
    expect(decodeURIComponent(g['grpc-message'] ?? '')).toMatch(/^OTLP_ERR_BUSY: /);
    s.destroy();
    // The holder's bytes are given back once the server sees it gone.
    const deadline = Date.now() + 5_000;
    let ok = await postGzip(body);
    while (ok.status === 429 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      ok = await postGzip(body);
    }
    expect(ok.status).toBe(200);
    expect((await grpcGzip(body))['grpc-status']).toBe('0');
  });

  it('a body inflating past the whole budget alone: 413, not a 429 that no retry could pass', async () => {
    const r = await postGzip(padded(5 * MiB));
    expect(r.status).toBe(413);
    expect(RpcStatus.decode(Buffer.from(await r.arrayBuffer())).message).toMatch(/^OTLP_ERR_BODY_TOO_LARGE: .*gateway.otlpMaxInFlightBytes/);
    const g = await grpcGzip(padded(5 * MiB));
    expect(g['grpc-status']).toBe('8');
    expect(decodeURIComponent(g['grpc-message'] ?? '')).toMatch(/^OTLP_ERR_BODY_TOO_LARGE: /);
  });
});

describe('an unexpected error in the OTLP receivers', () => {
  it('is answered 500 / INTERNAL with its grpc-status, in the catalog, and counted', async () => {
    const intake = aio.gateway.intake;
    const real = intake.fromEncoded.bind(intake);
    // A fault inside the gateway (a bug, an allocation failure) on the conversion path JSON takes.
    intake.fromEncoded = () => {
      throw new RangeError('Array buffer allocation failed');
    };
    try {
      const before = await metricsText();
      const body = JSON.stringify({
        resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'x' }] }] }],
      });
      const r = await fetch(`${aio.where['otlp_http'] as string}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(500);
      expect(await r.json()).toMatchObject({ code: 13, message: expect.stringMatching(/^OTLP_ERR_INTERNAL: /) });
      // gRPC: metrics take the same general path.
      const s = await grpcSession();
      const req = open(s, '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export');
      const done = outcome(req);
      req.end(framed(Buffer.from([0x0a, 0x00])));
      const g = await done;
      s.close();
      expect(g['grpc-status']).toBe('13');
      expect(decodeURIComponent(g['grpc-message'] ?? '')).toMatch(/^OTLP_ERR_INTERNAL: /);
      const after = await metricsText();
      expect(refused(after, 'otlp_http', 'OTLP_ERR_INTERNAL')).toBe(refused(before, 'otlp_http', 'OTLP_ERR_INTERNAL') + 1);
      expect(refused(after, 'otlp_grpc', 'OTLP_ERR_INTERNAL')).toBe(refused(before, 'otlp_grpc', 'OTLP_ERR_INTERNAL') + 1);
    } finally {
      intake.fromEncoded = real;
    }
  });
});

describe('OTLP connections per listener', () => {
  let small: AllInOne;
  beforeAll(async () => {
    small = await startAllInOne('otlp_conns', { SSF_GATEWAY_OTLP_MAX_CONNECTIONS: '2', SSF_GATEWAY_AUTH_TOKENS: 'tok=acme' });
  }, 120_000);
  afterAll(async () => small?.close());

  it('closes one past gateway.otlpMaxConnections as it is accepted, counted, on both listeners', async () => {
    for (const [name, protocol] of [
      ['otlp_http', 'otlp_http'],
      ['otlp_grpc', 'otlp_grpc'],
    ] as const) {
      const [host, port] = hostPort(small.where[name] as string);
      const held = await Promise.all(
        [0, 1].map(
          () =>
            new Promise<Socket>((resolve) => {
              const s = tcp(port, host, () => resolve(s));
              s.on('error', () => {});
            }),
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
      const third = await raw(small.where[name] as string, () => {}, 5_000);
      expect(third).toBe('');
      for (const s of held) s.destroy();
      const text = await (await fetch(`${small.http}/metrics`)).text();
      expect(refused(text, protocol, 'OTLP_ERR_TOO_MANY_CONNECTIONS')).toBe(1);
    }
  });

  it('counts requests without a valid token, over HTTP and gRPC', async () => {
    await new Promise((r) => setTimeout(r, 200)); // the sockets of the test before are gone
    const r = await fetch(`${small.where['otlp_http'] as string}/v1/traces`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(401);
    const s = connect(`http://${small.where['otlp_grpc'] as string}`);
    const req = s.request({ ':method': 'POST', ':path': TRACES, 'content-type': 'application/grpc', te: 'trailers', authorization: 'Bearer nope' });
    const done = outcome(req);
    req.end(framed(oneSpan('x')));
    expect((await done)['grpc-status']).toBe('16');
    s.close();
    const text = await (await fetch(`${small.http}/metrics`)).text();
    expect(refused(text, 'otlp_http', 'AUTH_ERR_MISSING_TOKEN')).toBe(1);
    expect(refused(text, 'otlp_grpc', 'AUTH_ERR_BAD_TOKEN')).toBe(1);
  });
});
