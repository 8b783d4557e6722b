/**
 * The per-source connection cap on a real TCP server: which source an
 * address counts against, refusals at accept time that the protocol never
 * sees, and counts that return to zero however a connection ends.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { capConnectionsPerSource, isLoopbackAddress, sourceOf } from '../../src/net/source-connection-cap.js';
import type { SourceConnections } from '../../src/net/source-connection-cap.js';

describe('sourceOf', () => {
  it('an IPv4 address is itself; an IPv4-mapped IPv6 address, in either notation, is its IPv4 address', () => {
    expect(sourceOf('1.2.3.4', 64)).toBe('1.2.3.4');
    expect(sourceOf('::ffff:1.2.3.4', 64)).toBe('1.2.3.4');
    expect(sourceOf('::FFFF:1.2.3.4', 128)).toBe('1.2.3.4');
    expect(sourceOf('::ffff:102:304', 64)).toBe('1.2.3.4');
    expect(sourceOf('0:0:0:0:0:ffff:0102:0304', 64)).toBe('1.2.3.4');
  });

  it('an IPv6 address is its first prefix-length bits; a zone is not part of it', () => {
    expect(sourceOf('2001:db8:0:1::1', 64)).toBe('2001:db8:0:1:0:0:0:0/64');
    expect(sourceOf('2001:db8:0:1:ffff:ffff:ffff:ffff', 64)).toBe('2001:db8:0:1:0:0:0:0/64');
    expect(sourceOf('2001:db8:0:2::1', 64)).toBe('2001:db8:0:2:0:0:0:0/64');
    expect(sourceOf('2001:db8:0:1::1', 128)).toBe('2001:db8:0:1:0:0:0:1/128');
    expect(sourceOf('2001:db8:0:1::2', 128)).toBe('2001:db8:0:1:0:0:0:2/128');
    expect(sourceOf('2001:db8:abcd:12ff::1', 60)).toBe('2001:db8:abcd:12f0:0:0:0:0/60');
    expect(sourceOf('::1', 128)).toBe('0:0:0:0:0:0:0:1/128');
    expect(sourceOf('::', 64)).toBe('0:0:0:0:0:0:0:0/64');
    expect(sourceOf('fe80::1%eth0', 128)).toBe('fe80:0:0:0:0:0:0:1/128');
    expect(sourceOf('64:ff9b::1.2.3.4', 128)).toBe('64:ff9b:0:0:0:0:102:304/128');
  });

  it('no source for no address or one that is not IP', () => {
    expect(sourceOf(undefined, 64)).toBeUndefined();
    expect(sourceOf('', 64)).toBeUndefined();
    expect(sourceOf('/tmp/ssf.sock', 64)).toBeUndefined();
  });
});

/** A server capped at `max` per source; `admitted` holds the server side of each connection its own listener saw. */
async function cappedServer(
  max: number,
  host = '127.0.0.1',
  capLoopback = true,
): Promise<{ server: Server; port: number; cap: SourceConnections; admitted: Socket[]; refused: string[] }> {
  const admitted: Socket[] = [];
  const refused: string[] = [];
  const server = createServer((socket) => {
    admitted.push(socket);
    socket.on('error', () => {});
  });
  const cap = capConnectionsPerSource(server, { maxPerSource: max, ipv6PrefixLength: 64, capLoopback }, (source) => refused.push(source));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, cap, admitted, refused };
}

/** A connection from `from`, resolved once it is established (the server may not have accepted it yet). */
function dial(port: number, from: string, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, localAddress: from }, () => resolve(s));
    s.once('error', reject);
  });
}

const closed = (s: Socket): Promise<void> => new Promise((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));

let servers: { server: Server; admitted: Socket[] }[] = [];
afterEach(async () => {
  for (const { server, admitted } of servers) {
    for (const s of admitted) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  servers = [];
});

describe('isLoopbackAddress', () => {
  it('127.0.0.0/8 (also IPv4-mapped) and ::1 are loopback; other addresses, ::1 neighbours and no address are not', () => {
    for (const a of ['127.0.0.1', '127.0.0.6', '127.255.0.1', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['128.0.0.1', '10.0.0.1', '::2', '::', '::ffff:10.0.0.1', 'fe80::1', undefined, '/tmp/ssf.sock'])
      expect(isLoopbackAddress(a), String(a)).toBe(false);
  });
});

describe('capConnectionsPerSource', () => {
  it('does not cap loopback sources unless asked (a sidecar proxy shows every client as one)', async () => {
    const t = await cappedServer(2, '127.0.0.1', false);
    servers.push(t);
    const clients = await Promise.all(Array.from({ length: 5 }, () => dial(t.port, '127.0.0.1')));
    while (t.admitted.length + t.refused.length < 5) await new Promise((r) => setImmediate(r));
    expect(t.refused).toEqual([]);
    expect(t.cap.sources()).toBe(0);
    for (const c of clients) c.destroy();
  });

  it('closes connections of a source past its cap as they are accepted, unseen by the server, while another source connects', async () => {
    const t = await cappedServer(3);
    servers.push(t);
    const mine: Socket[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await dial(t.port, '127.0.0.1');
      s.on('error', () => {});
      mine.push(s);
    }
    // The kernel queues them in order and Node accepts in that order: the first 3 are admitted, the last 2 closed.
    await Promise.all([closed(mine[3] as Socket), closed(mine[4] as Socket)]);
    expect(t.refused).toEqual(['127.0.0.1', '127.0.0.1']);
    const other = await dial(t.port, '127.0.0.2');
    // A byte from the other source reaches the server's own listener: it was admitted.
    const seen = new Promise<string>((resolve) => {
      const wait = (): void => {
        const last = t.admitted.at(-1);
        if (t.admitted.length === 4 && last) last.once('data', (b: Buffer) => resolve(b.toString()));
        else setImmediate(wait);
      };
      wait();
    });
    other.write('x');
    expect(await seen).toBe('x');
    expect(t.admitted.map((s) => s.remoteAddress)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.2']);
    expect(t.cap.held('127.0.0.1')).toBe(3);
    expect(t.cap.held('127.0.0.2')).toBe(1);
    expect(mine.slice(0, 3).every((s) => !s.destroyed)).toBe(true);
    for (const s of [...mine, other]) s.destroy();
  });

  it('gives a source its slots back however its connections end: closed by the client, reset, destroyed by the server, with an error', async () => {
    const t = await cappedServer(4);
    servers.push(t);
    for (let round = 0; round < 3; round++) {
      const before = t.admitted.length;
      const mine: Socket[] = [];
      for (let i = 0; i < 4; i++) {
        const s = await dial(t.port, '127.0.0.1');
        s.on('error', () => {});
        mine.push(s);
      }
      while (t.admitted.length < before + 4) await new Promise((r) => setImmediate(r));
      expect(t.refused).toEqual([]);
      expect(t.cap.held('127.0.0.1')).toBe(4);
      const server = t.admitted.slice(before);
      // Each way a connection ends, once per round.
      (mine[0] as Socket).end();
      (mine[1] as Socket).resetAndDestroy();
      (server[2] as Socket).destroy();
      (server[3] as Socket).destroy(new Error('broken'));
      // The cap's 'close' listener was added before the server's own listener saw the socket, so it has run by now.
      await Promise.all(server.map(closed));
      expect(t.cap.held('127.0.0.1')).toBe(0);
      expect(t.cap.sources()).toBe(0);
      for (const s of mine) s.destroy();
    }
  });

  it('on a dual-stack listener, an IPv4 client (seen as ::ffff:127.0.0.1) counts as 127.0.0.1, and ::1 is another source', async () => {
    const t = await cappedServer(1, '::');
    servers.push(t);
    const first = await dial(t.port, '127.0.0.1', '127.0.0.1');
    const second = await dial(t.port, '127.0.0.1', '127.0.0.1');
    second.on('error', () => {});
    await closed(second);
    const v6 = await dial(t.port, '::1', '::1');
    while (t.admitted.length < 2) await new Promise((r) => setImmediate(r));
    expect(t.admitted.map((s) => s.remoteAddress)).toEqual(['::ffff:127.0.0.1', '::1']);
    expect(t.refused).toEqual(['127.0.0.1']);
    expect(t.cap.held('127.0.0.1')).toBe(1);
    expect(t.cap.held('0:0:0:0:0:0:0:0/64')).toBe(1);
    for (const s of [first, v6]) s.destroy();
  });
});
