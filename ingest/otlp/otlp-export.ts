import type { TenantAuth } from '../../src/auth/tenants.js';
import { encodeSpan } from '../../src/codec/span-codec.js';
import { nowNs } from '../../src/emitter/clock.js';
import type { GatewayMetrics } from '../gateway/gateway-metrics.js';
import { gatewayFields } from '../gateway/span-intake.js';
import type { IntakeResult, SpanIntake } from '../gateway/span-intake.js';
import type { SpanSink } from '../sink/span-sink.js';
import type { TenantRateLimit } from '../gateway/tenant-rate-limit.js';
import type { Conversion } from './conversion.js';
import { logsToSsf } from './logs-to-ssf.js';
import { metricsToSsf } from './metrics-to-ssf.js';
import type { DirectContext, DirectConversion } from './direct-conversion.js';
import { logsDirect } from './logs-direct.js';
import type { Encoding, ExportRequest, Signal } from './otlp-decode.js';
import { decodeRequest } from './otlp-decode.js';
import { OtlpError } from './otlp-errors.js';
import type { LogsRequest, MetricsRequest, TracesRequest } from './otlp-messages.js';
import type { OtlpMetrics } from './otlp-metrics.js';
import { tracesDirect } from './traces-direct.js';
import { tracesToSsf } from './traces-to-ssf.js';
import { DECLINE } from './wire-values.js';

/** What both OTLP transports share: the gateway's intake, sink, auth and metrics. */
export interface OtlpDeps {
  intake: SpanIntake;
  sink: SpanSink;
  auth: TenantAuth;
  metrics: GatewayMetrics;
  otlp: OtlpMetrics;
  maxBodyBytes: number;
  maxDecompressedBytes: number;
  /** Per-tenant ingest rate limit (when authentication is required). */
  limits?: TenantRateLimit | undefined;
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

/** One export request taken in by the intake (before the sink): what the answer and /metrics need. */
export interface Admitted {
  result: IntakeResult;
  /** OTLP items in the request, and refused (by the conversion, or by SSF's validation). */
  total: number;
  rejected: number;
  /** The answer's error_message ('' when nothing was refused and no enum was unknown). */
  message: string;
  /** SSF spans made. */
  ssfSpans: number;
  unknownEnums: number;
  /** Whether the direct path took the request (traces-direct.ts, logs-direct.ts). */
  direct: boolean;
}

/** The direct path's conversion, or undefined when it declines the request. */
function convertDirect(signal: Signal, body: Uint8Array, ctx: DirectContext): DirectConversion | undefined {
  try {
    return signal === 'traces' ? tracesDirect(body, ctx) : logsDirect(body, ctx);
  } catch (err) {
    if (err === DECLINE) return undefined;
    throw err;
  }
}

function answerMessage(rejected: number, unknownEnums: number, reasons: string[]): string {
  if (rejected === 0 && unknownEnums === 0) return '';
  return [...reasons, ...(unknownEnums > 0 ? [`${unknownEnums} items kept with an undefined enum value`] : [])].join('; ');
}

/**
 * OTLP -> SSF spans -> the one intake (validation, tenant, cardinality
 * guard, counting). Binary traces and logs take the direct path (bytes to
 * validated SSF bytes in one pass, SpanIntake.fromValidated) unless it
 * declines; everything else, and what it declines, is decoded into
 * messages, converted to SpanEvents, encoded and validated by the intake
 * (the general path, the reference the direct one is tested against).
 * Throws OtlpError for a body that is not an export request.
 */
export function admitOtlp(
  deps: Pick<OtlpDeps, 'intake' | 'metrics'>,
  protocol: string,
  signal: Signal,
  body: Uint8Array,
  encoding: Encoding,
  tenant: string,
  receivedNs: bigint,
  tryDirect = true,
): Admitted {
  if (tryDirect && encoding === 'protobuf' && signal !== 'metrics') {
    const ctx = { window: deps.intake.windowAt(Date.now()), receivedNs: Number(receivedNs), stamp: gatewayFields(tenant, receivedNs) };
    const d = convertDirect(signal, body, ctx);
    if (d !== undefined) {
      for (const [code, n] of d.codes) deps.metrics.refused(protocol, code, n);
      const result = deps.intake.fromValidated(d, protocol);
      // A span the intake refused (too large) is one OTLP span (with its events), or a carrier of log records.
      let refusedItems = 0;
      for (const r of result.rejected) refusedItems += signal === 'logs' ? (d.events[r.index] ?? 1) : 1;
      const rejected = d.rejected + refusedItems;
      const reasons = [...d.errors, ...result.rejected.slice(0, 1).map((r) => `${r.code}: ${r.reason}`)];
      return {
        result,
        total: d.total,
        rejected,
        message: answerMessage(rejected, d.unknownEnums, reasons),
        ssfSpans: d.parts.length - result.rejected.length,
        unknownEnums: d.unknownEnums,
        direct: true,
      };
    }
  }
  const c = convert(signal, decodeRequest(signal, body, encoding));
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
  return {
    result,
    total: c.total,
    rejected,
    message: answerMessage(rejected, c.unknownEnums, reasons),
    ssfSpans: c.spans.length,
    unknownEnums: c.unknownEnums,
    direct: false,
  };
}

/**
 * One export: admitOtlp, then the sink. Resolves only after the sink
 * acknowledged (Kafka acks=all, or the ClickHouse insert); throws OtlpError
 * THROTTLED / UNAVAILABLE when the sink cannot take the data, and then
 * nothing of the request counts as accepted (a retry is safe).
 */
export async function exportOtlp(
  deps: OtlpDeps,
  transport: 'http' | 'grpc',
  signal: Signal,
  body: Uint8Array,
  encoding: Encoding,
  tenant: string,
): Promise<ExportOutcome> {
  const protocol = `otlp_${transport}`;
  // Before anything is decoded: a tenant over its limit costs no conversion.
  const waitS = deps.limits?.admit(tenant, body.length) ?? 0;
  if (waitS > 0) {
    deps.metrics.tenantLimited(protocol, tenant, 1);
    throw new OtlpError(
      'OTLP_ERR_TENANT_RATE_LIMITED',
      `tenant ${tenant} is over its ingest rate limit of ${deps.limits?.rateOf(tenant)} bytes/s; retry after ${waitS} s`,
      waitS,
    );
  }
  const a = admitOtlp(deps, protocol, signal, body, encoding, tenant, nowNs());
  const result = a.result;
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
  deps.otlp.converted(transport, signal, a.total - a.rejected, a.rejected, a.ssfSpans, a.unknownEnums);
  return { rejected: a.rejected, message: a.message };
}
