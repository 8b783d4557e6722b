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

/** The integer range of a field in proto3 JSON. */
interface IntRange {
  type: string;
  min: bigint;
  max: bigint;
}
const INT64: IntRange = { type: 'int64', min: -(2n ** 63n), max: 2n ** 63n - 1n };
const UINT64: IntRange = { type: 'uint64', min: 0n, max: 2n ** 64n - 1n };
const INT32: IntRange = { type: 'int32', min: -(2n ** 31n), max: 2n ** 31n - 1n };
const UINT32: IntRange = { type: 'uint32', min: 0n, max: 2n ** 32n - 1n };
/**
 * The integer fields of the OTLP messages we read (schema/otlp/otlp.proto),
 * by their JSON name (the only one protobufjs's fromObject reads). protobufjs
 * does not check them: it wraps a value past the type (a time past 2^64 read
 * as another time, severity 2^32 + 1 as 1) and reads a string that is not a
 * number as 0, so a request would be answered 200 for values it never held.
 * These names are used by no other field of a request.
 */
const INT_KEYS = new Map<string, IntRange>([
  ['intValue', INT64],
  ['asInt', INT64],
  ['timeUnixNano', UINT64],
  ['startTimeUnixNano', UINT64],
  ['endTimeUnixNano', UINT64],
  ['observedTimeUnixNano', UINT64],
  ['count', UINT64],
  ['zeroCount', UINT64],
  ['bucketCounts', UINT64],
  ['severityNumber', INT32],
  ['aggregationTemporality', INT32],
  ['scale', INT32],
  ['offset', INT32],
  ['flags', UINT32],
  ['droppedAttributesCount', UINT32],
  ['droppedEventsCount', UINT32],
  ['droppedLinksCount', UINT32],
]);

/**
 * A proto3 JSON integer: a decimal string, or a JSON number without a
 * fraction (OTLP/JSON writes 64-bit values as strings; a number past 2^53
 * has already lost digits in JSON.parse, as with any proto3 JSON reader,
 * but is within its type), within the field's type; null is "not set".
 */
function checkInt(key: string, value: unknown, range: IntRange, signal: Signal): void {
  if (value === null) return;
  let n: bigint | undefined;
  if (typeof value === 'string' && /^-?[0-9]{1,30}$/.test(value)) n = BigInt(value);
  else if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
  if (n === undefined || n < range.min || n > range.max) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'number' ? String(value) : typeof value;
    throw new OtlpError(
      'OTLP_ERR_BODY_MALFORMED',
      `not a valid OTLP ${signal} export request (json): ${key} must be an integer of ${range.type} (a decimal string or a whole JSON number from ${range.min} to ${range.max}), not ${shown}`,
    );
  }
}

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
 * Walks the parsed JSON without recursion: refuses it past MAX_JSON_DEPTH
 * and integers outside their field's type (INT_KEYS), and turns hex ids
 * into bytes in place (an invalid one becomes 1 byte,
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
      const range = INT_KEYS.get(k);
      if (range !== undefined) {
        if (Array.isArray(v)) for (const item of v as unknown[]) checkInt(k, item, range, signal);
        else checkInt(k, v, range, signal);
      } else if (ID_KEYS.has(k) && typeof v === 'string') value[k] = /^([0-9a-fA-F]{2})*$/.test(v) ? Buffer.from(v, 'hex') : Buffer.alloc(1);
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
