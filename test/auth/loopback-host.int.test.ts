/**
 * With authentication off (listeners on loopback, no tokens: `npm start`),
 * a web page of any site could point its own name at 127.0.0.1 (DNS
 * rebinding) and read the query API and write to the gateway as its own
 * origin. The browser sends that name as Host; the listeners answer only a
 * loopback one (docs/security.md).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanEvent } from '../../src/codec/span-event.js';
import { encodeBatch } from '../../src/codec/index.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

interface Answer {
  status: number;
  body: string;
}

/** A request to `base` (http://127.0.0.1:port) whose Host header is `host`, as a browser sends the name it resolved. */
function send(base: string, path: string, host: string, body: Buffer | string, contentType: string): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { host, 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const span = spanEvent({
  traceId: 7n,
  id: 1n,
  startTimestamp: BigInt(Date.now()) * 1_000_000n,
  endTimestamp: BigInt(Date.now()) * 1_000_000n + 1_000_000n,
  service: 'private-service',
  name: 'GET /',
  tags: {},
  isTrace: true,
});

describe('authentication off: the listeners answer only a loopback Host', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_rebind');
    expect((await aio.post([span])).status).toBe(200);
  });
  afterAll(async () => aio?.close());

  const port = (base: string): string => new URL(base).port;
  const sql = JSON.stringify({ sql: 'SELECT service FROM spans' });

  it('a rebound name reads nothing through the query API: 403 AUTH_ERR_HOST', async () => {
    const a = await send(aio.http, '/v1/sql', `rebind.example:${port(aio.http)}`, sql, 'application/json');
    expect(a.status, a.body).toBe(403);
    expect(JSON.parse(a.body).error.code).toBe('AUTH_ERR_HOST');
    expect(a.body).not.toContain('private-service');
  });

  it('writes nothing through /v1/ssf or OTLP/HTTP either', async () => {
    const ssf = await send(aio.http, '/v1/ssf', `rebind.example:${port(aio.http)}`, Buffer.from(encodeBatch([span])), 'application/x-protobuf');
    expect(ssf.status, ssf.body).toBe(403);
    expect(ssf.body).toContain('AUTH_ERR_HOST');
    const otlp = aio.where['otlp_http'] as string;
    const traces = await send(otlp, '/v1/traces', `rebind.example:${port(otlp)}`, '{"resourceSpans":[]}', 'application/json');
    expect(traces.status, traces.body).toBe(403);
    expect(traces.body).toContain('AUTH_ERR_HOST');
  });

  it('answers the loopback names as before', async () => {
    for (const host of [`127.0.0.1:${port(aio.http)}`, `localhost:${port(aio.http)}`]) {
      const a = await send(aio.http, '/v1/sql', host, sql, 'application/json');
      expect(a.status, `${host}: ${a.body}`).toBe(200);
      expect(a.body).toContain('private-service');
    }
  });
});
