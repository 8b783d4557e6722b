import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpReader } from '../../../ingest/gateway/udp-reader.js';
import { seededRandom } from '../../setup/random.js';

const rand = seededRandom(17);

/** Datagrams of 1 to 9,000 bytes, each filled with its own pattern. */
function datagrams(n: number, most = 9_000): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(1 + Math.floor(rand() * most));
    for (let j = 0; j < b.length; j++) b[j] = (i * 31 + j * 7 + Math.floor(rand() * 3)) & 255;
    return b;
  });
}

async function sender(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

const send = (s: Socket, port: number, d: Buffer): Promise<void> =>
  new Promise((resolve, reject) => s.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));

/** Bytes waiting in the kernel's receive queue of the UDP socket on 127.0.0.1:port (/proc/net/udp, rx_queue). */
function kernelQueued(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const row of readFileSync('/proc/net/udp', 'utf8').split('\n')) {
    const cells = row.trim().split(/\s+/);
    if (cells[1] === local) return Number.parseInt((cells[4] ?? '0:0').split(':')[1] ?? '0', 16);
  }
  return 0;
}

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

describe('UdpReader (the socket read on its own thread)', () => {
  it('hands over every datagram, byte for byte and in order, in groups', async () => {
    const got: Buffer[] = [];
    let groups = 0;
    let dropped = 0;
    const reader = new UdpReader({ address: '127.0.0.1:0', receiveBufferBytes: 8 << 20 }, (ds, d) => {
      groups++;
      dropped += d;
      // Copies: the views are only valid during the call's group.
      for (const x of ds) got.push(Buffer.from(x));
    });
    open.push(reader);
    const { port } = await reader.listen();
    const s = await sender();
    open.push(s);
    const sent = datagrams(2_000);
    // Sent in bursts of 100 (the kernel buffer holds a burst whatever the scheduling).
    for (let i = 0; i < sent.length; i += 100) {
      await Promise.all(sent.slice(i, i + 100).map((d) => send(s, port, d)));
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 0; i < 500 && got.length + dropped < sent.length; i++) await new Promise((r) => setTimeout(r, 10));
    await reader.close();
    expect(dropped).toBe(0);
    expect(got.length).toBe(sent.length);
    for (let i = 0; i < sent.length; i++) expect(got[i]?.equals(sent[i] as Buffer), `datagram ${i}`).toBe(true);
    expect(groups).toBeGreaterThan(0);
    expect(groups).toBeLessThan(sent.length);
  });

  it('drops and counts what does not fit while the main thread is busy, and keeps the rest', async () => {
    const got: Buffer[] = [];
    let dropped = 0;
    const reader = new UdpReader({ address: '127.0.0.1:0', receiveBufferBytes: 4 << 20, queueBytes: 2_000 }, (ds, d) => {
      dropped += d;
      for (const x of ds) got.push(Buffer.from(x));
    });
    open.push(reader);
    const { port } = await reader.listen();
    const sent = Array.from({ length: 50 }, (_, i) => Buffer.alloc(100, i));
    // The main thread takes no group while another process sends the 50 datagrams and until the
    // kernel's queue is empty (the reader thread read them all): the thread can hold 2,000 bytes.
    const script = `const s = require('node:dgram').createSocket('udp4'); let n = 0;
      for (let i = 0; i < 50; i++) s.send(Buffer.alloc(100, i), ${port}, '127.0.0.1', () => { if (++n === 50) s.close(); });`;
    expect(spawnSync(process.execPath, ['-e', script]).status).toBe(0);
    for (let i = 0; i < 1_000 && kernelQueued(port) > 0; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    for (let i = 0; i < 500 && got.length + dropped < sent.length; i++) await new Promise((r) => setTimeout(r, 10));
    await reader.close();
    expect(got.length).toBe(20);
    expect(dropped).toBe(30);
    for (let i = 0; i < got.length; i++) expect(got[i]?.equals(sent[i] as Buffer)).toBe(true);
  });

  it('fails to listen on a port in use, with the socket error code', async () => {
    const s = await sender();
    open.push(s);
    const reader = new UdpReader({ address: `127.0.0.1:${s.address().port}`, receiveBufferBytes: 1 << 20 }, () => {});
    await expect(reader.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
