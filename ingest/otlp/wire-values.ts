/*
 * OTLP KeyValue and AnyValue read straight from protobuf bytes, for the
 * direct path (otlp-direct.ts): the string forms of any-value.ts written
 * into SSF map entries without a protobufjs message. Anything this reader
 * does not handle exactly as protobufjs + any-value.ts would (a repeated
 * field in one value, a wrong wire type, a truncated field, a key that
 * JavaScript would reorder, merge or drop, invalid UTF-8 in a key, nesting
 * past MAX_DEPTH) throws DECLINE, and the whole request takes the general
 * path instead.
 */
import { isUtf8 } from 'node:buffer';
import { WireReader } from '../../src/codec/wire-reader.js';
import type { WireWriter } from '../../src/codec/wire-writer.js';

/** Thrown when the direct path gives up on a request (never escapes otlp-direct.ts). */
export const DECLINE = new Error('declined');

/** Arrays and kvlists nested deeper than this are left to the general path. */
const MAX_DEPTH = 16;

/** The one cursor of the direct path (synchronous: never two requests at once). */
export const r = new WireReader();
/** The request's bytes as a Buffer (for decoding strings). */
let view: Buffer = Buffer.alloc(0);

/** Starts reading a request. */
export function startReading(body: Uint8Array): void {
  r.reset(body);
  view = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Drops the references to the last request. */
export function stopReading(): void {
  r.release();
  view = Buffer.alloc(0);
}

const F64 = new Float64Array(1);
const F64_HALVES = new Uint32Array(F64.buffer);

/** A length-delimited field of wire type 2: its end (r.pos at its start); declines otherwise. */
export function field(wire: number, end: number): number {
  if (wire !== 2) throw DECLINE;
  const stop = r.delimited(end);
  if (stop < 0) throw DECLINE;
  return stop;
}

/** A varint field of at most 32 bits (enums, bools, uint32 counts). */
export function varint32(wire: number, end: number): number {
  if (wire !== 0) throw DECLINE;
  const v = r.varint32(end);
  if (v < 0) throw DECLINE;
  return v;
}

/** A fixed64 field into r.lo / r.hi. */
export function fixed64(wire: number, end: number): void {
  if (wire !== 1 || !r.fixed64(end)) throw DECLINE;
}

/** A fixed32 field, unsigned. */
export function fixed32(wire: number, end: number): number {
  if (wire !== 5) throw DECLINE;
  const v = r.fixed32(end);
  if (v < 0) throw DECLINE;
  return v;
}

/** Skips a field the mapping does not read (as protobufjs skips an unknown field). */
export function skipField(field: number, wire: number, end: number): void {
  if (field === 0 || wire === 3 || wire === 4 || !r.skip(wire, end)) throw DECLINE;
}

/** The next tag of a message ending at `end`. */
export function tag(end: number): number {
  const t = r.varint32(end);
  if (t < 0) throw DECLINE;
  return t;
}

/** True when bytes [start, end) are valid UTF-8 (what decodes and encodes back to the same bytes). */
export function utf8Ok(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((b[i] as number) >= 0x80) return isUtf8(b.subarray(start, end));
  return true;
}

/** The string protobufjs decodes from bytes [start, end) (Node's UTF-8 decoding, invalid bytes replaced). */
export function text(start: number, end: number): string {
  return view.toString('utf8', start, end);
}

/** Lowercase hex of bytes [start, end) (hexOf in otlp-ids.ts). */
export function hex(start: number, end: number): string {
  return view.toString('hex', start, end);
}

/** A signed 64-bit value from halves (lo unsigned, hi signed), as decimal. */
export function int64Decimal(lo: number, hi: number): string {
  if (hi >= -0x200000 && hi < 0x200000) return String(hi * 0x1_0000_0000 + lo);
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo)).toString();
}

/** An unsigned 64-bit value from halves, as decimal. */
export function uint64Decimal(lo: number, hi: number): string {
  const h = hi >>> 0;
  if (h < 0x200000) return String(h * 0x1_0000_0000 + lo);
  return ((BigInt(h) << 32n) | BigInt(lo)).toString();
}

// The one value an AnyValue holds (the last read, see readAnyValue).
const NONE = 0;
const STRING = 1;
const BOOL = 2;
const INT = 3;
const DOUBLE = 4;
const ARRAY = 5;
const KVLIST = 6;
const BYTES = 7;
let kind = NONE;
let vStart = 0;
let vEnd = 0;
let vNum = 0;
let vLo = 0;
let vHi = 0;

/** Reads the AnyValue in [start, end): one field at most (a oneof sent twice is left to the general path). */
function readAnyValue(start: number, end: number): void {
  r.pos = start;
  kind = NONE;
  while (r.pos < end) {
    const t = tag(end);
    const f = t >>> 3;
    const wire = t & 7;
    if (f >= 1 && f <= 7 && kind !== NONE) throw DECLINE;
    switch (f) {
      case 1:
      case 5:
      case 6:
      case 7: {
        const stop = field(wire, end);
        kind = f;
        vStart = r.pos;
        vEnd = stop;
        r.pos = stop;
        break;
      }
      case 2:
        vNum = varint32(wire, end);
        kind = BOOL;
        break;
      case 3:
        if (wire !== 0 || !r.varint64(end)) throw DECLINE;
        vLo = r.lo;
        vHi = r.hi;
        kind = INT;
        break;
      case 4:
        fixed64(wire, end);
        F64_HALVES[0] = r.lo;
        F64_HALVES[1] = r.hi;
        vNum = F64[0] as number;
        kind = DOUBLE;
        break;
      default:
        skipField(f, wire, end);
    }
  }
}

/** Ranges of one KeyValue: key, value (-1: absent). */
export let kvKeyStart = 0;
export let kvKeyEnd = 0;
export let kvValueStart = -1;
export let kvValueEnd = -1;

/** Reads the KeyValue in [start, end) into kv*; a field sent twice declines. */
export function readKeyValue(start: number, end: number): void {
  r.pos = start;
  let keySeen = false;
  kvKeyStart = 0;
  kvKeyEnd = 0;
  kvValueStart = -1;
  kvValueEnd = -1;
  while (r.pos < end) {
    const t = tag(end);
    const f = t >>> 3;
    const wire = t & 7;
    if (f === 1) {
      if (keySeen) throw DECLINE;
      keySeen = true;
      const stop = field(wire, end);
      kvKeyStart = r.pos;
      kvKeyEnd = stop;
      r.pos = stop;
    } else if (f === 2) {
      if (kvValueStart >= 0) throw DECLINE;
      const stop = field(wire, end);
      kvValueStart = r.pos;
      kvValueEnd = stop;
      r.pos = stop;
    } else {
      skipField(f, wire, end);
    }
  }
}

/** The string form (any-value.ts anyValueString) of the AnyValue in [start, end) (start < 0: absent), as a string. */
export function anyValueText(start: number, end: number): string {
  if (start < 0) return '';
  readAnyValue(start, end);
  switch (kind) {
    case STRING:
      return text(vStart, vEnd);
    case ARRAY:
    case KVLIST:
      return anyValueJson(start, end, 0);
    default:
      return scalarText();
  }
}

/** The string form of the last value read, for bool, int, double and bytes ('' for none). */
function scalarText(): string {
  switch (kind) {
    case BOOL:
      return vNum !== 0 ? 'true' : 'false';
    case INT:
      return int64Decimal(vLo, vHi);
    case DOUBLE:
      return String(vNum);
    case BYTES:
      return view.toString('base64', vStart, vEnd);
    default:
      return '';
  }
}

/** any-value.ts anyValueJson of the AnyValue in [start, end) (start < 0: absent). */
function anyValueJson(start: number, end: number, depth: number): string {
  if (start < 0) return 'null';
  if (depth > MAX_DEPTH) throw DECLINE;
  readAnyValue(start, end);
  switch (kind) {
    case NONE:
      return 'null';
    case STRING:
      return JSON.stringify(text(vStart, vEnd));
    case DOUBLE:
      return Number.isFinite(vNum) ? String(vNum) : JSON.stringify(String(vNum));
    case BYTES:
      return JSON.stringify(scalarText());
    case ARRAY:
    case KVLIST: {
      const isArray = kind === ARRAY;
      const listEnd = vEnd;
      // The list's entries first (reading one moves the cursor).
      const entries: number[] = [];
      r.pos = vStart;
      while (r.pos < listEnd) {
        const t = tag(listEnd);
        if (t >>> 3 === 1) {
          const stop = field(t & 7, listEnd);
          entries.push(r.pos, stop);
          r.pos = stop;
        } else {
          skipField(t >>> 3, t & 7, listEnd);
        }
      }
      const parts: string[] = [];
      for (let i = 0; i < entries.length; i += 2) {
        const s = entries[i] as number;
        const e = entries[i + 1] as number;
        if (isArray) {
          parts.push(anyValueJson(s, e, depth + 1));
        } else {
          readKeyValue(s, e);
          const key = JSON.stringify(text(kvKeyStart, kvKeyEnd));
          parts.push(`${key}:${anyValueJson(kvValueStart, kvValueEnd, depth + 1)}`);
        }
      }
      return isArray ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
    }
    default:
      return scalarText();
  }
}

/** Writes the string form of the AnyValue in [start, end) (start < 0: absent) as the content of a string field. */
export function writeAnyValue(w: WireWriter, start: number, end: number): void {
  if (start < 0) return;
  readAnyValue(start, end);
  if (kind === STRING) {
    if (utf8Ok(r.buf, vStart, vEnd)) w.copy(r.buf, vStart, vEnd);
    else w.utf8(text(vStart, vEnd));
  } else if (kind === ARRAY || kind === KVLIST) {
    w.utf8(anyValueJson(start, end, 0));
  } else if (kind !== NONE) {
    w.utf8(scalarText());
  }
}
