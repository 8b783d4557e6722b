import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { decodeSpan, FrameReader, splitBatch } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';

/** A real UDP receiver decoding one SSFSpan per datagram. */
export async function udpReceiver(): Promise<{ address: string; spans: SpanEvent[]; datagrams: () => number; close: () => Promise<void> }> {
  const socket = createSocket('udp4');
  const spans: SpanEvent[] = [];
  let datagrams = 0;
  socket.on('message', (msg) => {
    datagrams++;
    const v = decodeSpan(msg);
    if (v.ok) spans.push(v.span);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `udp://127.0.0.1:${socket.address().port}`,
    spans,
    datagrams: () => datagrams,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** A stream server on a UNIX socket or a TCP port of 127.0.0.1 (0: any); close() also ends the open connections. */
export async function streamServer(
  listenOn: string | number,
  onSocket: (socket: Socket) => void,
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => (typeof listenOn === 'string' ? server.listen(listenOn, resolve) : server.listen(listenOn, '127.0.0.1', resolve)));
  const addr = server.address();
  return {
    server,
    port: typeof addr === 'object' && addr ? addr.port : 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A real framed-stream server on a UNIX socket or TCP port. */
export async function streamReceiver(listenOn: string | number): Promise<{ spans: SpanEvent[]; server: Server; port: number; close: () => Promise<void> }> {
  const spans: SpanEvent[] = [];
  const listening = await streamServer(listenOn, (socket) => {
    const reader = new FrameReader();
    socket.on('data', (chunk) => {
      for (const frame of reader.push(chunk)) {
        const v = decodeSpan(frame);
        if (v.ok) spans.push(v.span);
      }
    });
  });
  return { spans, ...listening };
}

export function decodeBatchBody(body: Buffer): SpanEvent[] {
  const out: SpanEvent[] = [];
  for (const part of splitBatch(body)) {
    const v = decodeSpan(part);
    if (v.ok) out.push(v.span);
  }
  return out;
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 10));
  }
}
