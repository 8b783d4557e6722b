import { nowNs } from '../../src/emitter/clock.js';
import { dropReason } from '../sink/sink-errors.js';
import type { SpanSink } from '../sink/span-sink.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { IntakeResult, SpanIntake, StatsdAggregate, StatsdFastPath, StatsdParse } from './span-intake.js';
import { packOf } from './span-intake.js';
import type { Flushed } from '../statsd/statsd-aggregator.js';
import { UdpReader } from './udp-reader.js';
import type { TenantRateLimit } from './tenant-rate-limit.js';

export interface UdpListenerOptions {
  address: string;
  receiveBufferBytes: number;
  protocol: 'udp' | 'statsd';
  tenant: string;
  /** For statsd: one datagram of lines -> spans (and per-line refusals, counted). */
  parse?: StatsdParse;
  /** For statsd: common datagrams straight to SSFSample bytes (when the sink forwards bytes). */
  fast?: StatsdFastPath | undefined;
  /** For statsd: aggregation per series and interval (gateway.statsdAggregate) instead of one sample per line. */
  aggregate?: StatsdAggregation | undefined;
  /** The tenant's ingest rate limit: datagrams over it are dropped and counted (UDP cannot push back). */
  limits?: TenantRateLimit | undefined;
}

/** statsd aggregation as the listener drives it: lines in, a flush every interval. */
export interface StatsdAggregation extends StatsdAggregate {
  readonly aggregator: {
    readonly intervalMs: number;
    readonly open: number;
    flush(nowMs?: number): Flushed;
    takeCounts(): { aggregated: number; dropped: number };
  };
}

/**
 * A UDP listener: SSF (one SSFSpan per datagram, Veneur's format) or statsd
 * lines. The socket is read on a thread of its own (udp-reader.ts), which
 * hands datagrams over in groups (1 ms or 512); each group is validated and
 * published together. UDP has no way to push back, so when the sink is not
 * accepting (buffer full, backend failing) datagrams are dropped and counted,
 * never queued without bound.
 */
export class UdpListener {
  private reader: UdpReader | undefined;
  private readonly pending = new Set<Promise<void>>();
  private flushTimer: NodeJS.Timeout | undefined;
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
    const reader = new UdpReader({ address: this.options.address, receiveBufferBytes: this.options.receiveBufferBytes }, (datagrams, dropped) =>
      this.process(datagrams, dropped),
    );
    this.reader = reader;
    const where = await reader.listen();
    this.receiveBufferBytes = reader.receiveBufferBytes;
    if (this.options.aggregate) this.scheduleFlush(this.options.aggregate.aggregator.intervalMs);
    return where;
  }

  // Intervals are aligned to multiples of the interval in unix time (as the flushed samples' timestamps).
  private scheduleFlush(intervalMs: number): void {
    this.flushTimer = setTimeout(
      () => {
        this.flushAggregate();
        this.scheduleFlush(intervalMs);
      },
      intervalMs - (Date.now() % intervalMs),
    );
    this.flushTimer.unref();
  }

  /** Publishes the open aggregation interval (on its timer, and on close). */
  private flushAggregate(): void {
    const aggregate = this.options.aggregate;
    if (!aggregate) return;
    const { protocol, tenant } = this.options;
    const flushed = aggregate.aggregator.flush();
    this.countAggregate(flushed.samples);
    if (flushed.spans.length === 0) return;
    this.publish(this.intake.fromAggregated(flushed.spans, tenant, protocol), flushed.lines);
  }

  private countAggregate(samples: number): void {
    const aggregate = this.options.aggregate;
    if (!aggregate) return;
    const { aggregated, dropped } = aggregate.aggregator.takeCounts();
    if (dropped > 0) this.metrics.dropped(this.options.protocol, 'aggregate_full', dropped);
    this.metrics.aggregated(aggregated, samples);
    this.metrics.aggregateOpen.set(aggregate.aggregator.open);
  }

  // One group: one intake call, one publish (one message to the Kafka thread),
  // one metrics update, not one per datagram. Per event-loop turn was not
  // enough: a turn read a few dozen datagrams, and the message to the Kafka
  // thread cost more than their validation (measured, docs/architecture.md).
  private process(datagrams: Buffer[], dropped: number): void {
    const { protocol, tenant } = this.options;
    if (dropped > 0) this.metrics.udpOverrun(protocol, dropped);
    if (datagrams.length === 0) return;
    if (this.options.limits) {
      let bytes = 0;
      for (const d of datagrams) bytes += d.length;
      if (this.options.limits.admit(tenant, bytes) > 0) {
        this.metrics.tenantLimited(protocol, tenant, datagrams.length);
        this.metrics.dropped(protocol, 'tenant_limit', datagrams.length);
        return;
      }
    }
    const receivedNs = nowNs();
    let result: IntakeResult;
    if (this.options.parse) {
      result = this.intake.fromStatsd(datagrams, tenant, protocol, receivedNs, this.options.parse, this.options.fast, this.options.aggregate);
      if (this.options.aggregate) {
        this.countAggregate(0);
        // What is published now are only the lines aggregation passes (events, service checks, |T).
        let published = 0;
        for (const a of result.accepted) published += a.events;
        this.publish(result, published);
        return;
      }
    } else {
      result = this.intake.fromEncoded(datagrams, tenant, protocol, receivedNs);
    }
    this.publish(result, result.events);
  }

  /** Publishes what the intake accepted; `events`: what is lost if the sink cannot take it (input events, as counted accepted). */
  private publish(result: IntakeResult, events: number): void {
    const { protocol } = this.options;
    if (result.accepted.length === 0) return;
    if (!this.sink.accepting) {
      this.metrics.dropped(protocol, 'backpressure', events);
      return;
    }
    const p = this.sink.publish(packOf(result)).catch((err: unknown) => {
      this.metrics.dropped(protocol, dropReason(err), events);
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Stops reading, publishes what was read, waits for it. */
  async close(): Promise<void> {
    await this.reader?.close();
    clearTimeout(this.flushTimer);
    // A graceful stop publishes the open aggregation interval.
    this.flushAggregate();
    await Promise.allSettled([...this.pending]);
  }
}
