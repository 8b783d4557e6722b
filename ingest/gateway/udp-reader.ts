import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { isIPv6 } from 'node:net';
import { splitHostPort } from '../../src/http/listen-address.js';
import type { FromReader, ToReader, UdpReaderData } from './udp-reader-worker.js';

export interface UdpReaderOptions {
  address: string;
  /** SO_RCVBUF asked of the kernel; the reader thread holds as much again for the main thread (see udp-reader-worker.ts). */
  receiveBufferBytes: number;
  /** The most datagram bytes waiting for the main thread. Default: receiveBufferBytes. */
  queueBytes?: number;
}

/** One group of datagrams from the reader thread: views into one transferred buffer, and how many were dropped before it. */
export type DatagramGroup = (datagrams: Buffer[], dropped: number) => void;

/**
 * A UDP socket read on a thread of its own (udp-reader-worker.ts), which
 * hands the datagrams over in groups. Measured on the gateway bench: with
 * the socket on the main thread, every pause of that thread (validating a
 * large HTTP batch, publishing, garbage collection) let the kernel's receive
 * buffer overflow (4 MiB here, net.core.rmem_max), and the loss at a paced
 * rate came and went from run to run. The datagrams waiting for the main
 * thread are bounded by `receiveBufferBytes` (past it they are dropped and
 * counted, as the kernel would drop them), so the buffer asked for is had
 * even where the kernel grants less.
 */
export class UdpReader {
  private worker: Worker | undefined;
  private readonly queued = new SharedArrayBuffer(4);
  private readonly queuedBytes = new Int32Array(this.queued);
  private closed: Promise<void> | undefined;
  /** The receive buffer the kernel granted (it caps SO_RCVBUF at net.core.rmem_max). */
  receiveBufferBytes = 0;

  constructor(
    private readonly options: UdpReaderOptions,
    private readonly onGroup: DatagramGroup,
  ) {}

  async listen(): Promise<{ host: string; port: number }> {
    const { host, port } = splitHostPort(this.options.address);
    const workerData: UdpReaderData = {
      host,
      port,
      type: isIPv6(host) ? 'udp6' : 'udp4',
      receiveBufferBytes: this.options.receiveBufferBytes,
      queueBytes: this.options.queueBytes ?? this.options.receiveBufferBytes,
      queued: this.queued,
    };
    // The worker is this file's sibling, in the same language (as kafka-thread-sink.ts).
    // Its garbage is one Buffer per datagram, dead at once: a young generation of 8 MB holds
    // it (V8's default grows to tens of MB per thread at 250k datagrams/s, all of it RSS).
    const worker = new Worker(new URL(`./udp-reader-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url), {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    this.worker = worker;
    const listening = await new Promise<{ port: number; receiveBufferBytes: number }>((resolve, reject) => {
      const onExit = (code: number): void => reject(new Error(`the UDP reader thread exited (${code}) before listening on ${this.options.address}`));
      const onMessage = (m: FromReader): void => {
        if (m.type === 'listening') {
          worker.off('message', onMessage).off('error', reject).off('exit', onExit);
          resolve(m);
        } else if (m.type === 'failed') {
          worker.off('message', onMessage).off('error', reject).off('exit', onExit);
          void worker.terminate();
          reject(Object.assign(new Error(m.message), { code: m.code }));
        }
      };
      worker.on('message', onMessage).once('error', reject).once('exit', onExit);
    });
    worker.on('message', (m: FromReader) => {
      if (m.type === 'datagrams') this.take(m.data, m.ends, m.dropped);
    });
    this.receiveBufferBytes = listening.receiveBufferBytes;
    return { host, port: listening.port };
  }

  private take(data: Uint8Array, ends: Uint32Array, dropped: number): void {
    const datagrams: Buffer[] = new Array<Buffer>(ends.length);
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i] as number;
      datagrams[i] = Buffer.from(data.buffer, data.byteOffset + start, end - start);
      start = end;
    }
    try {
      this.onGroup(datagrams, dropped);
    } finally {
      Atomics.sub(this.queuedBytes, 0, data.byteLength);
    }
  }

  /** Stops reading; resolves once every datagram read was handed to onGroup. */
  close(): Promise<void> {
    this.closed ??= this.stop();
    return this.closed;
  }

  private async stop(): Promise<void> {
    const worker = this.worker;
    // threadId is -1 once the thread has stopped: nothing to wait for.
    if (worker === undefined || worker.threadId === -1) return;
    await new Promise<void>((resolve) => {
      worker.on('message', (m: FromReader) => {
        if (m.type === 'closed') resolve();
      });
      worker.once('exit', () => resolve());
      worker.postMessage({ type: 'close' } satisfies ToReader);
    });
    await worker.terminate();
  }
}
