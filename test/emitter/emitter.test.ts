import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmitter, extractTraceparent, injectTraceparent, silentLogger } from '../../src/emitter/index.js';
import type { Emitter, EmitterLogger } from '../../src/emitter/index.js';
import { decodeSpan, FrameReader } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { decodeBatchBody, streamReceiver, streamServer, udpReceiver, waitFor } from './helpers.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function emitter(options: Parameters<typeof createEmitter>[0]): Emitter {
  const e = createEmitter({ logger: silentLogger, service: 'checkout', ...options });
  cleanup.push(() => e.close());
  return e;
}

describe('spans over UDP', () => {
  it('sends finished spans with automatic parents through async work', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = emitter({ address: rx.address });
    await e.withSpan('request', async (root) => {
      root.setTag('route', '/pay').setIndicator();
      await new Promise((r) => setTimeout(r, 5));
      await e.withSpan('db.query', async () => {
        await new Promise((r) => setTimeout(r, 2));
      });
      e.withSpan('fails', () => {
        try {
          e.withSpan('inner', () => {
            throw new TypeError('boom');
          });
        } catch {
          // the application's own error is passed through
        }
      });
    });
    await e.flush();
    await waitFor(() => rx.spans.length === 4);
    const byName = new Map(rx.spans.map((s) => [s.name, s]));
    const root = byName.get('request') as SpanEvent;
    expect(root.isTrace).toBe(true);
    expect(root.traceId).toBe(root.id);
    expect(root.parentId).toBe(0n);
    expect(root.indicator).toBe(true);
    expect(root.tags).toEqual({ route: '/pay' });
    expect(root.service).toBe('checkout');
    expect(root.endTimestamp - root.startTimestamp).toBeGreaterThanOrEqual(5_000_000n);
    expect(byName.get('db.query')).toMatchObject({ traceId: root.id, parentId: root.id, error: false });
    const fails = byName.get('fails') as SpanEvent;
    expect(byName.get('inner')).toMatchObject({ parentId: fails.id, error: true, tags: { 'error.type': 'TypeError', 'error.message': 'boom' } });
    expect(e.stats()).toMatchObject({ emitted: 4, sent: 4 });
  });

  it('drops and counts a span too large for a datagram instead of truncating it', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = emitter({ address: rx.address, maxDatagramBytes: 1000 });
    e.startSpan('big', { tags: { blob: 'x'.repeat(2000) } }).finish();
    e.startSpan('small').finish();
    await e.flush();
    await waitFor(() => rx.spans.length === 1);
    expect(rx.spans[0]?.name).toBe('small');
    expect(e.stats().dropped.too_large).toBe(1);
  });

  it('sends metrics attached to a span with the span, and standalone metrics in carrier spans', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = emitter({ address: rx.address, tags: { env: 'test' } });
    e.withSpan('job', (span) => {
      span.counter('job.items', 3).timer('job.step', 12.5);
    });
    e.counter('hits', 2, { tags: { code: '200' }, unit: 'requests', scope: 'global' });
    e.gauge('queue.depth', 17);
    e.histogram('payload', 512, { unit: 'bytes' });
    e.set('users', 'alice');
    e.status('db.ok', 'critical', { message: 'replica lag' });
    await e.flush();
    await waitFor(() => rx.spans.length === 2);
    const job = rx.spans.find((s) => s.isTrace) as SpanEvent;
    expect(job.metrics.map((m) => [m.type, m.name, m.value, m.unit])).toEqual([
      ['counter', 'job.items', 3, ''],
      ['histogram', 'job.step', 12.5, 'ms'],
    ]);
    expect(job.tags).toEqual({ env: 'test' });
    const carrier = rx.spans.find((s) => !s.isTrace) as SpanEvent;
    expect(carrier.service).toBe('checkout');
    expect(carrier.metrics.map((m) => [m.type, m.name])).toEqual([
      ['counter', 'hits'],
      ['gauge', 'queue.depth'],
      ['histogram', 'payload'],
      ['set', 'users'],
      ['status', 'db.ok'],
    ]);
    expect(carrier.metrics[0]).toMatchObject({ tags: { env: 'test', code: '200' }, unit: 'requests', scope: 'global', sampleRate: 1 });
    expect(carrier.metrics[3]?.message).toBe('alice');
    expect(carrier.metrics[4]).toMatchObject({ status: 'critical', message: 'replica lag' });
    expect(carrier.metrics[0]?.timestamp).toBeGreaterThan(1_600_000_000_000_000_000n);
  });

  it('applies client-side sample rates and sends the rate', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = emitter({ address: rx.address });
    for (let i = 0; i < 2000; i++) e.counter('sampled', 1, { sampleRate: 0.25 });
    await e.flush();
    const sent = e.stats().sent;
    expect(sent).toBeGreaterThan(350);
    expect(sent).toBeLessThan(650);
    await waitFor(() => rx.spans.reduce((n, s) => n + s.metrics.length, 0) === sent);
    expect(rx.spans[0]?.metrics[0]?.sampleRate).toBeCloseTo(0.25);
    expect(e.stats().sampledOut).toBe(2000 - sent);
  });

  it('samples whole traces: children follow the root decision; their metrics are still sent', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = emitter({ address: rx.address, traceSampleRate: 0 });
    e.withSpan('root', (root) => {
      root.counter('kept', 1);
      e.withSpan('child', () => {});
    });
    await e.flush();
    await waitFor(() => rx.spans.length === 1);
    expect(rx.spans[0]).toMatchObject({ isTrace: false, id: 0n });
    expect(rx.spans[0]?.metrics.map((m) => m.name)).toEqual(['kept']);
  });
});

describe('logs', () => {
  it('correlates log records with the active span and sends them before the span ends', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = emitter({ address: rx.address, minLogLevel: 'info' });
    const span = e.startSpan('long-running');
    e.runWithSpan(span, () => {
      e.log('info', 'started', { attempt: 1, user: { id: 7 }, big: 10n, err: new Error('x') });
      e.log('debug', 'filtered out');
    });
    e.log('error', 'standalone');
    await e.flush();
    await waitFor(() => rx.spans.length === 2);
    const correlated = rx.spans.find((s) => s.traceId !== 0n) as SpanEvent;
    expect(correlated).toMatchObject({ traceId: span.traceId, id: span.id, isTrace: false });
    expect(correlated.logs).toHaveLength(1);
    expect(correlated.logs[0]).toMatchObject({
      severity: 'info',
      severityNumber: 9,
      body: 'started',
      attributes: { attempt: '1', user: '{"id":7}', big: '10', err: 'Error: x' },
    });
    const standalone = rx.spans.find((s) => s.traceId === 0n) as SpanEvent;
    expect(standalone.logs[0]).toMatchObject({ severity: 'error', body: 'standalone' });
    span.finish();
  });
});

describe('a "__proto__" key', () => {
  // An assignment tags["__proto__"] = v adds no entry; the emitter sets every key as an own one.
  it('is sent as an ordinary tag or log attribute, never dropped', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = emitter({ address: rx.address, minLogLevel: 'info' });
    const span = e.startSpan('with-proto');
    span.setTag('__proto__', 'x').setTags(JSON.parse('{"__proto__": "y", "after": 1}') as Record<string, string>);
    e.runWithSpan(span, () => e.log('info', 'hello', JSON.parse('{"__proto__": {"a": 1}}') as Record<string, unknown>));
    span.finish();
    await e.flush();
    await waitFor(() => rx.spans.some((s) => s.name === 'with-proto') && rx.spans.some((s) => s.logs.length > 0));
    const sent = rx.spans.find((s) => s.name === 'with-proto') as SpanEvent;
    expect(Object.entries(sent.tags)).toEqual([
      ['__proto__', 'y'],
      ['after', '1'],
    ]);
    const log = rx.spans.flatMap((s) => s.logs).find((l) => l.body === 'hello');
    expect(Object.entries(log?.attributes ?? {})).toEqual([['__proto__', '{"a":1}']]);
    expect(Object.getPrototypeOf(sent.tags)).toBe(Object.prototype);
  });
});

describe('framed stream over UNIX and TCP sockets', () => {
  it('delivers over a UNIX socket that only comes up after the emitter started', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ssf-emit-')), 'ssf.sock');
    const e = emitter({ address: `unix://${path}`, flushIntervalMs: 20 });
    for (let i = 0; i < 10; i++) e.startSpan(`early-${i}`).finish();
    await e.flush();
    expect(e.stats().queued).toBe(10);
    const rx = await streamReceiver(path);
    cleanup.push(rx.close);
    await waitFor(() => rx.spans.length === 10, 10_000);
    expect(rx.spans.map((s) => s.name)).toEqual(Array.from({ length: 10 }, (_, i) => `early-${i}`));
  });

  it('delivers over TCP exactly what was emitted, framed', async () => {
    // A real TCP server that keeps every byte; the frames are decoded at the end, so a
    // broken frame, a lost or an extra event shows.
    const received: Buffer[] = [];
    let connections = 0;
    let open = 0;
    const { port, close } = await streamServer(0, (socket) => {
      connections++;
      open++;
      socket.on('data', (c: Buffer) => received.push(c));
      socket.on('close', () => open--);
    });
    cleanup.push(close);
    const e = emitter({ address: `tcp://127.0.0.1:${port}`, tags: { env: 'test' } });
    await waitFor(() => connections === 1);
    for (let i = 0; i < 1000; i++) e.counter('c', i, { tags: { n: String(i % 3) } });
    const span = e.startSpan('checkout', { tags: { route: '/pay' } });
    e.runWithSpan(span, () => e.log('warn', 'slow card', { ms: 812 }));
    span.finish();
    await e.close();
    expect(e.stats()).toMatchObject({ emitted: 1002, sent: 1002, queued: 0 });
    expect(Object.values(e.stats().dropped).every((n) => n === 0)).toBe(true);
    await waitFor(() => open === 0);

    const reader = new FrameReader();
    const spans: SpanEvent[] = [];
    for (const chunk of received) {
      for (const frame of reader.push(chunk)) {
        const v = decodeSpan(frame);
        expect(v.rejections).toEqual([]);
        if (v.ok) spans.push(v.span);
      }
    }
    const carriers = spans.filter((s) => s.metrics.length > 0);
    // carriers of at most 50 samples (where a flush cuts the queue, one may hold fewer)
    for (const c of carriers) {
      expect(c).toMatchObject({ isTrace: false, service: 'checkout', traceId: 0n, name: '' });
      expect(c.metrics.length).toBeLessThanOrEqual(50);
    }
    expect(carriers.length).toBeLessThan(25);
    const samples = carriers.flatMap((c) => c.metrics);
    expect(samples.map((m) => m.value)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(samples).toEqual(samples.map((m, i) => ({ ...m, type: 'counter', name: 'c', sampleRate: 1, tags: { env: 'test', n: String(i % 3) } })));
    const logCarrier = spans.find((s) => s.logs.length > 0) as SpanEvent;
    expect(logCarrier).toMatchObject({ traceId: span.traceId, id: span.id, isTrace: false });
    expect(logCarrier.logs).toEqual([expect.objectContaining({ severity: 'warn', body: 'slow card', attributes: { env: 'test', ms: '812' } })]);
    const trace = spans.filter((s) => s.isTrace);
    expect(trace).toHaveLength(1);
    expect(trace[0]).toMatchObject({ name: 'checkout', id: span.id, traceId: span.traceId, tags: { env: 'test', route: '/pay' } });
    expect(spans).toHaveLength(carriers.length + 2);
  });
});

describe('HTTP batches', () => {
  it('POSTs SSFBatch bodies with the token, retries a 503, and counts spans the server rejected', async () => {
    const bodies: Buffer[] = [];
    const auth: Array<string | undefined> = [];
    let calls = 0;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls++;
        auth.push(req.headers.authorization);
        if (calls === 1) {
          res.writeHead(503, { 'retry-after': '0' }).end();
          return;
        }
        bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: 2, rejected: [{ index: 2, code: 'SSF_SPAN_EMPTY' }] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as { port: number }).port;
    const e = emitter({ address: `http://127.0.0.1:${port}`, token: 's3cret' });
    e.startSpan('a').finish();
    e.startSpan('b').finish();
    e.startSpan('c').finish();
    await e.flush();
    expect(calls).toBe(2);
    expect(auth).toEqual(['Bearer s3cret', 'Bearer s3cret']);
    expect(decodeBatchBody(bodies[0] as Buffer).map((s) => s.name)).toEqual(['a', 'b', 'c']);
    expect(e.stats()).toMatchObject({ sent: 2, dropped: { rejected: 1 } });
  });
});

describe('never blocks, never throws', () => {
  const targets = [
    ['udp to a closed port', 'udp://127.0.0.1:9'],
    ['a unix socket that does not exist', 'unix:///nonexistent/ssf.sock'],
    ['tcp to a closed port', 'tcp://127.0.0.1:9'],
    ['http to a closed port', 'http://127.0.0.1:9'],
    ['an unusable address', 'carrier-pigeon://nowhere'],
  ] as const;

  it.each(targets)('completes 1,000,000 emits with the target down (%s), memory bounded, drops counted', async (_label, address) => {
    const warnings: string[] = [];
    const logger: EmitterLogger = { warn: (m) => warnings.push(m) };
    const e = createEmitter({ address, logger, maxQueueSize: 5_000, maxRetries: 0, timeoutMs: 200 });
    cleanup.push(() => e.close(500));
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 4 === 0) e.counter('c', i);
      else if (i % 4 === 1) e.startSpan('s').finish();
      else if (i % 4 === 2) e.log('info', 'line');
      else e.histogram('h', i);
      if (i % 100_000 === 0) {
        peak = Math.max(peak, process.memoryUsage().heapUsed);
        // let the event loop run, as a real application's would
        await new Promise((r) => setImmediate(r));
      }
    }
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    global.gc?.();
    const retained = process.memoryUsage().heapUsed - before;
    const stats = e.stats();
    const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
    expect(stats.emitted + stats.dropped.queue_full).toBe(1_000_000);
    expect(dropped).toBeGreaterThan(900_000);
    expect(stats.queued).toBeLessThanOrEqual(5_000);
    // 1M events retained would be hundreds of MB; the bounded queue keeps what stays to a few
    // (measured after a collection: the peak also counts garbage not yet collected, which a busy machine leaves longer).
    expect(retained).toBeLessThan(64 * 1024 * 1024);
    expect(peak - before).toBeLessThan(256 * 1024 * 1024);
    // one warning per drop reason, not one per event
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(8);
  });

  it('swallows bad input: no name, NaN values, unknown levels are counted as invalid', () => {
    const e = emitter({ address: 'udp://127.0.0.1:9' });
    expect(() => {
      e.counter('', 1);
      e.gauge('g', Number.NaN);
      e.log('loud' as 'info', 'x');
      e.startSpan(undefined as unknown as string).finish();
    }).not.toThrow();
    expect(e.stats().dropped.invalid).toBe(3);
  });

  it('makes flush() and close() idempotent and counts events emitted after close', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = emitter({ address: rx.address });
    e.counter('before', 1);
    const [a, b] = [e.close(), e.close()];
    expect(a).toBe(b);
    await a;
    await e.flush();
    e.counter('after', 1);
    expect(e.stats()).toMatchObject({ sent: 1, dropped: { closed: 1 } });
  });

  it('keeps no timer or socket alive: a process that emits and exits, exits', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `
      import { createEmitter, silentLogger } from ${JSON.stringify(new URL('../../src/emitter/index.ts', import.meta.url).href)};
      for (const address of ['udp://127.0.0.1:9', 'tcp://127.0.0.1:9', 'http://127.0.0.1:9', 'unix:///nonexistent.sock']) {
        const e = createEmitter({ address, logger: silentLogger, flushIntervalMs: 50 });
        e.counter('x', 1);
        e.startSpan('y').finish();
      }
    `;
    const started = Date.now();
    execFileSync(process.execPath, [...TSX_IMPORT, '--input-type=module', '-e', script], { timeout: 10_000, stdio: 'pipe' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('W3C traceparent', () => {
  it('maps 64-bit SSF ids into the low half of the 128-bit trace id, and back', () => {
    const ctx = { traceId: -2n, spanId: 0x1234n, traceIdHigh: 0n, sampled: true, remote: false };
    const header = injectTraceparent(ctx);
    expect(header).toBe('00-0000000000000000fffffffffffffffe-0000000000001234-01');
    expect(extractTraceparent(header)).toEqual({ ...ctx, remote: true });
  });

  it('keeps the high 64 bits of a foreign 128-bit trace id and sends them on downstream', () => {
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const ctx = extractTraceparent(incoming);
    expect(ctx).toMatchObject({ traceId: BigInt.asIntN(64, 0xa3ce929d0e0e4736n), spanId: 0x00f067aa0ba902b7n, sampled: true });
    const e = emitter({ address: 'udp://127.0.0.1:9' });
    const span = e.startSpan('handler', { parent: ctx });
    expect(span.parentId).toBe(0x00f067aa0ba902b7n);
    expect(span.tags['w3c.trace_id_high']).toBe('4bf92f3577b34da6');
    const out = e.inject({}, span)['traceparent'] as string;
    expect(out.slice(3, 35)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(out.slice(36, 52)).toBe(span.id.toString(16).padStart(16, '0'));
  });

  it.each([
    ['garbage'],
    ['00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'],
  ])('refuses an invalid traceparent %s', (header) => {
    expect(extractTraceparent(header)).toBeUndefined();
  });

  it('reads the sampled flag and an unsampled parent suppresses the child', () => {
    const ctx = extractTraceparent('00-0000000000000000000000000000000a-000000000000000b-00');
    expect(ctx?.sampled).toBe(false);
    const e = emitter({ address: 'udp://127.0.0.1:9' });
    expect(e.startSpan('x', { parent: ctx }).sampled).toBe(false);
  });
});
