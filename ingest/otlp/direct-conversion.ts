/*
 * What the direct paths (traces-direct.ts, logs-direct.ts) share: their
 * result, the resource and scope as SSF map entries, and the writing of
 * attributes. The direct paths turn OTLP protobuf bytes into the SSF bytes
 * the general path (decode, tracesToSsf / logsToSsf, encodeSpan) gives,
 * already validated as the intake would (SpanIntake.fromValidated); a
 * request they cannot prove they handle exactly like that is declined whole
 * (DECLINE) and takes the general path.
 */
import { Ranges } from '../../src/codec/ranges.js';
import { LIMITS } from '../../src/codec/validate.js';
import { WireWriter } from '../../src/codec/wire-writer.js';
import type { EventWindow } from '../gateway/event-window.js';
import type { ValidatedSpans } from '../gateway/span-intake.js';
import type { Refusals, Steps } from './conversion.js';
import { SLICE_ITEMS } from './conversion.js';
import type { ExpansionBudget } from './expansion-budget.js';
import { RESOURCE_PREFIX, SCOPE_ATTRIBUTE_PREFIX, SCOPE_NAME, SCOPE_VERSION } from './otlp-origin.js';
import {
  anyValueText,
  DECLINE,
  field,
  kvKeyEnd,
  kvKeyStart,
  kvValueEnd,
  kvValueStart,
  r,
  readKeyValue,
  skipField,
  startReading,
  stopReading,
  tag,
  text,
  utf8Ok,
  varint32,
  writeAnyValue,
} from './wire-values.js';

/** A request converted by a direct path: SSF spans validated, and the OTLP items refused on the way. */
export interface DirectConversion extends Refusals, ValidatedSpans {
  /** Items in the request. */
  total: number;
  /** Enum values the specification does not define, kept as numbers. */
  unknownEnums: number;
}

export function emptyDirect(): DirectConversion {
  return {
    data: new Uint8Array(0),
    ends: new Uint32Array(0),
    traces: new Uint32Array(0),
    events: [],
    total: 0,
    rejected: 0,
    errors: [],
    codes: new Map(),
    unknownEnums: 0,
  };
}

/** What the direct paths need of the gateway: the accepted times, the received time for records without one, its fields. */
export interface DirectContext {
  window: EventWindow;
  receivedNs: number;
  /** The tenant and received time (gatewayFields), written at the end of every span. */
  stamp: Uint8Array;
  /** What the request may still become: charged as each span is written (its bytes without `stamp`, as the general path's encodeSpan). */
  budget: ExpansionBudget;
}

/** A big-endian 32-bit word of `b` at `at` (an OTLP id is big-endian bytes; SSF's are varints). */
export function be32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

/** One leaf of an export request (a span or a log record) at `start..end` of the body. */
export type LeafReader = (c: DirectConversion, ctx: DirectContext, origin: WireOrigin, start: number, end: number) => void;

/**
 * Reads an Export{Traces,Logs}ServiceRequest: each Resource{Spans,Logs}
 * (field 1), its Scope{Spans,Logs} (field 2), and their leaves (field 2),
 * calling `leaf` for each with the SSF map entries of its resource and
 * scope (written under `mapTag`), then `scopeDone` after a scope's leaves.
 * Pauses every SLICE_ITEMS leaves. While paused it holds the module's
 * scratch (`out`, the reader): the caller runs one conversion at a time.
 */
export function* walkExport(
  body: Uint8Array,
  ctx: DirectContext,
  mapTag: number,
  leaf: LeafReader,
  scopeDone?: (c: DirectConversion, ctx: DirectContext) => void,
): Steps<DirectConversion> {
  const c = emptyDirect();
  startReading(body);
  out.reset();
  spanAt.clear();
  spanTrace.clear();
  let done = 0;
  try {
    const end = body.length;
    resources.clear();
    while (r.pos < end) {
      const t = tag(end);
      if (t >>> 3 === 1) {
        const stop = field(t & 7, end);
        resources.push(r.pos, stop);
        r.pos = stop;
      } else {
        skipField(t >>> 3, t & 7, end);
      }
    }
    for (let i = 0; i < resources.n * 2; i += 2) {
      const res = oneAndMany(resources.at[i] as number, resources.at[i + 1] as number, scopes);
      for (let j = 0; j < scopes.n * 2; j += 2) {
        const scope = oneAndMany(scopes.at[j] as number, scopes.at[j + 1] as number, leaves);
        const origin = wireOrigin(res.oneStart, res.oneEnd, scope.oneStart, scope.oneEnd, mapTag);
        for (let k = 0; k < leaves.n * 2; k += 2) {
          leaf(c, ctx, origin, leaves.at[k] as number, leaves.at[k + 1] as number);
          if (++done % SLICE_ITEMS === 0) yield;
        }
        scopeDone?.(c, ctx);
      }
    }
    takeParts(c);
    return c;
  } finally {
    stopReading();
    // A refused request (OTLP_ERR_OUTPUT_TOO_LARGE) may have grown the scratch: given back too.
    out.shrink(SCRATCH_KEPT);
    for (const list of [resources, scopes, leaves, spanAt, spanTrace]) list.shrink(RANGES_KEPT);
  }
}

// The request's Resource{Spans,Logs}, one's Scope{Spans,Logs}, one's leaves (scratch: one conversion at a time).
const resources = new Ranges();
const scopes = new Ranges();
const leaves = new Ranges();

/** The range of a message's field 1 (one submessage: its resource or scope) and the ranges of its repeated field 2 (into `into`, cleared first); field 3 (a string) skipped. */
function oneAndMany(start: number, end: number, into: Ranges): { oneStart: number; oneEnd: number } {
  let oneStart = -1;
  let oneEnd = -1;
  into.clear();
  r.pos = start;
  while (r.pos < end) {
    const t = tag(end);
    const f = t >>> 3;
    if (f === 1 || f === 2 || f === 3) {
      const stop = field(t & 7, end);
      if (f === 1) {
        // protobufjs decodes a superseded message too: left to it.
        if (oneStart >= 0) throw DECLINE;
        oneStart = r.pos;
        oneEnd = stop;
      } else if (f === 2) {
        into.push(r.pos, stop);
      }
      r.pos = stop;
    } else {
      skipField(f, t & 7, end);
    }
  }
  return { oneStart, oneEnd };
}

/** Scratch kept between requests (a larger one, grown for one large request, is given back). */
const SCRATCH_KEPT = 4 << 20;
const RANGES_KEPT = 16_384;
/** The writer of SSF bytes (scratch, reused: one request at a time). */
export const out = new WireWriter();
const originOut = new WireWriter(4096);

/** Where each SSF span is in `out`, until the bytes are taken. */
export const spanAt = new Ranges();
/** Each SSF span's trace id halves (low, high; unsigned, kept as int32 bits), until taken. */
const spanTrace = new Ranges();

/** Ends the span started at `start`: the gateway's fields, where it is, its trace id halves and its events. */
export function endSpan(c: DirectConversion, ctx: DirectContext, start: number, traceLo: number, traceHi: number, events: number): void {
  out.copy(ctx.stamp, 0, ctx.stamp.length);
  spanAt.push(start, out.pos);
  spanTrace.push(traceLo, traceHi);
  c.events.push(events);
}

/**
 * The SSF spans written, as a pack: their bytes one after the other in a
 * buffer of its own (never a slice of Node's buffer pool: the Kafka thread
 * takes its memory), copied run by run of adjacent spans.
 */
export function takeParts(c: DirectConversion): void {
  const n = spanAt.n;
  const at = spanAt.at;
  let total = 0;
  for (let i = 0; i < n * 2; i += 2) total += (at[i + 1] as number) - (at[i] as number);
  const data = Buffer.allocUnsafeSlow(total);
  const ends = new Uint32Array(n);
  let pos = 0;
  let runStart = 0;
  let runEnd = 0;
  for (let i = 0; i < n; i++) {
    const s = at[2 * i] as number;
    const e = at[2 * i + 1] as number;
    if (s !== runEnd) {
      out.buf.copy(data, pos - (runEnd - runStart), runStart, runEnd);
      runStart = s;
    }
    runEnd = e;
    pos += e - s;
    ends[i] = pos;
  }
  out.buf.copy(data, pos - (runEnd - runStart), runStart, runEnd);
  c.data = data;
  c.ends = ends;
  c.traces = new Uint32Array(spanTrace.at.buffer, 0, 2 * n).slice();
  out.shrink(SCRATCH_KEPT);
}

/** Resource and scope as the SSF map entries every event of them starts with. */
export interface WireOrigin {
  service: string;
  /** The service's UTF-8 bytes (the span's field 8). */
  serviceBytes: Buffer;
  /** The map entries (with their field tag), in the order the general path's object has them. */
  entries: Buffer;
  count: number;
}

/** The attributes (field 1, KeyValue ranges) of the Resource in [start, end); field 2 is its dropped count. */
function resourceAttributes(start: number, end: number, into: number[]): void {
  r.pos = start;
  while (r.pos < end) {
    const t = tag(end);
    if (t >>> 3 === 1) {
      const stop = field(t & 7, end);
      into.push(r.pos, stop);
      r.pos = stop;
    } else if (t >>> 3 === 2) {
      varint32(t & 7, end);
    } else {
      skipField(t >>> 3, t & 7, end);
    }
  }
}

/**
 * originOf (otlp-origin.ts) from the Resource in [resStart, resEnd) and the
 * InstrumentationScope in [scopeStart, scopeEnd) (-1: absent), as map
 * entries of field `mapTag` (11 span tags, 4 log attributes). Built as the
 * same object, so that keys are ordered and merged as there.
 */
export function wireOrigin(resStart: number, resEnd: number, scopeStart: number, scopeEnd: number, mapTag: number): WireOrigin {
  const tags: Record<string, string> = {};
  let service = '';
  const kvs: number[] = [];
  if (resStart >= 0) resourceAttributes(resStart, resEnd, kvs);
  for (let i = 0; i < kvs.length; i += 2) {
    readKeyValue(kvs[i] as number, kvs[i + 1] as number);
    const key = text(kvKeyStart, kvKeyEnd);
    const value = anyValueText(kvValueStart, kvValueEnd);
    if (key === 'service.name') service = value;
    else tags[RESOURCE_PREFIX + key] = value;
  }
  if (scopeStart >= 0) {
    let name = '';
    let version = '';
    const attrs: number[] = [];
    r.pos = scopeStart;
    while (r.pos < scopeEnd) {
      const t = tag(scopeEnd);
      const f = t >>> 3;
      if (f === 1 || f === 2 || f === 3) {
        const stop = field(t & 7, scopeEnd);
        if (f === 1) name = text(r.pos, stop);
        else if (f === 2) version = text(r.pos, stop);
        else attrs.push(r.pos, stop);
        r.pos = stop;
      } else if (f === 4) {
        varint32(t & 7, scopeEnd);
      } else {
        skipField(f, t & 7, scopeEnd);
      }
    }
    if (name) tags[SCOPE_NAME] = name;
    if (version) tags[SCOPE_VERSION] = version;
    for (let i = 0; i < attrs.length; i += 2) {
      readKeyValue(attrs[i] as number, attrs[i + 1] as number);
      tags[SCOPE_ATTRIBUTE_PREFIX + text(kvKeyStart, kvKeyEnd)] = anyValueText(kvValueStart, kvValueEnd);
    }
  }
  const serviceBytes = Buffer.from(service, 'utf8');
  if (serviceBytes.length > LIMITS.nameBytes) throw DECLINE;
  originOut.reset();
  let count = 0;
  for (const key of Object.keys(tags)) {
    entry(originOut, mapTag, key, tags[key] as string);
    count++;
  }
  return { service, serviceBytes, entries: originOut.take(), count };
}

/**
 * Reads the KeyValues at `kvs` (ranges) whole, for an item that is refused
 * or superseded: protobufjs decodes it all the same, and refuses the whole
 * request when any of it is malformed.
 */
export function readKeyValues(kvs: Ranges): void {
  for (let i = 0; i < kvs.n * 2; i += 2) {
    readKeyValue(kvs.at[i] as number, kvs.at[i + 1] as number);
    anyValueText(kvValueStart, kvValueEnd);
  }
}

/** One map entry (field `mapTag`: key 1, value 2) of strings, with the intake's limits. */
export function entry(w: WireWriter, mapTag: number, key: string, value: string): void {
  w.byte(mapTag);
  const m = w.begin();
  w.byte(0x0a);
  const k = w.begin();
  w.utf8(key);
  if (w.pos - k > LIMITS.tagKeyBytes) throw DECLINE;
  w.end(k);
  w.byte(0x12);
  const v = w.begin();
  w.utf8(value);
  if (w.pos - v > LIMITS.tagValueBytes) throw DECLINE;
  w.end(v);
  w.end(m);
}

/** A map entry begun, up to its value's tag: the entry's start (for w.end). */
function entryHead(w: WireWriter, mapTag: number, key: Buffer): number {
  w.byte(mapTag);
  const m = w.begin();
  w.byte(0x0a);
  w.byte(key.length);
  w.copy(key, 0, key.length);
  w.byte(0x12);
  return m;
}

/** An entry whose key is given as its bytes (the mapping's own keys). */
export function entryOfKey(w: WireWriter, mapTag: number, key: Buffer, value: string): void {
  const m = entryHead(w, mapTag, key);
  const v = w.begin();
  w.utf8(value);
  if (w.pos - v > LIMITS.tagValueBytes) throw DECLINE;
  w.end(v);
  w.end(m);
}

/**
 * entryOfKey with the value a string field of the request, bytes
 * [start, end): copied as they are when valid UTF-8 (what decoding and
 * encoding them again gives), else as protobufjs decodes them.
 */
export function entryOfKeyText(w: WireWriter, mapTag: number, key: Buffer, start: number, end: number): void {
  if (!utf8Ok(r.buf, start, end)) {
    entryOfKey(w, mapTag, key, text(start, end));
    return;
  }
  if (end - start > LIMITS.tagValueBytes) throw DECLINE;
  const m = entryHead(w, mapTag, key);
  w.varint32(end - start);
  w.copy(r.buf, start, end);
  w.end(m);
}

// The keys of the map being written, as ranges of the request (for repeated keys).
const keys = new Ranges();
const O = 0x6f;
const T = 0x74;
const E = 0x65;
const L = 0x6c;
const DOT = 0x2e;

function sameBytes(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): boolean {
  if (e1 - s1 !== e2 - s2) return false;
  for (let i = 0; i < e1 - s1; i++) if (b[s1 + i] !== b[s2 + i]) return false;
  return true;
}

/**
 * Writes the KeyValues at `kvs` (ranges) as map entries of field `mapTag`,
 * after entries the general path's object already has (all with keys under
 * `otel.`). Declines a key that object would not keep in place: under
 * `otel.` (it would merge with the mapping's own keys), starting with a digit
 * (JavaScript orders integer keys first), repeated (merged), invalid UTF-8,
 * or too long; `__proto__` is an ordinary key on both paths (setTag).
 * Returns how many entries it wrote.
 */
export function writeAttributes(w: WireWriter, mapTag: number, kvs: Ranges): number {
  const b = r.buf;
  keys.clear();
  for (let i = 0; i < kvs.n * 2; i += 2) {
    readKeyValue(kvs.at[i] as number, kvs.at[i + 1] as number);
    const ks = kvKeyStart;
    const ke = kvKeyEnd;
    const n = ke - ks;
    if (n > LIMITS.tagKeyBytes || !utf8Ok(b, ks, ke)) throw DECLINE;
    if (n > 0) {
      const first = b[ks] as number;
      if (first >= 0x30 && first <= 0x39) throw DECLINE;
      if (n >= 5 && first === O && b[ks + 1] === T && b[ks + 2] === E && b[ks + 3] === L && b[ks + 4] === DOT) throw DECLINE;
    }
    const seen = keys.at;
    for (let j = 0; j < keys.n * 2; j += 2) if (sameBytes(b, ks, ke, seen[j] as number, seen[j + 1] as number)) throw DECLINE;
    keys.push(ks, ke);
    w.byte(mapTag);
    const m = w.begin();
    w.byte(0x0a);
    w.varint32(n);
    w.copy(b, ks, ke);
    w.byte(0x12);
    const v = w.begin();
    writeAnyValue(w, kvValueStart, kvValueEnd);
    if (w.pos - v > LIMITS.tagValueBytes) throw DECLINE;
    w.end(v);
    w.end(m);
  }
  return kvs.n;
}
