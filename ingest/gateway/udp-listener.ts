import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { nowNs } from '../../src/emitter/clock.js';
import type { SpanSink } from '../sink/span-sink.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { IntakeResult, SpanIntake, StatsdFastPath, StatsdParse } from './span-intake.js';
import { splitHostPort } from '../../src/http/listen-address.js';

export interface UdpListenerOptions {
  address: string;
  receiveBufferBytes: number;
  protocol: 'udp' | 'statsd';
  tenant: string;
  /** For statsd: one datagram of lines -> spans (and per-line refusals, counted). */
  parse?: StatsdParse;
  /** For statsd: common datagrams straight to SSFSample bytes (when the sink forwards bytes). */
  fast?: StatsdFastPath | undefined;
}

/** The most datagrams published together, and the longest a datagram waits for others. */
const UDP_GROUP_DATAGRAMS = 512;
const UDP_GROUP_MS = 1;

/**
 * A UDP listener: SSF (one SSFSpan per datagram, Veneur's format) or statsd
 * lines. UDP has no way to push back, so when the sink is not accepting
 * (buffer full, backend failing) datagrams are dropped and counted, never
 * queued without bound. Datagrams are published in groups (1 ms or 512).
 */
export class UdpListener {
  private socket: Socket | undefined;
  private datagrams: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<void>>();
  /** The receive buffer the kernel granted (it caps SO_RCVBUF at net.core.rmem_max). */
  receiveBufferBytes = 0;
  readonly protocol: 'udp' | 'statsd';

  constructor(
    private readonly options: UdpListenerOptions,
    private readonly intake: SpanIntake,
    private readonly sink: SpanSink,
    private readonly metrics: GatewayMetrics,
  ) {
    this.protocol = options.protocol;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const { host, port } = splitHostPort(this.options.address);
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: this.options.receiveBufferBytes });
    this.socket = socket;
    socket.on('message', (msg) => this.onMessage(msg));
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.receiveBufferBytes = socket.getRecvBufferSize();
    return { host, port: socket.address().port };
  }

  // Datagrams are validated and published together, up to 1 ms or 512 at a
  // time: one intake call, one publish (one message to the Kafka thread), one
  // metrics update per group, not per datagram. Per event-loop turn was not
  // enough: a turn reads a few dozen datagrams, and the message to the Kafka
  // thread cost more than their validation (measured, docs/architecture.md).
  private onMessage(msg: Buffer): void {
    this.datagrams.push(msg);
    if (this.datagrams.length >= UDP_GROUP_DATAGRAMS) this.process();
    else this.timer ??= setTimeout(() => this.process(), UDP_GROUP_MS);
  }

  private process(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const datagrams = this.datagrams;
    this.datagrams = [];
    const { protocol, tenant } = this.options;
    const receivedNs = nowNs();
    let result: IntakeResult;
    if (this.options.parse) {
      result = this.intake.fromStatsd(datagrams, tenant, protocol, receivedNs, this.options.parse, this.options.fast);
    } else {
      result = this.intake.fromEncoded(datagrams, tenant, protocol, receivedNs);
    }
    if (result.accepted.length === 0) return;
    if (!this.sink.accepting) {
      this.metrics.dropped(protocol, 'backpressure', result.events);
      return;
    }
    const events = result.events;
    const p = this.sink.publish(result.accepted).catch(() => {
      this.metrics.dropped(protocol, 'unavailable', events);
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Stops reading, publishes what was read, waits for it. */
  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (this.datagrams.length > 0 || this.timer) this.process();
    await Promise.allSettled([...this.pending]);
  }
}
