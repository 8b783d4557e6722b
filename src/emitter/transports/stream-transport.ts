import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { encodeFrames, MAX_FRAME_LENGTH } from '../../codec/framing.js';
import type { EmitterLogger } from '../logger.js';
import type { Outcome, Transport } from './transport.js';

export type StreamTarget = { path: string } | { host: string; port: number };

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;

/**
 * Veneur's framed SSF stream over a UNIX or TCP socket. While disconnected
 * the transport is not ready (spans wait in the emitter's bounded queue) and
 * it reconnects with exponential backoff. Neither the socket nor the
 * reconnect timer keeps the process alive.
 */
export class StreamTransport implements Transport {
  readonly protocol: string;
  private socket: Socket | undefined;
  private connected = false;
  private closed = false;
  private backoffMs = MIN_BACKOFF_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private warnedDown = false;

  constructor(
    private readonly target: StreamTarget,
    private readonly logger: EmitterLogger,
  ) {
    this.protocol = 'path' in target ? 'unix' : 'tcp';
    this.open();
  }

  get ready(): boolean {
    return this.connected && !this.closed;
  }

  private open(): void {
    if (this.closed) return;
    const socket = 'path' in this.target ? connect(this.target.path) : connect(this.target.port, this.target.host);
    this.socket = socket;
    socket.unref();
    socket.setNoDelay?.(true);
    socket.on('connect', () => {
      this.connected = true;
      this.backoffMs = MIN_BACKOFF_MS;
      this.warnedDown = false;
    });
    socket.on('error', (err) => {
      if (!this.warnedDown) {
        this.warnedDown = true;
        this.logger.warn('SSF stream connection failed; spans are queued (bounded) while it reconnects', { error: err.message });
      }
    });
    socket.on('close', () => {
      this.connected = false;
      if (this.socket === socket) this.socket = undefined;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.open();
    }, delay);
    this.reconnectTimer.unref();
  }

  send(spans: Uint8Array[]): Promise<Outcome[]> {
    const outcomes = new Array<Outcome>(spans.length).fill(null);
    const socket = this.socket;
    if (!socket || !this.connected) return Promise.resolve(outcomes.fill(this.closed ? 'closed' : 'send_failed'));
    const fitting: Uint8Array[] = [];
    spans.forEach((s, i) => {
      if (s.length > MAX_FRAME_LENGTH) outcomes[i] = 'too_large';
      else fitting.push(s);
    });
    if (fitting.length === 0) return Promise.resolve(outcomes);
    return new Promise<Outcome[]>((resolve) => {
      let settled = false;
      const finish = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        socket.off('close', onClose);
        socket.off('drain', onDrain);
        if (!ok) for (let i = 0; i < outcomes.length; i++) if (outcomes[i] === null) outcomes[i] = 'send_failed';
        resolve(outcomes);
      };
      const onClose = (): void => finish(false);
      const onDrain = (): void => finish(true);
      socket.once('close', onClose);
      // write() returning false means the kernel buffer is full: wait for 'drain',
      // so the next flush waits too and the bounded queue absorbs the burst.
      const flushed = socket.write(encodeFrames(fitting), (err) => {
        if (err) finish(false);
      });
      if (flushed) finish(true);
      else socket.once('drain', onDrain);
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 2000);
      timer.unref();
      socket.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
