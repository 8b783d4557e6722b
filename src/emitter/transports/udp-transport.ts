import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { EmitterLogger } from '../logger.js';
import type { Outcome, Transport } from './transport.js';

/** The largest UDP payload over IPv4. A local agent (Veneur's model) receives it whole. */
export const MAX_UDP_PAYLOAD = 65_507;

/**
 * One SSFSpan per datagram (Veneur's UDP format). A span larger than
 * `maxDatagramBytes` is never truncated: it is dropped and counted as
 * `too_large` (send it over a stream or HTTP address instead).
 */
export class UdpTransport implements Transport {
  readonly protocol = 'udp';
  private readonly socket: Socket;
  private closed = false;
  private readonly connecting: Promise<void>;

  constructor(
    host: string,
    port: number,
    private readonly maxDatagramBytes: number,
    private readonly logger: EmitterLogger,
  ) {
    const bare = host.replace(/^\[|\]$/g, '');
    this.socket = createSocket(isIPv6(bare) ? 'udp6' : 'udp4');
    // ICMP port-unreachable surfaces as an 'error' on a connected socket: ignore, UDP is fire-and-forget.
    this.socket.on('error', () => {});
    this.socket.unref();
    this.connecting = new Promise<void>((resolve) => {
      this.socket.connect(port, bare, () => resolve());
      // A failed connect (e.g. DNS) surfaces through send callbacks as send_failed.
      this.socket.once('error', () => resolve());
    });
  }

  get ready(): boolean {
    return !this.closed;
  }

  async send(spans: Uint8Array[]): Promise<Outcome[]> {
    await this.connecting;
    return this.sendConnected(spans);
  }

  private sendConnected(spans: Uint8Array[]): Promise<Outcome[]> {
    const outcomes = new Array<Outcome>(spans.length).fill(null);
    if (this.closed) return Promise.resolve(outcomes.fill('closed'));
    let pending = 1;
    return new Promise<Outcome[]>((resolve) => {
      const done = (): void => {
        if (--pending === 0) resolve(outcomes);
      };
      spans.forEach((span, i) => {
        if (span.length > this.maxDatagramBytes) {
          outcomes[i] = 'too_large';
          return;
        }
        pending++;
        try {
          this.socket.send(span, (err) => {
            if (err) outcomes[i] = 'send_failed';
            done();
          });
        } catch (err) {
          outcomes[i] = 'send_failed';
          this.logger.debug?.('udp send failed', { error: String(err) });
          done();
        }
      });
      done();
    });
  }
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
