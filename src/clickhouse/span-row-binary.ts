import { isUtf8 } from 'node:buffer';
import { LIMITS } from '../codec/validate.js';
import { doubled, Ranges } from '../codec/ranges.js';
import { WireReader } from '../codec/wire-reader.js';
import type { EventRowBinary } from './event-row-binary.js';
import type { RowBinaryWriter } from './row-binary.js';

/*
 * SSFSpan protobuf bytes straight to RowBinary rows: no protobufjs message,
 * no SpanEvent, no string decoding (UTF-8 is copied as it is), nothing
 * allocated per span. It only takes spans it can prove the codec would take
 * whole (decodeSpan: no rejection at all) and convert to exactly these rows
 * (EventRowBinary.append); for anything else (an invalid or refused part,
 * an unknown field, an unusual encoding, a map whose key order JavaScript
 * would change) it writes nothing and returns false, and the caller takes the
 * codec's path, which decides and reports. test/clickhouse/span-row-binary.test.ts
 * checks both paths give the same bytes, on valid spans and on mutated ones.
 */

/** Thrown (never escapes) when the fast path gives up. */
const DECLINE = new Error('declined');

/** Scratch map entries: key start, key end, value start, value end. */
class MapEntries {
  at = new Int32Array(4 * 64);
  n = 0;
  push(ks: number, ke: number, vs: number, ve: number): void {
    const i = this.n * 4;
    if (i + 4 > this.at.length) this.at = doubled(this.at);
    this.at[i] = ks;
    this.at[i + 1] = ke;
    this.at[i + 2] = vs;
    this.at[i + 3] = ve;
    this.n++;
  }
}

const spanTags = new MapEntries();
const partTags = new MapEntries();
const metricRanges = new Ranges();
const logRanges = new Ranges();

// One cursor for this module (appendSpanBytes is synchronous: never two at once).
const r = new WireReader();

/** A varint of at most 32 bits (tags, lengths, enums, bools); longer encodings decline. */
function varint32(end: number): number {
  const v = r.varint32(end);
  if (v < 0) throw DECLINE;
  return v;
}

/** A varint int64 into r.lo/r.hi (protobufjs's LongBits). */
function varint64(end: number): void {
  if (!r.varint64(end)) throw DECLINE;
}

/** Length of a length-delimited field; r.pos is at its first byte after. */
function lengthDelimited(end: number): number {
  const stop = r.delimited(end);
  if (stop < 0) throw DECLINE;
  return stop;
}

/** The bytes [start, end) are valid UTF-8 of at most `limit` bytes (what the codec would decode unchanged and accept). */
function checkString(start: number, end: number, limit: number): void {
  if (end - start > limit) throw DECLINE;
  if (ownBytes) return;
  const b = r.buf;
  for (let i = start; i < end; i++) {
    if ((b[i] as number) >= 0x80) {
      if (!isUtf8(b.subarray(start, end))) throw DECLINE;
      return;
    }
  }
}

function float32(end: number): number {
  if (r.pos + 4 > end) throw DECLINE;
  return r.float32(end);
}

const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const NAME = Buffer.from('name');

function bytesEqual(a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  const buf = r.buf;
  for (; a < aEnd; a++, b++) if (buf[a] !== buf[b]) return false;
  return true;
}

function equalsConst(start: number, end: number, c: Uint8Array): boolean {
  if (end - start !== c.length) return false;
  const buf = r.buf;
  for (let i = 0; i < c.length; i++) if (buf[start + i] !== c[i]) return false;
  return true;
}

/**
 * One map<string, string> entry at [r.pos, stop) into `into`. Declines what
 * would not come out of the codec as the same entries in the same order: a
 * key JavaScript orders first (an array index: we decline any key starting
 * with a digit), a repeated key, an unknown field, over-long keys or values,
 * more than LIMITS.tagsPerMap entries. A `__proto__` key is an ordinary entry
 * in the codec too (src/codec/tag-map.ts).
 */
function mapEntry(stop: number, into: MapEntries): void {
  let ks = 0;
  let ke = 0;
  let vs = 0;
  let ve = 0;
  while (r.pos < stop) {
    const tag = varint32(stop);
    if (tag === 10) {
      ke = lengthDelimited(stop);
      ks = r.pos;
      r.pos = ke;
    } else if (tag === 18) {
      ve = lengthDelimited(stop);
      vs = r.pos;
      r.pos = ve;
    } else {
      throw DECLINE;
    }
  }
  checkString(ks, ke, LIMITS.tagKeyBytes);
  checkString(vs, ve, LIMITS.tagValueBytes);
  if (into.n >= LIMITS.tagsPerMap) throw DECLINE;
  if (ownBytes) {
    into.push(ks, ke, vs, ve);
    return;
  }
  if (ke > ks) {
    const first = r.buf[ks] as number;
    if (first >= CHAR_0 && first <= CHAR_9) throw DECLINE;
  }
  const at = into.at;
  for (let i = 0; i < into.n; i++) {
    if (bytesEqual(at[i * 4] as number, at[i * 4 + 1] as number, ks, ke)) throw DECLINE;
  }
  into.push(ks, ke, vs, ve);
}

function writeMap(w: RowBinaryWriter, m: MapEntries): void {
  w.varUInt(m.n);
  // Entries are key start, key end, value start, value end: 2n strings.
  w.utf8Ranges(r.buf, m.at, 2 * m.n);
}

// The span's fields, as read. The 64-bit values' halves are fields of one object, not module
// variables: a module variable holding a number past 31 bits is a new heap number at each store.
class SpanFields {
  traceLo = 0;
  traceHi = 0;
  traceHighLo = 0;
  traceHighHi = 0;
  idLo = 0;
  idHi = 0;
  parentLo = 0;
  parentHi = 0;
  startLo = 0;
  startHi = 0;
  endLo = 0;
  endHi = 0;
  rootLo = 0;
  rootHi = 0;
  recvLo = 0;
  recvHi = 0;
}
const f = new SpanFields();
let error = false;
let indicator = false;
let serviceStart = 0;
let serviceEnd = 0;
let nameStart = 0;
let nameEnd = 0;
let tenantStart = 0;
let tenantEnd = 0;

/** Int64 nanoseconds as a DateTime64(9) value: 0 and before 1970 as 1970. */
function writeTime(w: RowBinaryWriter, l: number, h: number): void {
  if (h < 0) w.i64Parts(0, 0);
  else w.i64Parts(l, h);
}

function writeTenant(w: RowBinaryWriter, out: EventRowBinary): void {
  if (tenantEnd > tenantStart) w.utf8Bytes(r.buf, tenantStart, tenantEnd);
  else w.string(out.defaultTenant);
}

/** Reads the top-level fields of the span from the reader's position to `end`. */
function scanSpan(end: number): void {
  f.traceLo = f.traceHi = f.traceHighLo = f.traceHighHi = f.idLo = f.idHi = f.parentLo = f.parentHi = 0;
  f.startLo = f.startHi = f.endLo = f.endHi = f.rootLo = f.rootHi = f.recvLo = f.recvHi = 0;
  error = indicator = false;
  serviceStart = serviceEnd = nameStart = nameEnd = tenantStart = tenantEnd = 0;
  spanTags.n = 0;
  metricRanges.n = 0;
  logRanges.n = 0;
  while (r.pos < end) {
    const tag = varint32(end);
    switch (tag) {
      case 8: // version (int32): a negative one (10 bytes) declines
        varint32(end);
        break;
      case 16:
        varint64(end);
        f.traceLo = r.lo;
        f.traceHi = r.hi;
        break;
      case 24:
        varint64(end);
        f.idLo = r.lo;
        f.idHi = r.hi;
        break;
      case 32:
        varint64(end);
        f.parentLo = r.lo;
        f.parentHi = r.hi;
        break;
      case 40:
        varint64(end);
        f.startLo = r.lo;
        f.startHi = r.hi;
        break;
      case 48:
        varint64(end);
        f.endLo = r.lo;
        f.endHi = r.hi;
        break;
      case 56:
        error = varint32(end) !== 0;
        break;
      case 66: {
        const stop = lengthDelimited(end);
        serviceStart = r.pos;
        serviceEnd = r.pos = stop;
        break;
      }
      case 82: {
        const stop = lengthDelimited(end);
        metricRanges.push(r.pos, stop);
        r.pos = stop;
        break;
      }
      case 90: {
        const stop = lengthDelimited(end);
        mapEntry(stop, spanTags);
        break;
      }
      case 96:
        indicator = varint32(end) !== 0;
        break;
      case 106: {
        const stop = lengthDelimited(end);
        nameStart = r.pos;
        nameEnd = r.pos = stop;
        break;
      }
      case 112:
        varint64(end);
        f.rootLo = r.lo;
        f.rootHi = r.hi;
        break;
      case 802: {
        const stop = lengthDelimited(end);
        logRanges.push(r.pos, stop);
        r.pos = stop;
        break;
      }
      case 810: {
        const stop = lengthDelimited(end);
        tenantStart = r.pos;
        tenantEnd = r.pos = stop;
        break;
      }
      case 816:
        varint64(end);
        f.recvLo = r.lo;
        f.recvHi = r.hi;
        break;
      case 824: // trace_id_high
        varint64(end);
        f.traceHighLo = r.lo;
        f.traceHighHi = r.hi;
        break;
      default:
        throw DECLINE;
    }
  }
}

function writeLog(out: EventRowBinary, start: number, stop: number, received: () => bigint): void {
  r.pos = start;
  let tsLo = 0;
  let tsHi = 0;
  let severity = 0;
  let bodyStart = 0;
  let bodyEnd = 0;
  partTags.n = 0;
  while (r.pos < stop) {
    const tag = varint32(stop);
    if (tag === 8) {
      varint64(stop);
      tsLo = r.lo;
      tsHi = r.hi;
    } else if (tag === 16) {
      severity = varint32(stop);
    } else if (tag === 26) {
      bodyEnd = lengthDelimited(stop);
      bodyStart = r.pos;
      r.pos = bodyEnd;
    } else if (tag === 34) {
      mapEntry(lengthDelimited(stop), partTags);
    } else {
      throw DECLINE;
    }
  }
  if (severity > 24) throw DECLINE;
  checkString(bodyStart, bodyEnd, LIMITS.logBodyBytes);
  if (bodyEnd === bodyStart && partTags.n === 0) throw DECLINE;
  if (tsLo === 0 && tsHi === 0) receivedInto(received);
  const w = out.logs;
  writeTenant(w, out);
  w.utf8Bytes(r.buf, serviceStart, serviceEnd);
  if (tsLo === 0 && tsHi === 0) writeTime(w, f.recvLo, f.recvHi);
  else writeTime(w, tsLo, tsHi);
  w.u8(SEVERITY_ENUM[severity] as number);
  w.u8(severity);
  w.utf8Bytes(r.buf, bodyStart, bodyEnd);
  w.i64Parts(f.traceLo, f.traceHi);
  w.i64Parts(f.idLo, f.idHi);
  writeMap(w, partTags);
  w.i64Parts(f.traceHighLo, f.traceHighHi);
  w.rows++;
}

function writeSample(out: EventRowBinary, start: number, stop: number, received: () => bigint): void {
  r.pos = start;
  let metric = 0;
  let nameS = 0;
  let nameE = 0;
  let value = 0;
  let tsLo = 0;
  let tsHi = 0;
  let messageS = 0;
  let messageE = 0;
  let status = 0;
  let sampleRate = 0;
  let unitS = 0;
  let unitE = 0;
  let scope = 0;
  partTags.n = 0;
  while (r.pos < stop) {
    const tag = varint32(stop);
    switch (tag) {
      case 8:
        metric = varint32(stop);
        break;
      case 18:
        nameE = lengthDelimited(stop);
        nameS = r.pos;
        r.pos = nameE;
        break;
      case 29:
        value = float32(stop);
        break;
      case 32:
        varint64(stop);
        tsLo = r.lo;
        tsHi = r.hi;
        break;
      case 42:
        messageE = lengthDelimited(stop);
        messageS = r.pos;
        r.pos = messageE;
        break;
      case 48:
        status = varint32(stop);
        break;
      case 61:
        sampleRate = float32(stop);
        break;
      case 66:
        mapEntry(lengthDelimited(stop), partTags);
        break;
      case 74:
        unitE = lengthDelimited(stop);
        unitS = r.pos;
        r.pos = unitE;
        break;
      case 80:
        scope = varint32(stop);
        break;
      default:
        throw DECLINE;
    }
  }
  if (metric > 4 || status > 3 || scope > 2) throw DECLINE;
  if (nameE === nameS) throw DECLINE;
  checkString(nameS, nameE, LIMITS.nameBytes);
  checkString(messageS, messageE, LIMITS.messageBytes);
  checkString(unitS, unitE, LIMITS.nameBytes);
  if (!Number.isFinite(value)) throw DECLINE;
  if (!(sampleRate === 0 || (sampleRate >= LIMITS.minSampleRate && sampleRate <= 1))) throw DECLINE;
  if (tsLo === 0 && tsHi === 0) receivedInto(received);
  const w = out.samples;
  writeTenant(w, out);
  w.utf8Bytes(r.buf, nameS, nameE);
  w.u8(metric);
  if (tsLo === 0 && tsHi === 0) writeTime(w, f.recvLo, f.recvHi);
  else writeTime(w, tsLo, tsHi);
  w.f64(value === 0 ? 0 : value); // +0 for -0, as EventRowBinary.append
  w.f32(sampleRate === 0 ? 1 : sampleRate);
  w.utf8Bytes(r.buf, messageS, messageE);
  w.u8(status);
  w.utf8Bytes(r.buf, unitS, unitE);
  w.u8(scope);
  writeMap(w, partTags);
  w.utf8Bytes(r.buf, serviceStart, serviceEnd);
  w.i64Parts(f.traceLo, f.traceHi);
  w.i64Parts(f.idLo, f.idHi);
  w.i64Parts(f.traceHighLo, f.traceHighHi);
  w.rows++;
}

/** SeverityNumber -> the logs.severity Enum8 value (severityName's ranges). */
const SEVERITY_ENUM: number[] = [];
for (let n = 0; n <= 24; n++) SEVERITY_ENUM.push(n === 0 ? 0 : n <= 4 ? 1 : n <= 8 ? 2 : n <= 12 ? 3 : n <= 16 ? 4 : n <= 20 ? 5 : 6);

/** The span had no received time (field 102): the record's, from the caller. */
function receivedInto(received: () => bigint): void {
  if (f.recvLo !== 0 || f.recvHi !== 0) return;
  const ns = BigInt.asUintN(64, received());
  f.recvLo = Number(ns & 0xffff_ffffn);
  f.recvHi = Number(ns >> 32n) | 0;
}

// The span being read was written by the gateway's own direct path (appendSpanBytes's `own`).
let ownBytes = false;

/**
 * Appends the rows of one encoded SSFSpan (`bytes`, or its [start, end)) to
 * `out` when the codec would take it whole; false (and nothing written)
 * otherwise. `received` gives the record's receive time (ns) for a span the
 * gateway did not stamp. `own`: the bytes were written in this process by
 * the gateway's direct path (ingest/otlp, SpanPack.own), which only writes
 * valid UTF-8 and map keys that are unique and kept in place: those are
 * not checked again (lengths, counts and everything
 * else still are). Bytes read from anywhere else (a client, a Kafka record)
 * are never `own`.
 */
export function appendSpanBytes(out: EventRowBinary, bytes: Uint8Array, received: () => bigint, own = false, start = 0, end = bytes.length): boolean {
  ownBytes = own;
  r.reset(bytes, start);
  let marked = false;
  try {
    scanSpan(end);
    checkString(serviceStart, serviceEnd, LIMITS.nameBytes);
    checkString(nameStart, nameEnd, LIMITS.nameBytes);
    checkString(tenantStart, tenantEnd, LIMITS.nameBytes);
    // An unnamed span takes its tag "name" (validateSpan): left to the codec.
    if (nameEnd === nameStart) {
      const at = spanTags.at;
      for (let i = 0; i < spanTags.n * 4; i += 4) if (equalsConst(at[i] as number, at[i + 1] as number, NAME)) throw DECLINE;
    }
    const hasTraceFields =
      (f.idLo !== 0 || f.idHi !== 0) &&
      (f.traceLo !== 0 || f.traceHi !== 0) &&
      (f.startLo !== 0 || f.startHi !== 0) &&
      (f.endLo !== 0 || f.endHi !== 0) &&
      nameEnd > nameStart;
    // end before start is refused (SSF_SPAN_NEGATIVE_DURATION); so is a span with nothing to store.
    if (hasTraceFields && (f.endHi < f.startHi || (f.endHi === f.startHi && f.endLo < f.startLo))) throw DECLINE;
    if (!hasTraceFields && metricRanges.n === 0 && logRanges.n === 0) throw DECLINE;

    out.spans.mark();
    out.logs.mark();
    out.samples.mark();
    marked = true;
    if (hasTraceFields) {
      const w = out.spans;
      writeTenant(w, out);
      w.i64Parts(f.traceLo, f.traceHi);
      w.i64Parts(f.idLo, f.idHi);
      w.i64Parts(f.parentLo, f.parentHi);
      w.utf8Bytes(r.buf, serviceStart, serviceEnd);
      w.utf8Bytes(r.buf, nameStart, nameEnd);
      writeTime(w, f.startLo, f.startHi);
      // end - start, wrapping like Int64.
      const borrow = f.endLo < f.startLo ? 1 : 0;
      w.i64Parts((f.endLo - f.startLo) >>> 0, (f.endHi - f.startHi - borrow) | 0);
      w.bool(error);
      w.bool(indicator);
      writeTime(w, f.rootLo, f.rootHi);
      writeMap(w, spanTags);
      w.i64Parts(f.traceHighLo, f.traceHighHi);
      w.rows++;
    }
    const logs = logRanges.at;
    for (let i = 0; i < logRanges.n * 2; i += 2) writeLog(out, logs[i] as number, logs[i + 1] as number, received);
    const metrics = metricRanges.at;
    for (let i = 0; i < metricRanges.n * 2; i += 2) writeSample(out, metrics[i] as number, metrics[i + 1] as number, received);
    return true;
  } catch (err) {
    if (err !== DECLINE) throw err;
    if (marked) {
      out.spans.rewind();
      out.logs.rewind();
      out.samples.rewind();
    }
    return false;
  } finally {
    r.release();
  }
}
