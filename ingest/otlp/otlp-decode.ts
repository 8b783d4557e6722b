import protobuf from 'protobufjs/minimal.js';
import { strictReader } from '../../src/codec/protobuf.js';
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

/**
 * Messages nested in a request at most (the request is level 0): protobufjs's
 * recursion limit, protoc's default. Only AnyValue nests without end (an
 * array or kvlist inside another); past this a request is refused whole
 * (OTLP_ERR_TOO_DEEP), in both encodings, before any recursion could run out
 * of stack.
 */
export const MAX_NESTING: number = protobuf.util.recursionLimit;
/**
 * A JSON document nested deeper than this (objects and arrays) cannot be a
 * request within MAX_NESTING: each message is one object, inside at most
 * one array (its repeated field).
 */
const MAX_JSON_DEPTH = 2 * (MAX_NESTING + 1);

function tooDeep(signal: Signal): OtlpError {
  return new OtlpError('OTLP_ERR_TOO_DEEP', `the ${signal} export request nests messages more than ${MAX_NESTING} deep`);
}

/** protobufjs's refusal of a message nested past its limit (decode, skip, fromObject). */
function isDepthError(err: unknown): boolean {
  return err instanceof Error && /^max(imum)? (nesting )?depth exceeded$/.test(err.message);
}

/**
 * Walks the parsed JSON without recursion: refuses it past MAX_JSON_DEPTH,
 * and turns hex ids into bytes in place (an invalid one becomes 1 byte,
 * which the mapping refuses as a bad id, item by item).
 */
function prepareJson(root: object, signal: Signal): void {
  const values: object[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop() as Record<string, unknown>;
    const depth = depths.pop() as number;
    if (depth > MAX_JSON_DEPTH) throw tooDeep(signal);
    if (Array.isArray(value)) {
      for (const v of value as unknown[]) {
        if (v !== null && typeof v === 'object') {
          values.push(v);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    for (const k of Object.keys(value)) {
      const v = value[k];
      if (ID_KEYS.has(k) && typeof v === 'string') value[k] = /^([0-9a-fA-F]{2})*$/.test(v) ? Buffer.from(v, 'hex') : Buffer.alloc(1);
      else if (v !== null && typeof v === 'object') {
        values.push(v);
        depths.push(depth + 1);
      }
    }
  }
}

/**
 * Decodes an export request; throws OtlpError OTLP_ERR_BODY_MALFORMED with
 * the decoder's reason, OTLP_ERR_TOO_DEEP past MAX_NESTING.
 */
export function decodeRequest(signal: 'traces', body: Uint8Array, encoding: Encoding): TracesRequest;
export function decodeRequest(signal: 'logs', body: Uint8Array, encoding: Encoding): LogsRequest;
export function decodeRequest(signal: 'metrics', body: Uint8Array, encoding: Encoding): MetricsRequest;
export function decodeRequest(signal: Signal, body: Uint8Array, encoding: Encoding): ExportRequest;
export function decodeRequest(signal: Signal, body: Uint8Array, encoding: Encoding): ExportRequest {
  const message = MESSAGES[signal];
  try {
    // The strict reader: protobufjs's own cuts a string running past the end instead of failing.
    if (encoding === 'protobuf') return message.decode(strictReader(body));
    const json: unknown = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new TypeError('the body must be a JSON object');
    prepareJson(json, signal);
    return message.fromObject(json as Record<string, unknown>);
  } catch (err) {
    if (err instanceof OtlpError) throw err;
    if (isDepthError(err)) throw tooDeep(signal);
    throw new OtlpError('OTLP_ERR_BODY_MALFORMED', `not a valid OTLP ${signal} export request (${encoding}): ${(err as Error).message}`);
  }
}
