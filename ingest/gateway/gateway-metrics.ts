import { Registry } from '../../src/observability/prometheus.js';
import type { SinkObserver } from '../sink/span-sink.js';

const SIZE_BUCKETS = [1, 10, 100, 1_000, 10_000, 100_000];
const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The gateway's own numbers on /metrics (names: docs/architecture.md, "Self-observability"). */
export class GatewayMetrics implements SinkObserver {
  readonly registry = new Registry();
  private readonly receivedTotal = this.registry.counter('ssf_gateway_received_total', 'Spans or datagrams received, by protocol.', ['protocol']);
  private readonly acceptedTotal = this.registry.counter(
    'ssf_gateway_accepted_events_total',
    'Events (trace spans, samples, log records) accepted, by protocol.',
    ['protocol'],
  );
  private readonly refusedTotal = this.registry.counter('ssf_gateway_refused_total', 'Input refused as invalid, by protocol and error code.', [
    'protocol',
    'code',
  ]);
  private readonly droppedTotal = this.registry.counter(
    'ssf_gateway_dropped_total',
    'Valid input dropped because the pipeline could not take it, by protocol and reason.',
    ['protocol', 'reason'],
  );
  private readonly udpOverrunTotal = this.registry.counter(
    'ssf_gateway_udp_overrun_total',
    'UDP datagrams dropped by the reader thread because gateway.udpReceiveBufferBytes of them were already waiting for the main thread, by protocol.',
    ['protocol'],
  );
  private readonly overflowTotal = this.registry.counter(
    'ssf_gateway_cardinality_overflow_total',
    'Samples folded into the overflow series by the cardinality guard, by tenant and metric.',
    ['tenant', 'metric'],
  );
  private readonly tenantLimitedTotal = this.registry.counter(
    'ssf_gateway_tenant_limited_total',
    'Requests, datagrams or frames refused undecoded because their tenant was over gateway.tenantRateLimitBytes, by protocol and tenant.',
    ['protocol', 'tenant'],
  );
  private readonly metricNamesRefusedTotal = this.registry.counter(
    'ssf_gateway_metric_names_refused_total',
    'Samples refused by the cardinality guard because their name was new past gateway.maxMetricNamesPerTenant or gateway.maxMetricNames this hour, by tenant.',
    ['tenant'],
  );
  private readonly idempotentTotal = this.registry.counter(
    'ssf_gateway_idempotent_requests_total',
    'HTTP batches sent with an Idempotency-Key and taken; repeat="true" when this process saw the key (of the tenant) with the same body among its last 10,000: a retry, whose spans already stored are dropped by ClickHouse. A key reused with another body is refused: ssf_gateway_refused_total{code="GW_ERR_IDEMPOTENCY_KEY_REUSED"}.',
    ['repeat'],
  );
  private readonly aggregatedLinesTotal = this.registry.counter(
    'ssf_gateway_statsd_aggregated_lines_total',
    'statsd lines aggregated into their series (gateway.statsdAggregate); lines over gateway.statsdMaxSamples are ssf_gateway_dropped_total{reason="aggregate_full"}.',
  );
  private readonly aggregateSamplesTotal = this.registry.counter(
    'ssf_gateway_statsd_aggregate_samples_total',
    'Samples flushed by statsd aggregation (one per counter or gauge series, set member, histogram sample per interval).',
  );
  /** Samples the open statsd aggregation interval holds (its bound: gateway.statsdMaxSamples). */
  readonly aggregateOpen = this.registry.gauge(
    'ssf_gateway_statsd_aggregate_open',
    'Samples the open statsd aggregation interval will flush (series, set members, histogram bins); bounded by gateway.statsdMaxSamples.',
  );
  private readonly httpRequests = this.registry.counter('ssf_gateway_http_requests_total', 'HTTP requests by route and status.', ['route', 'status']);
  readonly batchSize = this.registry.histogram('ssf_gateway_batch_spans', 'Spans per HTTP batch or stream read.', SIZE_BUCKETS, ['protocol']);
  private readonly sendSeconds = this.registry.histogram(
    'ssf_gateway_sink_latency_seconds',
    'Time for the sink (Kafka acks=all, or the ClickHouse insert) to acknowledge.',
    SECONDS_BUCKETS,
    ['sink', 'outcome'],
  );
  /** Set at each scrape from the receivers' budgets. */
  readonly inFlightBytes = this.registry.gauge(
    'ssf_gateway_in_flight_bytes',
    'Request body bytes the HTTP receivers hold at once (as read, then as decompressed), by receiver: ssf (POST /v1/ssf, bounded by gateway.httpMaxInFlightBytes) and otlp (both OTLP listeners, gateway.otlpMaxInFlightBytes).',
    ['receiver'],
  );
  readonly bufferFill = this.registry.gauge(
    'ssf_gateway_buffer_accepting',
    '1 while the sink accepts data, 0 while its buffer is full or its backend failing.',
    ['sink'],
  );

  private readonly bound = new Map<string, { received: (n?: number) => void; accepted: (n?: number) => void }>();

  private byProtocol(protocol: string): { received: (n?: number) => void; accepted: (n?: number) => void } {
    let b = this.bound.get(protocol);
    if (!b) {
      b = { received: this.receivedTotal.bind({ protocol }), accepted: this.acceptedTotal.bind({ protocol }) };
      this.bound.set(protocol, b);
    }
    return b;
  }

  received(protocol: string, n: number): void {
    this.byProtocol(protocol).received(n);
  }

  accepted(protocol: string, events: number): void {
    if (events > 0) this.byProtocol(protocol).accepted(events);
  }

  refused(protocol: string, code: string, n: number): void {
    this.refusedTotal.inc({ protocol, code }, n);
  }

  dropped(protocol: string, reason: string, n: number): void {
    this.droppedTotal.inc({ protocol, reason }, n);
  }

  /** statsd aggregation: lines aggregated and samples flushed. */
  aggregated(lines: number, samples: number): void {
    if (lines > 0) this.aggregatedLinesTotal.inc({}, lines);
    if (samples > 0) this.aggregateSamplesTotal.inc({}, samples);
  }

  udpOverrun(protocol: string, datagrams: number): void {
    this.udpOverrunTotal.inc({ protocol }, datagrams);
  }

  cardinalityOverflow(tenant: string, metric: string): void {
    this.overflowTotal.inc({ tenant, metric });
  }

  tenantLimited(protocol: string, tenant: string, n: number): void {
    this.tenantLimitedTotal.inc({ protocol, tenant }, n);
  }

  metricNameRefused(tenant: string): void {
    this.metricNamesRefusedTotal.inc({ tenant });
  }

  idempotent(repeat: boolean): void {
    this.idempotentTotal.inc({ repeat: repeat ? 'true' : 'false' });
  }

  request(route: string, status: number): void {
    this.httpRequests.inc({ route, status: String(status) });
  }

  observeSink(sink: string, seconds: number, _records: number, ok: boolean): void {
    this.sendSeconds.observe(seconds, { sink, outcome: ok ? 'ok' : 'error' });
  }

  /** For tests and the benchmark. */
  count(
    name: 'received' | 'accepted' | 'refused' | 'dropped' | 'idempotent' | 'udpOverrun' | 'tenantLimited' | 'aggregatedLines' | 'aggregateSamples',
    labels: Record<string, string>,
  ): number {
    const c = {
      aggregatedLines: this.aggregatedLinesTotal,
      aggregateSamples: this.aggregateSamplesTotal,
      udpOverrun: this.udpOverrunTotal,
      received: this.receivedTotal,
      accepted: this.acceptedTotal,
      refused: this.refusedTotal,
      dropped: this.droppedTotal,
      idempotent: this.idempotentTotal,
      tenantLimited: this.tenantLimitedTotal,
    }[name];
    return c.get(labels);
  }
}
