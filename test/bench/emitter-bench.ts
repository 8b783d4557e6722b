import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createEmitter, silentLogger } from '../../src/emitter/index.js';
import type { Emitter } from '../../src/emitter/index.js';
import { formatNs, measureSync, printTable } from './measure.js';

/**
 * The emitter's cost in the application thread, per call, against an
 * empty-loop baseline measured in the same run; then what a flush costs per
 * event and how many UDP datagrams per second it sends (with loss as seen by
 * a real receiver socket on loopback).
 */
export async function emitterBench(): Promise<void> {
  const rx = createSocket('udp4');
  rx.on('message', () => {});
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
  const address = `udp://127.0.0.1:${rx.address().port}`;

  const CHUNK = 20_000;
  const make = (): Emitter =>
    createEmitter({ address, logger: silentLogger, service: 'bench', maxQueueSize: CHUNK * 2, flushItems: CHUNK * 4, flushIntervalMs: 60_000 });
  let sink = 0;
  const noop = (i: number): void => {
    sink += i;
  };

  // Calls are timed in chunks; the queue is flushed between chunks (outside the timing), so no call hits a full queue.
  const timed = async (name: string, call: (e: Emitter, i: number) => void): Promise<{ name: string; ns: number; flushNs: number; sent: number }> => {
    const e = make();
    let best = Number.POSITIVE_INFINITY;
    let flushNs = 0;
    let flushed = 0;
    for (let round = 0; round < 6; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < CHUNK; i++) call(e, i);
      const t1 = process.hrtime.bigint();
      await e.flush();
      const t2 = process.hrtime.bigint();
      if (round > 0) {
        best = Math.min(best, Number(t1 - t0) / CHUNK);
        flushNs += Number(t2 - t1);
        flushed += CHUNK;
      }
    }
    await e.close();
    const stats = e.stats();
    const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
    if (dropped > 0) throw new Error(`${name}: ${dropped} events dropped during the benchmark`);
    return { name, ns: best, flushNs: flushNs / flushed, sent: stats.sent };
  };

  const baseline = measureSync(
    'empty loop (baseline)',
    (n) => {
      for (let i = 0; i < n; i++) noop(i);
    },
    2_000_000,
  );
  const results = [
    await timed('counter', (e, i) => e.counter('bench.requests', i, { tags: { code: '200' } })),
    await timed('histogram', (e, i) => e.histogram('bench.latency', i)),
    await timed('span start+finish', (e) => e.startSpan('bench.op').finish()),
    await timed('span with 2 tags + child', (e) => {
      const s = e.startSpan('bench.parent', { tags: { route: '/x', method: 'GET' } });
      e.startSpan('bench.child', { parent: s }).finish();
      s.finish();
    }),
    await timed('log', (e, i) => e.log('info', 'request served', { status: 200, i })),
  ];
  printTable('Emitter: cost per call in the application thread (best of 5 rounds of 20,000)', [
    { call: baseline.name, 'per call': formatNs(baseline.nsPerOp), 'x baseline': '1.0', 'flush cost per event (encode + send, off the call path)': '-' },
    ...results.map((r) => ({
      call: r.name,
      'per call': formatNs(r.ns),
      'x baseline': (r.ns / baseline.nsPerOp).toFixed(1),
      'flush cost per event (encode + send, off the call path)': formatNs(r.flushNs),
    })),
  ]);

  // UDP: spans (one datagram each) as fast as the emitter sends them, to a
  // receiver in another process (as a gateway would be) that counts them.
  const receiver = await udpCounterProcess();
  const e = createEmitter({
    address: receiver.address,
    logger: silentLogger,
    service: 'bench',
    maxQueueSize: 100_000,
    flushItems: 2_000,
    flushIntervalMs: 60_000,
  });
  const total = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i += 10_000) {
    for (let j = 0; j < 10_000; j++) e.startSpan('bench.udp').finish();
    await e.flush();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await e.close();
  const received = await receiver.stop();
  printTable('Emitter: UDP datagrams sent (one span per datagram, to a receiving process on loopback)', [
    {
      datagrams: total,
      seconds: seconds.toFixed(2),
      'datagrams/s': Math.round(total / seconds).toLocaleString('en-US'),
      'received by socket': received,
      'loss %': ((100 * (total - received)) / total).toFixed(2),
    },
  ]);
  rx.close();
  if (sink === -1) console.log(sink);
}

/** A child process that counts datagrams on a UDP port (with as large a receive buffer as the kernel allows). */
async function udpCounterProcess(): Promise<{ address: string; stop: () => Promise<number> }> {
  const code = `
    const s = require('node:dgram').createSocket('udp4');
    let n = 0;
    s.on('message', () => n++);
    s.bind(0, '127.0.0.1', () => {
      try { s.setRecvBufferSize(64 * 1024 * 1024); } catch {}
      process.send({ port: s.address().port });
    });
    process.on('message', () => setTimeout(() => { process.send({ count: n }); process.exit(0); }, 300));
  `;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  return {
    address: `udp://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        child.once('message', (m: { count: number }) => resolve(m.count));
        child.send('stop');
      }),
  };
}
