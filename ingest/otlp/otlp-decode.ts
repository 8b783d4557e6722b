import { OtlpError } from './otlp-errors.js';
import type { LogsRequest, MetricsRequest, TracesRequest } from './otlp-messages.js';
import { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest } from './otlp-messages.js';

export type Signal = 'traces' | 'logs' | 'metrics';
export type Encoding = 'protobuf' | 'json';
export type ExportRequest = TracesRequest | LogsRequest | MetricsRequest;

const MESSAGES = {
  traces: ExportTraceServiceRequest,
  logs: ExportLogsServiceRequest,
  metrics: ExportMetricsServiceRequest,
} as const;

/** Content types of OTLP/HTTP (the specification's two). */
export function encodingOf(contentType: string | undefined): Encoding | undefined {
  const base = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (base === 'application/x-protobuf' || base === 'application/protobuf') return 'protobuf';
  if (base === 'application/json') return 'json';
  return undefined;
}

// OTLP/JSON writes these ids as hex, where proto3 JSON would have base64.
const ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId', 'trace_id', 'span_id', 'parent_span_id']);

/** Hex ids -> bytes (an invalid one becomes 1 byte, which the mapping refuses as a bad id, item by item). */
function hexIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hexIds);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (ID_KEYS.has(k) && typeof v === 'string') out[k] = /^([0-9a-fA-F]{2})*$/.test(v) ? Buffer.from(v, 'hex') : Buffer.alloc(1);
    else out[k] = hexIds(v);
  }
  return out;
}

/** Decodes an export request; throws OtlpError OTLP_ERR_BODY_MALFORMED with the decoder's reason. */
export function decodeRequest(signal: 'traces', body: Uint8Array, encoding: Encoding): TracesRequest;
export function decodeRequest(signal: 'logs', body: Uint8Array, encoding: Encoding): LogsRequest;
export function decodeRequest(signal: 'metrics', body: Uint8Array, encoding: Encoding): MetricsRequest;
export function decodeRequest(signal: Signal, body: Uint8Array, encoding: Encoding): ExportRequest;
export function decodeRequest(signal: Signal, body: Uint8Array, encoding: Encoding): ExportRequest {
  const message = MESSAGES[signal];
  try {
    if (encoding === 'protobuf') return message.decode(body);
    const json: unknown = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new TypeError('the body must be a JSON object');
    return message.fromObject(hexIds(json) as Record<string, unknown>);
  } catch (err) {
    throw new OtlpError('OTLP_ERR_BODY_MALFORMED', `not a valid OTLP ${signal} export request (${encoding}): ${(err as Error).message}`);
  }
}
