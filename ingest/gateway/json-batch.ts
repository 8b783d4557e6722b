import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';

/** Spans checked between two turns of the event loop. */
const JSON_SLICE = 1_000;
import { encodeRawSpan, SSFSpanMessage } from '../../src/codec/protobuf.js';
import type { BatchRejection } from '../../src/codec/span-codec.js';
import { setTag } from '../../src/codec/tag-map.js';

// proto3 JSON (https://protobuf.dev/programming-guides/json/): 64-bit integers
// as decimal strings (numbers accepted), enums as names or numbers, field
// names in lowerCamelCase or as in the .proto file.
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT64_RANGE = 'must be a decimal 64-bit signed integer (-9223372036854775808 to 9223372036854775807)';
const int64 = z
  .union([
    z
      .string()
      .regex(/^-?\d{1,20}$/, INT64_RANGE)
      .refine((s) => {
        // zod runs this check after a failed regex too: only digits reach BigInt.
        if (!/^-?\d{1,20}$/.test(s)) return false;
        const v = BigInt(s);
        return v >= INT64_MIN && v <= INT64_MAX;
      }, INT64_RANGE),
    // JSON numbers past 2^53 have already lost digits when parsed: they must come as strings.
    z.number().refine(Number.isSafeInteger, 'a 64-bit integer beyond ±2^53 loses digits as a JSON number: give it as a decimal string'),
  ])
  .optional();
const int32Value = z
  .number()
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1);
const int32 = int32Value.optional();
const str = z.string().optional();
const bool = z.boolean().optional();
const num = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]).optional();
// Not z.record(): it skips a "__proto__" key, neither checking nor keeping it. The map itself is kept (built by camelKeys with setTag).
const stringMap = z
  .custom<Record<string, string>>((m) => typeof m === 'object' && m !== null && !Array.isArray(m), 'Invalid input: expected an object of strings')
  .check((ctx) => {
    for (const [k, v] of Object.entries(ctx.value)) {
      if (typeof v !== 'string') ctx.issues.push({ code: 'custom', input: v, path: [k], message: `Invalid input: expected string, received ${typeof v}` });
    }
  })
  .optional();
// An enum number is an int32 on the wire: protobufjs wrapped a larger one (2^32 + 1 read as 1, another value).
const enumOf = (names: [string, ...string[]]) => z.union([z.enum(names), int32Value]).optional();

const sample = z.strictObject({
  metric: enumOf(['COUNTER', 'GAUGE', 'HISTOGRAM', 'SET', 'STATUS']),
  name: str,
  value: num,
  timestamp: int64,
  message: str,
  status: enumOf(['OK', 'WARNING', 'CRITICAL', 'UNKNOWN']),
  sampleRate: num,
  tags: stringMap,
  unit: str,
  scope: enumOf(['DEFAULT', 'LOCAL', 'GLOBAL']),
});

const logRecord = z.strictObject({
  timestamp: int64,
  severity: enumOf(['UNSPECIFIED', 'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']),
  body: str,
  attributes: stringMap,
});

const span = z.strictObject({
  version: int32,
  traceId: int64,
  id: int64,
  parentId: int64,
  startTimestamp: int64,
  endTimestamp: int64,
  error: bool,
  service: str,
  metrics: z.array(sample).optional(),
  tags: stringMap,
  indicator: bool,
  name: str,
  rootStartTimestamp: int64,
  logs: z.array(logRecord).optional(),
  tenant: str,
  receivedTimestamp: int64,
});

// An SSFSpan nests at most four levels deep (span, metrics, a sample, its tags):
// deeper input cannot match the schema, so it is left as it is for zod to refuse
// (never recursed into: a deeply nested body must not exhaust the stack).
const MAX_DEPTH = 4;

/** snake_case keys (as in the .proto file) to lowerCamelCase, down to MAX_DEPTH, leaving map keys alone. */
function camelKeys(value: unknown, inMap = false, depth = 0): unknown {
  if (depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => camelKeys(v, false, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = inMap ? k : k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    // setTag: a map's "__proto__" key stays an entry (a field of that name is refused by the strict schema).
    setTag(out, key, camelKeys(v, !inMap && (key === 'tags' || key === 'attributes'), depth + 1));
  }
  return out;
}

export interface JsonBatch {
  /** Each valid span re-encoded as SSFSpan protobuf, with its index in the batch. */
  spans: Array<{ index: number; bytes: Uint8Array }>;
  rejected: BatchRejection[];
  total: number;
}

/**
 * A proto3-JSON SSFBatch (`{"spans": [...]}`) to encoded spans. A span of the
 * wrong shape is refused alone (SSF_JSON_INVALID naming the field); a body
 * that is not such an object at all throws SSF_JSON_INVALID for the whole.
 */
export async function parseJsonBatch(text: string): Promise<JsonBatch | { error: string }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { error: `the body is not JSON: ${(err as Error).message}` };
  }
  const top = z.object({ spans: z.array(z.unknown()) }).safeParse(parsed);
  if (!top.success) return { error: 'the body must be a JSON object {"spans": [...]} (proto3 JSON of an SSFBatch)' };
  const result: JsonBatch = { spans: [], rejected: [], total: top.data.spans.length };
  for (const [index, raw] of top.data.spans.entries()) {
    // Checked in slices, yielding to the event loop between them (a large body holds nobody for long).
    if (index > 0 && index % JSON_SLICE === 0) await yieldToEventLoop();
    const s = span.safeParse(camelKeys(raw));
    if (!s.success) {
      const issue = s.error.issues[0];
      result.rejected.push({ index, code: 'SSF_JSON_INVALID', field: issue?.path.join('.') ?? '', reason: issue?.message ?? 'invalid span' });
      continue;
    }
    result.spans.push({ index, bytes: encodeRawSpan(SSFSpanMessage.fromObject(s.data)) });
  }
  return result;
}
