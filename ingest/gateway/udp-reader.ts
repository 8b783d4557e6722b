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

/** What a reader hears from the thread: its own messages, or that the thread stopped. */
type ReaderEvent = FromReader | { type: 'exited'; code: number };

/**
 * The one reader thread of the process (udp-reader-worker.ts), shared by
 * every UdpReader: started by the first, stopped when the last one closes.
 */
class ReaderThread {
  private static current: ReaderThread | undefined;
  private static nextId = 1;
  private readonly worker: Worker;
  private readonly readers = new Map<number, (e: ReaderEvent) => void>();

  private constructor() {
    // The worker is this file's sibling, in the same language (as kafka-thread-sink.ts).
    // Its garbage is one Buffer per datagram, dead at once: a young generation of 8 MB holds
    // it (V8's default grows to tens of MB per thread at 250k datagrams/s, all of it RSS).
    this.worker = new Worker(new URL(`./udp-reader-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url), {
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    this.worker.on('message', (m: FromReader) => this.readers.get(m.id)?.(m));
    this.worker.on('error', () => {});
    this.worker.once('exit', (code) => {
      if (ReaderThread.current === this) ReaderThread.current = undefined;
      for (const r of this.readers.values()) r({ type: 'exited', code });
      this.readers.clear();
    });
  }

  /** Registers a reader on the running thread (starting it if none); returns its socket id. */
  static join(onEvent: (e: ReaderEvent) => void): { thread: ReaderThread; id: number } {
    ReaderThread.current ??= new ReaderThread();
    const id = ReaderThread.nextId++;
    ReaderThread.current.readers.set(id, onEvent);
    return { thread: ReaderThread.current, id };
  }

  post(m: ToReader): void {
    this.worker.postMessage(m);
  }

  /** Closes socket `id` (what it read is handed over first); the last one to leave stops the thread. */
  async leave(id: number): Promise<void> {
    if (!this.readers.has(id)) return;
    await new Promise<void>((resolve) => {
      const onEvent = this.readers.get(id);
      this.readers.set(id, (e) => {
        onEvent?.(e);
        if (e.type === 'closed' || e.type === 'exited') resolve();
      });
      this.post({ type: 'close', id });
    });
    this.readers.delete(id);
    if (this.readers.size === 0) {
      if (ReaderThread.current === this) ReaderThread.current = undefined;
      await this.worker.terminate();
    }
  }
}

/**
 * A UDP socket read on another thread (udp-reader-worker.ts, one thread for
 * every socket of the process), which hands the datagrams over in groups. Measured on the gateway bench: with the socket on the main thread,
 * every pause of that thread (validating a large HTTP batch, publishing,
 * garbage collection) let the kernel's receive buffer overflow (4 MiB here,
 * net.core.rmem_max), and the loss at a paced rate came and went from run to
 * run. The datagrams waiting for the main thread are bounded by
 * `receiveBufferBytes` (past it they are dropped and counted, as the kernel
 * would drop them), so the buffer asked for is had even where the kernel
 * grants less.
 */
export class UdpReader {
  private joined: { thread: ReaderThread; id: number } | undefined;
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
    const data: UdpReaderData = {
      host,
      port,
      type: isIPv6(host) ? 'udp6' : 'udp4',
      receiveBufferBytes: this.options.receiveBufferBytes,
      queueBytes: this.options.queueBytes ?? this.options.receiveBufferBytes,
      queued: this.queued,
    };
    let settle: { resolve: (m: { port: number; receiveBufferBytes: number }) => void; reject: (err: Error) => void } | undefined;
    const listening = new Promise<{ port: number; receiveBufferBytes: number }>((resolve, reject) => (settle = { resolve, reject }));
    const joined = ReaderThread.join((e) => {
      if (e.type === 'datagrams') this.take(e.data, e.ends, e.dropped);
      else if (e.type === 'listening') settle?.resolve(e);
      else if (e.type === 'failed') settle?.reject(Object.assign(new Error(e.message), { code: e.code }));
      else if (e.type === 'exited') settle?.reject(new Error(`the UDP reader thread exited (${e.code}) before listening on ${this.options.address}`));
    });
    this.joined = joined;
    joined.thread.post({ type: 'open', id: joined.id, data });
    try {
      const at = await listening;
      this.receiveBufferBytes = at.receiveBufferBytes;
      return { host, port: at.port };
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      settle = undefined;
    }
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
    this.closed ??= this.joined?.thread.leave(this.joined.id) ?? Promise.resolve();
    return this.closed;
  }
}
