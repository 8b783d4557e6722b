import type { Registry } from '../../src/observability/prometheus.js';

/** The OTLP receivers' numbers on the gateway's /metrics (docs/otlp.md, "Self-telemetry"). */
export class OtlpMetrics {
  private readonly requests;
  private readonly items;
  private readonly conversions;
  private readonly unknownEnums;

  constructor(registry: Registry) {
    this.requests = registry.counter('ssf_gateway_otlp_requests_total', 'OTLP export requests, by transport (http, grpc), signal and outcome code.', [
      'transport',
      'signal',
      'code',
    ]);
    this.items = registry.counter(
      'ssf_gateway_otlp_items_total',
      'OTLP spans, log records and data points received, by transport, signal and outcome (accepted, rejected).',
      ['transport', 'signal', 'outcome'],
    );
    this.conversions = registry.counter('ssf_gateway_otlp_ssf_spans_total', 'SSF spans (trace spans and carriers) made from OTLP items, by signal.', [
      'signal',
    ]);
    this.unknownEnums = registry.counter(
      'ssf_gateway_otlp_unknown_enum_total',
      'OTLP items kept with an enum value the specification does not define (span kind, status code), by signal.',
      ['signal'],
    );
  }

  request(transport: string, signal: string, code: string): void {
    this.requests.inc({ transport, signal, code });
  }

  converted(transport: string, signal: string, accepted: number, rejected: number, ssfSpans: number, unknownEnums: number): void {
    if (accepted > 0) this.items.inc({ transport, signal, outcome: 'accepted' }, accepted);
    if (rejected > 0) this.items.inc({ transport, signal, outcome: 'rejected' }, rejected);
    if (ssfSpans > 0) this.conversions.inc({ signal }, ssfSpans);
    if (unknownEnums > 0) this.unknownEnums.inc({ signal }, unknownEnums);
  }
}
