import type { TenantAuth } from '../../src/auth/tenants.js';
import { encodeSpan } from '../../src/codec/span-codec.js';
import { nowNs } from '../../src/emitter/clock.js';
import type { GatewayMetrics } from '../gateway/gateway-metrics.js';
import type { SpanIntake } from '../gateway/span-intake.js';
import type { SpanSink } from '../sink/span-sink.js';
import type { Conversion } from './conversion.js';
import { logsToSsf } from './logs-to-ssf.js';
import { metricsToSsf } from './metrics-to-ssf.js';
import type { ExportRequest, Signal } from './otlp-decode.js';
import { OtlpError } from './otlp-errors.js';
import type { LogsRequest, MetricsRequest, TracesRequest } from './otlp-messages.js';
import type { OtlpMetrics } from './otlp-metrics.js';
import { tracesToSsf } from './traces-to-ssf.js';

/** What both OTLP transports share: the gateway's intake, sink, auth and metrics. */
export interface OtlpDeps {
  intake: SpanIntake;
  sink: SpanSink;
  auth: TenantAuth;
  metrics: GatewayMetrics;
  otlp: OtlpMetrics;
  maxBodyBytes: number;
  maxDecompressedBytes: number;
}

/** The partial-success part of an export answer (all zero: full success). */
export interface ExportOutcome {
  rejected: number;
  message: string;
}

function convert(signal: Signal, request: ExportRequest): Conversion {
  if (signal === 'traces') return tracesToSsf(request as TracesRequest);
  if (signal === 'logs') return logsToSsf(request as LogsRequest);
  return metricsToSsf(request as MetricsRequest);
}

const FIELD_INDEX = /^(logs|metrics)\[(\d+)\]/;

/**
 * One OTLP export: OTLP -> SSF spans -> the one intake (validation, tenant,
 * cardinality guard, counting) -> the sink. Resolves only after the sink
 * acknowledged (Kafka acks=all, or the ClickHouse insert); throws OtlpError
 * THROTTLED / UNAVAILABLE when the sink cannot take the data, and then
 * nothing of the request counts as accepted (a retry is safe).
 */
export async function exportOtlp(deps: OtlpDeps, transport: 'http' | 'grpc', signal: Signal, request: ExportRequest, tenant: string): Promise<ExportOutcome> {
  const receivedNs = nowNs();
  const protocol = `otlp_${transport}`;
  const c = convert(signal, request);
  for (const [code, n] of c.codes) deps.metrics.refused(protocol, code, n);

  const result = deps.intake.fromEncoded(c.spans.map(encodeSpan), tenant, protocol, receivedNs);
  // Count SSF's refusals against the OTLP items they came from.
  const refused = new Set<number>();
  for (const r of result.rejected) for (const item of c.items[r.index] ?? []) refused.add(item);
  for (const r of result.partial) {
    const m = FIELD_INDEX.exec(r.field);
    if (!m) continue;
    const item = m[1] === 'logs' ? c.itemOfLog[r.index]?.[Number(m[2])] : c.itemOfSample[r.index]?.[Number(m[2])];
    if (item !== undefined) refused.add(item);
  }
  const rejected = c.rejected + refused.size;
  const reasons = [...c.errors, ...[...result.rejected, ...result.partial].slice(0, 5).map((r) => `${r.code} at ${r.field || 'span'}: ${r.reason}`)];

  if (result.accepted.length > 0) {
    if (!deps.sink.accepting) {
      deps.metrics.dropped(protocol, 'backpressure', result.events);
      throw new OtlpError('OTLP_ERR_THROTTLED');
    }
    try {
      await deps.sink.publish(result.accepted);
    } catch (err) {
      deps.metrics.dropped(protocol, 'unavailable', result.events);
      const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds ?? 1;
      throw new OtlpError('OTLP_ERR_UNAVAILABLE', `${(err as Error).message}`, retryAfter);
    }
  }
  deps.otlp.converted(transport, signal, c.total - rejected, rejected, c.spans.length, c.unknownEnums);
  return {
    rejected,
    message:
      rejected === 0 && c.unknownEnums === 0
        ? ''
        : [...reasons, ...(c.unknownEnums > 0 ? [`${c.unknownEnums} items kept with an undefined enum value`] : [])].join('; '),
  };
}
