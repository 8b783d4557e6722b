import { createSocket } from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';

/** What UdpReader gives the thread. */
export interface UdpReaderData {
  host: string;
  port: number;
  type: 'udp4' | 'udp6';
  /** SO_RCVBUF asked of the kernel (which caps it at net.core.rmem_max). */
  receiveBufferBytes: number;
  /** The most datagram bytes read and handed over but not yet taken by the main thread; past it, datagrams are dropped and counted. */
  queueBytes: number;
  /** One Int32 (Atomics): datagram bytes handed over and not yet taken. The main thread subtracts what it took. */
  queued: SharedArrayBuffer;
}

/** Messages between UdpReader (udp-reader.ts) and this thread. */
export type ToReader = { type: 'close' };

export type FromReader =
  | { type: 'listening'; port: number; receiveBufferBytes: number }
  | { type: 'failed'; message: string; code: string | undefined }
  /** A group of datagrams, one after the other in `data`; each ends at `ends[i]`. `dropped`: datagrams dropped since the last group (queue full). */
  | { type: 'datagrams'; data: Uint8Array; ends: Uint32Array; dropped: number }
  | { type: 'closed' };

/** The most datagrams handed over together, and the longest a datagram waits for others (as the listener grouped them before). */
export const GROUP_DATAGRAMS = 512;
const GROUP_MS = 1;
/** The arena datagrams are copied into; a group is cut when the next one does not fit (a UDP datagram is at most 64 KiB). */
const ARENA_BYTES = 1 << 20;

/**
 * Reads one UDP socket and hands the datagrams to the main thread in groups,
 * and does nothing else. The main thread validates and publishes; while it
 * is busy (a large HTTP batch, garbage collection) this thread keeps the
 * socket drained, so a stall there no longer overflows the kernel's receive
 * buffer. What waits for the main thread is bounded by `queueBytes`.
 */
function run(port: NonNullable<typeof parentPort>, data: UdpReaderData): void {
  const queued = new Int32Array(data.queued);
  const arena = new Uint8Array(ARENA_BYTES);
  const ends = new Uint32Array(GROUP_DATAGRAMS);
  let used = 0;
  let count = 0;
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  const send = (m: FromReader, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

  const flush = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (count === 0 && dropped === 0) return;
    // One copy of the group into memory that moves to the main thread; the arena stays here.
    const group = arena.slice(0, used);
    const groupEnds = ends.slice(0, count);
    Atomics.add(queued, 0, used);
    send({ type: 'datagrams', data: group, ends: groupEnds, dropped }, [group.buffer, groupEnds.buffer]);
    used = 0;
    count = 0;
    dropped = 0;
  };

  const socket = createSocket({ type: data.type, recvBufferSize: data.receiveBufferBytes });
  socket.on('message', (msg: Buffer) => {
    if (Atomics.load(queued, 0) + used + msg.length > data.queueBytes) {
      dropped++;
      timer ??= setTimeout(flush, GROUP_MS);
      return;
    }
    if (used + msg.length > arena.length) flush();
    arena.set(msg, used);
    used += msg.length;
    ends[count++] = used;
    if (count === GROUP_DATAGRAMS) flush();
    else timer ??= setTimeout(flush, GROUP_MS);
  });
  socket.on('error', () => {});
  socket.once('error', (err: NodeJS.ErrnoException) => send({ type: 'failed', message: err.message, code: err.code }));
  socket.bind(data.port, data.host, () => {
    send({ type: 'listening', port: socket.address().port, receiveBufferBytes: socket.getRecvBufferSize() });
  });
  port.on('message', (m: ToReader) => {
    if (m.type !== 'close') return;
    socket.close(() => {
      flush();
      send({ type: 'closed' });
      port.close();
    });
  });
}

if (parentPort) run(parentPort, workerData as UdpReaderData);
