import type { TenantAuth } from '../../src/auth/tenants.js';
import { encodeSpan } from '../../src/codec/span-codec.js';
import { nowNs } from '../../src/emitter/clock.js';
import type { GatewayMetrics } from '../gateway/gateway-metrics.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { acceptedSpans, addSlice, gatewayFields, INTAKE_SLICE, packOf } from '../gateway/span-intake.js';
import type { IntakeResult, SpanIntake } from '../gateway/span-intake.js';
import { dropReason, SinkErrors } from '../sink/sink-errors.js';
import type { SpanSink } from '../sink/span-sink.js';
import type { TenantRateLimit } from '../gateway/tenant-rate-limit.js';
import type { Conversion, Steps } from './conversion.js';
import { runSteps, SLICE_ITEMS } from './conversion.js';
import { logsSteps } from './logs-to-ssf.js';
import { metricsSteps } from './metrics-to-ssf.js';
import type { DirectContext, DirectConversion } from './direct-conversion.js';
import { logsDirect } from './logs-direct.js';
import type { Encoding, ExportRequest, Signal } from './otlp-decode.js';
import { decodeRequest } from './otlp-decode.js';
import { OtlpError } from './otlp-errors.js';
import type { LogsRequest, MetricsRequest, TracesRequest } from './otlp-messages.js';
import type { OtlpMetrics } from './otlp-metrics.js';
import { tracesDirect } from './traces-direct.js';
import { tracesSteps } from './traces-to-ssf.js';
import { DECLINE } from './wire-values.js';
import { ExpansionBudget } from './expansion-budget.js';
import type { ExpansionLimits } from './expansion-budget.js';

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
  /** The most SSF one request may become (gateway.otlpMaxEvents, gateway.otlpMaxOutputBytes). */
  expansion: ExpansionLimits;
}

/** The partial-success part of an export answer (all zero: full success). */
export interface ExportOutcome {
  rejected: number;
  message: string;
}

function convert(signal: Signal, request: ExportRequest, budget: ExpansionBudget): Steps<Conversion> {
  if (signal === 'traces') return tracesSteps(request as TracesRequest, budget);
  if (signal === 'logs') return logsSteps(request as LogsRequest, budget);
  return metricsSteps(request as MetricsRequest, budget);
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

/** The direct path's conversion in slices, or undefined when it declines the request. */
function* convertDirect(signal: Signal, body: Uint8Array, ctx: DirectContext): Steps<DirectConversion | undefined> {
  try {
    return yield* signal === 'traces' ? tracesDirect(body, ctx) : logsDirect(body, ctx);
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
 * Throws OtlpError for a body that is not an export request. At once: see
 * admitOtlpInSlices for the gateway's way.
 */
export function admitOtlp(
  deps: Pick<OtlpDeps, 'intake' | 'metrics' | 'expansion'>,
  protocol: string,
  signal: Signal,
  body: Uint8Array,
  encoding: Encoding,
  tenant: string,
  receivedNs: bigint,
  tryDirect = true,
): Admitted {
  return runSteps(admitSteps(deps, protocol, signal, body, encoding, tenant, receivedNs, tryDirect));
}

// The admission under way: the direct path converts into module scratch, so one request at a time.
let admitting: Promise<void> = Promise.resolve();

/**
 * admitOtlp in slices of SLICE_ITEMS items (INTAKE_SLICE spans through the
 * intake), letting the event loop turn between them (as POST /v1/ssf's
 * fromEncodedInSlices does): a request of 100,000 spans never holds health
 * checks and other requests for longer than one slice, except for the
 * general path's protobufjs decode of the whole request (one call). Requests
 * are admitted one after the other (the direct path's scratch is shared); a
 * request of at most one slice runs without a pause.
 */
export async function admitOtlpInSlices(
  deps: Pick<OtlpDeps, 'intake' | 'metrics' | 'expansion'>,
  protocol: string,
  signal: Signal,
  body: Uint8Array,
  encoding: Encoding,
  tenant: string,
  receivedNs: bigint,
): Promise<Admitted> {
  const before = admitting;
  let release = (): void => {};
  admitting = new Promise<void>((resolve) => {
    release = resolve;
  });
  await before;
  try {
    const steps = admitSteps(deps, protocol, signal, body, encoding, tenant, receivedNs, true);
    let s = steps.next();
    while (!s.done) {
      await yieldToEventLoop();
      s = steps.next();
    }
    return s.value;
  } finally {
    release();
  }
}

function* admitSteps(
  deps: Pick<OtlpDeps, 'intake' | 'metrics' | 'expansion'>,
  protocol: string,
  signal: Signal,
  body: Uint8Array,
  encoding: Encoding,
  tenant: string,
  receivedNs: bigint,
  tryDirect: boolean,
): Steps<Admitted> {
  if (tryDirect && encoding === 'protobuf' && signal !== 'metrics') {
    const ctx = {
      window: deps.intake.windowAt(Date.now()),
      receivedNs: Number(receivedNs),
      stamp: gatewayFields(tenant, receivedNs),
      budget: new ExpansionBudget(deps.expansion, signal),
    };
    const d = yield* convertDirect(signal, body, ctx);
    if (d !== undefined) {
      for (const [code, n] of d.codes) deps.metrics.refused(protocol, code, n);
      const result = deps.intake.fromValidated(d, protocol);
      // A span the intake refused (too large) is one OTLP span (with its events), or a carrier of log records.
      let refusedItems = 0;
      for (const r of result.rejected) refusedItems += signal === 'logs' ? (d.events[r.index] ?? 1) : 1;
      const rejected = d.rejected + refusedItems;
      // Worded as the general path words the intake's refusals (below).
      const reasons = [...d.errors, ...result.rejected.slice(0, 5).map((r) => `${r.code} at ${r.field || 'span'}: ${r.reason}`)];
      return {
        result,
        total: d.total,
        rejected,
        message: answerMessage(rejected, d.unknownEnums, reasons),
        // Made, as the general path counts them: a span the intake refuses was made too.
        ssfSpans: d.ends.length,
        unknownEnums: d.unknownEnums,
        direct: true,
      };
    }
  }
  const budget = new ExpansionBudget(deps.expansion, signal);
  const c = yield* convert(signal, decodeRequest(signal, body, encoding), budget);
  // The conversion charged a lower bound of the bytes; the encoding charges them exactly, span by span.
  budget.countBytesAgain();
  const parts: Uint8Array[] = [];
  for (const span of c.spans) {
    const bytes = encodeSpan(span);
    budget.take(0, bytes.length);
    if (parts.push(bytes) % SLICE_ITEMS === 0) yield;
  }
  for (const [code, n] of c.codes) deps.metrics.refused(protocol, code, n);
  let result: IntakeResult;
  if (parts.length <= INTAKE_SLICE) result = deps.intake.fromEncoded(parts, tenant, protocol, receivedNs);
  else {
    result = { accepted: [], rejected: [], partial: [], events: 0 };
    for (let at = 0; at < parts.length; at += INTAKE_SLICE) {
      yield;
      addSlice(result, deps.intake.fromEncoded(parts.slice(at, at + INTAKE_SLICE), tenant, protocol, receivedNs), at);
    }
  }
  // Count SSF's refusals against the OTLP items they came from.
  const refused = new Set<number>();
  for (const r of result.rejected) for (const item of c.items[r.index] ?? []) refused.add(item);
  for (const r of result.partial) {
    const m = FIELD_INDEX.exec(r.field);
    if (!m) {
      // A refusal of a trace span's own part (its times: SSF_TIME_OUT_OF_RANGE, SSF_SPAN_NEGATIVE_DURATION):
      // no row in spans, only its events kept (as a carrier). The OTLP span is not stored as a span: rejected.
      if (signal === 'traces') for (const item of c.items[r.index] ?? []) refused.add(item);
      continue;
    }
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
 * THROTTLED (buffer full) / UNAVAILABLE (backend failing) when the sink
 * cannot take the data now, and then nothing of the request counts as
 * accepted (a retry is safe); BATCH_TOO_LARGE when it never could (more
 * than its whole buffer: a retry would fail the same way).
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
  const a = await admitOtlpInSlices(deps, protocol, signal, body, encoding, tenant, nowNs());
  const result = a.result;
  if (acceptedSpans(result) > 0) {
    if (!deps.sink.accepting) {
      // Not accepting: while its failure breaker is open (the backend is down: 503 / UNAVAILABLE),
      // or its buffer is full (too much load: 429 / RESOURCE_EXHAUSTED), as the OTLP specification tells them apart.
      const status = deps.sink.status();
      deps.metrics.dropped(protocol, status.ok ? 'backpressure' : 'unavailable', result.events);
      if (!status.ok) throw new OtlpError('OTLP_ERR_UNAVAILABLE', `the sink is failing: ${status.detail}`, 2);
      throw new OtlpError('OTLP_ERR_THROTTLED');
    }
    try {
      await deps.sink.publish(packOf(result));
    } catch (err) {
      const reason = dropReason(err);
      deps.metrics.dropped(protocol, reason, result.events);
      if (!SinkErrors.has(err)) throw new OtlpError('OTLP_ERR_UNAVAILABLE', (err as Error).message, 1);
      if (reason === 'too_large') throw new OtlpError('OTLP_ERR_BATCH_TOO_LARGE', err.reason);
      throw new OtlpError(reason === 'backpressure' ? 'OTLP_ERR_THROTTLED' : 'OTLP_ERR_UNAVAILABLE', err.reason, err.retryAfterSeconds ?? 1);
    }
  }
  deps.otlp.converted(transport, signal, a.total - a.rejected, a.rejected, a.ssfSpans, a.unknownEnums);
  return { rejected: a.rejected, message: a.message };
}
