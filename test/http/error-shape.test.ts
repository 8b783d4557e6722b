import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/create-http-server.js';

/** Sends raw bytes to the server and resolves with everything it answers until it closes the connection. */
function raw(port: number, request: string, later?: { write: Promise<string> }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(request);
      void later?.write.then((more) => socket.write(more));
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 5_000);
  });
}

/** The JSON bodies of the HTTP responses in a raw answer. */
function bodies(answer: string): Array<{ status: number; body: unknown }> {
  const out: Array<{ status: number; body: unknown }> = [];
  for (const m of answer.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g)) {
    const length = Number(/content-length: (\d+)/i.exec(m[2] as string)?.[1] ?? 0);
    const start = (m.index ?? 0) + m[0].length;
    out.push({ status: Number(m[1]), body: JSON.parse(answer.slice(start, start + length)) });
  }
  return out;
}

describe('the one error shape, also for requests fastify never routes', () => {
  it('answers a malformed Content-Length with 400 { error: { code, reason } } and closes', async () => {
    const app = createHttpServer({ logLevel: false, bodyLimit: 1024 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    try {
      const answer = await raw(port, 'POST /v1/ssf HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\nhello');
      const [first] = bodies(answer);
      expect(first?.status).toBe(400);
      expect(first?.body).toEqual({ error: { code: 'HTTP_ERR_BAD_REQUEST', reason: expect.stringContaining('malformed HTTP request') } });
      const twice = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n');
      expect(bodies(twice)[0]?.status).toBe(400);
    } finally {
      await app.close();
    }
  });

  it('answers requests that arrive while the server closes with 503, Retry-After and the error shape', async () => {
    const app = createHttpServer({ logLevel: false, bodyLimit: 1024 });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    app.get('/slow', async () => {
      started();
      await held;
      return { done: true };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    // Two requests on one connection: the second is sent once the server has begun to close
    // (a connection with a request in flight stays open until it is answered).
    let sendSecond: (text: string) => void = () => {};
    const write = new Promise<string>((resolve) => {
      sendSecond = resolve;
    });
    const answer = raw(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n', { write });
    await inFlight;
    const closing = app.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    sendSecond('GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await closing;
    const [first, second] = bodies(await answer);
    expect(first).toEqual({ status: 200, body: { done: true } });
    expect(second?.status).toBe(503);
    expect(second?.body).toEqual({ error: { code: 'HTTP_ERR_SHUTTING_DOWN', reason: expect.any(String) } });
    expect(await answer).toMatch(/retry-after: 1/i);
  });
});

describe('the one error shape for URLs the router refuses', () => {
  it('answers a path with a bad percent-escape or an over-long parameter in { error: { code, reason } }, with a request id', async () => {
    const app = createHttpServer({ logLevel: false, bodyLimit: 1024 });
    app.get('/v1/traces/:id', async (request) => ({ id: (request.params as { id: string }).id }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      // fastify answered both itself: {"error":"Bad Request","code":"FST_ERR_BAD_URL",...} and 414 FST_ERR_MAX_PARAM_LENGTH.
      const bad = await fetch(`${base}/v1/traces/%zz`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: { code: 'HTTP_ERR_BAD_REQUEST', reason: expect.stringContaining('not a valid url component') } });
      expect(bad.headers.get('x-request-id')).toMatch(/./);
      const long = await fetch(`${base}/v1/traces/${'0'.repeat(5000)}`);
      expect(long.status).toBe(414);
      const body = (await long.json()) as { error: { code: string; reason: string } };
      expect(body).toEqual({ error: { code: 'HTTP_ERR_BAD_REQUEST', reason: expect.stringContaining('longer than') } });
      expect(body.error.reason.length).toBeLessThan(200);
      expect(long.headers.get('x-request-id')).toMatch(/./);
      expect(await (await fetch(`${base}/v1/traces/abc`)).json()).toEqual({ id: 'abc' });
    } finally {
      await app.close();
    }
  });
});

describe('a request that does not arrive whole in time', () => {
  it('is answered 408 in the one error shape and its connection closed, though its bytes keep coming', async () => {
    const app = createHttpServer({ logLevel: false, bodyLimit: 1_048_576, requestTimeoutMs: 500 });
    app.post('/upload', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    try {
      // Half of an announced body, then a byte at a time: before, fastify's requestTimeout 0 let it hold its buffer for ever.
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n');
          socket.write(Buffer.alloc(500_000));
        });
        const drip = setInterval(() => socket.writable && socket.write('x'), 100);
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => {
          text += d;
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(drip);
          resolve(text);
        });
        setTimeout(() => socket.destroy(), 10_000);
      });
      const [first] = bodies(answer);
      expect(first?.status).toBe(408);
      expect(first?.body).toEqual({ error: { code: 'HTTP_ERR_BAD_REQUEST', reason: 'the request took too long to arrive' } });
    } finally {
      await app.close();
    }
  });
});

describe('a body type no route reads', () => {
  it('answers a body type no route reads (curl -d without a Content-Type) 415 naming the type received and what to send', async () => {
    const app = createHttpServer({ logLevel: false, bodyLimit: 1024 });
    app.post('/v1/sql', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = app.server.address() as { port: number };
      // What `curl -d '{"sql":"..."}' URL` sends.
      const r = await fetch(`http://127.0.0.1:${address.port}/v1/sql`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '{"sql":"SELECT 1"}',
      });
      expect(r.status).toBe(415);
      const body = (await r.json()) as { error: { code: string; reason: string } };
      expect(body.error.code).toBe('GW_ERR_CONTENT_TYPE');
      expect(body.error.reason).toContain('Content-Type "application/x-www-form-urlencoded" is not accepted here');
      expect(body.error.reason).toContain("-H 'content-type: application/json'");
    } finally {
      await app.close();
    }
  });
});
