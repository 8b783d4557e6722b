import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmitter, silentLogger } from '../../src/emitter/index.js';
import type { EmitterStats } from '../../src/emitter/index.js';
import { streamServer, udpReceiver, waitFor } from './helpers.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const EMITTER = new URL('../../src/emitter/index.ts', import.meta.url).href;

/**
 * A child process that emits 600 events to `address`, awaits close(3000) and
 * prints how long close took and the stats. Nothing else keeps its event loop
 * alive, as in a short script: if close() waited on unref'd timers only, the
 * process would exit with code 13 (unsettled top-level await) and print nothing.
 */
function closeInChild(address: string): Promise<{ code: number | null; wallMs: number; stdout: string; stderr: string }> {
  const script = `
    import { createEmitter, silentLogger } from ${JSON.stringify(EMITTER)};
    const e = createEmitter({ address: process.env.SSF_TEST_ADDRESS, logger: silentLogger });
    for (let i = 0; i < 200; i++) {
      e.counter('c', i);
      e.startSpan('s').finish();
      e.log('info', 'line');
    }
    const started = Date.now();
    await e.close(3000);
    console.log(JSON.stringify({ closeMs: Date.now() - started, stats: e.stats() }));
  `;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...TSX_IMPORT, '--input-type=module', '-e', script], {
      env: { ...process.env, SSF_TEST_ADDRESS: address },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, wallMs: Date.now() - started, stdout, stderr });
    });
  });
}

/** A TCP server that accepts connections and never answers: an HTTP endpoint that hangs. */
async function blackHole(): Promise<number> {
  const hole = await streamServer(0, () => {});
  cleanup.push(hole.close);
  return hole.port;
}

function delivered(stats: EmitterStats): number {
  const { queue_full: _full, invalid: _invalid, ...afterEmit } = stats.dropped;
  return stats.sent + Object.values(afterEmit).reduce((a, b) => a + b, 0);
}

describe('close() with the target down', () => {
  const targets: Array<[string, () => Promise<string>]> = [
    ['tcp to a closed port', () => Promise.resolve('tcp://127.0.0.1:1')],
    ['a unix socket that does not exist', () => Promise.resolve('unix:///nonexistent/ssf.sock')],
    ['http to a closed port', () => Promise.resolve('http://127.0.0.1:1')],
    ['http to a server that never answers', async () => `http://127.0.0.1:${await blackHole()}`],
  ];

  it.each(targets)('settles within its timeout and counts every event as sent or dropped (%s)', { timeout: 30_000 }, async (_label, target) => {
    const result = await closeInChild(await target());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { closeMs, stats } = JSON.parse(result.stdout) as { closeMs: number; stats: EmitterStats };
    expect(closeMs).toBeLessThanOrEqual(3000 + 250);
    expect(stats.emitted).toBe(600);
    expect(stats.queued).toBe(0);
    expect(delivered(stats)).toBe(stats.emitted);
    expect(stats.sent).toBe(0);
    // start-up of a TypeScript child on a busy machine plus at most 3 s of close()
    expect(result.wallMs).toBeLessThan(10_000);
  });

  it('gives up on the transport too: close(0) settles at once with a hung HTTP request in flight', async () => {
    const port = await blackHole();
    const e = createEmitter({ address: `http://127.0.0.1:${port}`, logger: silentLogger });
    for (let i = 0; i < 10; i++) e.startSpan(`s${i}`).finish();
    void e.flush();
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await e.close(0);
    expect(Date.now() - started).toBeLessThan(250);
    expect(e.stats()).toMatchObject({ emitted: 10, sent: 0, queued: 0, dropped: { closed: 10 } });
    // the abandoned request's late answer is not counted twice
    await new Promise((r) => setTimeout(r, 100));
    expect(delivered(e.stats())).toBe(10);
  });
});

describe('one bad event is refused alone', () => {
  it('a number as a tag value drops that sample only, not its carrier of 50', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = createEmitter({ address: rx.address, logger: silentLogger });
    cleanup.push(() => e.close());
    for (let i = 0; i < 50; i++) {
      const tags = i === 17 ? ({ code: 200 } as unknown as Record<string, string>) : { code: String(i) };
      e.counter('hits', i, { tags });
    }
    await e.flush();
    await waitFor(() => rx.spans.reduce((n, s) => n + s.metrics.length, 0) === 49);
    const values = rx.spans.flatMap((s) => s.metrics.map((m) => m.value));
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i).filter((i) => i !== 17));
    expect(e.stats()).toMatchObject({ emitted: 49, sent: 49, dropped: { invalid: 1, internal_error: 0 } });
  });

  it('refuses a sample with a unit or scope a JavaScript caller got wrong, alone', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = createEmitter({ address: rx.address, logger: silentLogger });
    cleanup.push(() => e.close());
    e.gauge('ok.before', 1);
    e.gauge('bad.unit', 2, { unit: 3 as unknown as string });
    e.gauge('bad.scope', 3, { scope: 'planet' as 'global' });
    e.status('bad.status', 'fine' as 'ok');
    e.gauge('ok.after', 4);
    await e.flush();
    await waitFor(() => rx.spans.length === 1);
    expect(rx.spans[0]?.metrics.map((m) => m.name)).toEqual(['ok.before', 'ok.after']);
    expect(e.stats()).toMatchObject({ sent: 2, dropped: { invalid: 3, internal_error: 0 } });
  });

  it('a span given a number as a tag value is sent with the value as text', async () => {
    const rx = await udpReceiver();
    cleanup.push(rx.close);
    const e = createEmitter({ address: rx.address, logger: silentLogger });
    cleanup.push(() => e.close());
    e.startSpan('with-number', { tags: { attempt: 3 } as unknown as Record<string, string> }).finish();
    await e.flush();
    await waitFor(() => rx.spans.length === 1);
    expect(rx.spans[0]).toMatchObject({ name: 'with-number', tags: { attempt: '3' } });
    expect(e.stats()).toMatchObject({ sent: 1, dropped: { internal_error: 0 } });
  });
});

describe('a transport of the application own that breaks its contract', () => {
  it('counts the batch of a send() that rejects as internal_error, and carries on', async () => {
    let calls = 0;
    const e = createEmitter({
      logger: silentLogger,
      transport: {
        protocol: 'custom',
        ready: true,
        send: (spans) => (++calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(spans.map(() => null))),
        close: () => Promise.resolve(),
      },
    });
    for (const name of ['a1', 'a2', 'a3']) e.startSpan(name).finish();
    await e.flush();
    e.startSpan('b').finish();
    await e.close(1000);
    expect(e.stats()).toMatchObject({ emitted: 4, sent: 1, queued: 0, dropped: { internal_error: 3 } });
  });
});
