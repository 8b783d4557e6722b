/*
 * statsd lines straight to SSFSample bytes: no string per field, no
 * MetricSample, no protobufjs writer. The common line (`name:value|type`,
 * optional `|@rate` and `|#tags`, ASCII) is encoded into the exact bytes
 * parseStatsdPacket + encodeSpan give for the datagram's carrier span
 * (field 10 entries; the tenant and received time follow as the gateway's
 * stamp). A datagram with anything else (a refused line, an event, a
 * service check, a set, packed values, a timestamp or container section,
 * a key JavaScript would order first, a repeated key, the scope tags,
 * non-ASCII bytes, a long line, a sample the cardinality guard folds) is
 * declined whole, and the caller takes the general path, which decides
 * and reports. test/ingest/statsd/statsd-sample-bytes.test.ts checks both
 * paths give the same bytes on random and mutated datagrams.
 */

import { LIMITS } from '../../src/codec/validate.js';

/** The cardinality guard as the fast path asks it (CardinalityGuard). */
export interface TagSetGuard {
  /** The guard's window: what it admitted stays admitted while this stays the same. */
  epoch(now: number): number;
  /** admit() for a sample of `name` with the tag set `key` (tagSetKey's form); true when it would be folded. */
  admitKey(tenant: string, name: string, key: string, now: number): boolean;
}

const NL = 10;
const CR = 13;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const AT = 64;
const UPPER_E = 69;
const UNDERSCORE = 95;
const LOWER_E = 101;
const PIPE = 124;

/** Lines longer than this are declined: below it no name, key or line limit can be reached. */
const MAX_LINE = 1000;
/** Tags per line the fast path handles (the scratch below). */
const MAX_TAGS = 64;
const ARENA_BYTES = 256 * 1024;
/** Entries of the memo of admitted (name, tag section) byte strings (direct-mapped). */
export const MEMO_SLOTS = 2048;

/** The kinds of line readLine() reads (`lineKind`): c, g, h, ms, d. */
export const TYPE_COUNTER = 0;
export const TYPE_GAUGE = 1;
export const TYPE_HISTOGRAM = 2;
export const KIND_TIMER = 10;
export const KIND_DISTRIBUTION = 11;

const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);
const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);

function varintLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

/** Encodes the statsd datagrams of a sink that forwards bytes (see the file's comment). */
export class StatsdSampleEncoder {
  private arena = Buffer.allocUnsafe(ARENA_BYTES);
  private used = 0;
  /** Tag scratch: key start, key end, value start, value end (then sorted copies for the guard's key). */
  protected readonly tags = new Int32Array(MAX_TAGS * 4);
  private readonly order = new Int32Array(MAX_TAGS);
  /** Samples in the last encoded datagram. */
  samples = 0;
  /** The received time's varint bytes (field 4 of every sample), for `tsFor`. */
  private tsFor = -1n;
  private readonly ts = new Uint8Array(10);
  private tsLength = 0;
  /**
   * (tenant, name, tag section) as written, admitted by the guard in window
   * `memoEpoch`: a repeated line needs no strings at all. The bytes are
   * compared in full, so a hash collision only costs a miss.
   */
  private readonly memoHash = new Int32Array(MEMO_SLOTS);
  private readonly memoEpoch = new Float64Array(MEMO_SLOTS);
  private readonly memoTenant: Array<string | undefined> = new Array<string | undefined>(MEMO_SLOTS).fill(undefined);
  private readonly memoBytes: Array<Buffer | undefined> = new Array<Buffer | undefined>(MEMO_SLOTS).fill(undefined);
  private readonly memoNameLength = new Int32Array(MEMO_SLOTS);
  private readonly memoTags: Array<Buffer | undefined> = new Array<Buffer | undefined>(MEMO_SLOTS).fill(undefined);
  /**
   * Times each memo slot was written: what a subclass keeps per slot
   * (statsd-aggregate-bytes.ts: the line's series) holds while this is the
   * same, since the slot then still holds the same (tenant, name, tag section).
   */
  protected readonly memoWrites = new Float64Array(MEMO_SLOTS);
  /** The guard's window during this encode() call. */
  protected epoch = 0;
  /**
   * Set by the aggregating subclass: line() stops once the line is read and
   * admitted, leaving it in the `line*` fields, and writes nothing. (One
   * branch in line(), not a function of its own: a call per line cost the
   * per-sample path 4 %.)
   */
  protected readonly readOnly: boolean = false;
  /** The line readLine() read last: its kind (TYPE_* or KIND_*), value, rate, name end (the ":"), tag section, and its memo slot. */
  protected lineKind = 0;
  protected lineValue = 0;
  protected lineRate = 1;
  protected lineColon = 0;
  protected lineTagStart = 0;
  protected lineTagEnd = 0;
  protected lineSlot = 0;

  /**
   * The SSFSample entries (field 10) of one datagram, or `undefined` when it
   * must take the general path; an empty array when it holds no line at all.
   */
  encode(packet: Buffer, receivedNs: bigint, guard: TagSetGuard, tenant: string, now: number): Uint8Array | undefined {
    const n = packet.length;
    if (receivedNs !== this.tsFor) this.timestamp(receivedNs);
    this.epoch = guard.epoch(now);
    // Worst case: a 6-byte line (`a:1|c\n`) gives 27 bytes; a 2-byte tag (`a,`) 7.
    const need = n * 8 + 64;
    if (this.used + need > this.arena.length) {
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, need));
      this.used = 0;
    }
    const start = this.used;
    let at = start;
    let samples = 0;
    let s = 0;
    while (s < n) {
      let nl = packet.indexOf(NL, s);
      if (nl === -1) nl = n;
      let e = nl;
      if (e > s && packet[e - 1] === CR) e--;
      if (e > s) {
        at = this.line(packet, s, e, at, guard, tenant, now);
        if (at < 0) return undefined;
        samples++;
      }
      s = nl + 1;
    }
    this.samples = samples;
    this.used = at;
    return this.arena.subarray(start, at);
  }

  private timestamp(receivedNs: bigint): void {
    let v = BigInt.asUintN(64, receivedNs);
    let i = 0;
    while (v >= 0x80n) {
      this.ts[i++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.ts[i++] = Number(v);
    this.tsLength = i;
    this.tsFor = receivedNs;
  }

  /**
   * Reads one line [s, e) into the `line*` fields as the guard admits it;
   * false to decline. The aggregating subclass (statsd-aggregate-bytes.ts)
   * reads lines with this, so both accept exactly the same lines.
   */
  protected readLine(b: Buffer, s: number, e: number, guard: TagSetGuard, tenant: string, now: number): boolean {
    return this.line(b, s, e, 0, guard, tenant, now) >= 0;
  }

  /** One line [s, e) as a field-10 entry at `at`; the new end, or -1 to decline. */
  private line(b: Buffer, s: number, e: number, at: number, guard: TagSetGuard, tenant: string, now: number): number {
    if (e - s > MAX_LINE) return -1;
    if (b[s] === UNDERSCORE) return -1;
    // name: up to the first ":", which must come before the first "|". Bytes past
    // the name are all checked below: digits, the type, a rate, or the tag section.
    let colon = -1;
    let pipe = -1;
    for (let i = s; i < e; i++) {
      const c = b[i] as number;
      if (c === COLON) {
        if (colon === -1) colon = i;
      } else if (c === PIPE) {
        pipe = i;
        break;
      } else if (c >= 0x80) {
        return -1;
      }
    }
    if (colon <= s || pipe === -1) return -1;
    // One value only (packed values `1:2:3` take the general path).
    for (let i = colon + 1; i < pipe; i++) if (b[i] === COLON) return -1;
    const value = parseNumber(b, colon + 1, pipe);
    // Past float32 (SSF's float) too: the general path refuses it (STATSD_ERR_VALUE).
    if (!Number.isFinite(Math.fround(value))) return -1;

    let typeEnd = pipe + 1;
    while (typeEnd < e && b[typeEnd] !== PIPE) typeEnd++;
    let kind: number;
    const t = typeEnd - pipe - 1;
    const t0 = b[pipe + 1];
    if (t === 1 && t0 === 99) kind = TYPE_COUNTER;
    else if (t === 1 && t0 === 103) kind = TYPE_GAUGE;
    else if (t === 1 && t0 === 104) kind = TYPE_HISTOGRAM;
    else if (t === 1 && t0 === 100) kind = KIND_DISTRIBUTION;
    else if (t === 2 && t0 === 109 && b[pipe + 2] === 115) kind = KIND_TIMER;
    else return -1; // sets, unknown or missing types

    let rate = 1;
    let seenRate = false;
    let tagStart = -1;
    let tagEnd = -1;
    let pos = typeEnd;
    while (pos < e) {
      const ss = pos + 1;
      let se = ss;
      while (se < e && b[se] !== PIPE) se++;
      if (se === ss) return -1;
      const c = b[ss];
      if (c === AT && !seenRate) {
        seenRate = true;
        rate = parseNumber(b, ss + 1, se);
        if (!(Math.fround(rate) >= LIMITS.minSampleRate && rate <= 1)) return -1;
      } else if (c === HASH && tagStart === -1) {
        tagStart = ss + 1;
        tagEnd = se;
      } else {
        return -1; // timestamps, container ids, ignored fields, repeats: the general path
      }
      pos = se;
    }
    if (tagStart === -1) tagStart = tagEnd = colon;

    // The tags' bytes and the guard's answer depend on (name, tag section) alone:
    // remembered for a line seen before in this window, worked out otherwise.
    let tagBytes = this.remembered(b, s, colon, tagStart, tagEnd, tenant);
    if (tagBytes === undefined) {
      const count = this.parseTags(b, tagStart, tagEnd);
      if (count < 0) return -1;
      // The cardinality guard, as admit() decides for the general path's sample.
      if (guard.admitKey(tenant, b.toString('latin1', s, colon), this.tagSetKey(b, count), now)) return -1;
      tagBytes = this.encodeTags(b, count);
      this.remember(b, s, colon, tagStart, tagEnd, tenant, tagBytes);
    }
    if (this.readOnly) {
      this.lineKind = kind;
      this.lineValue = value;
      this.lineRate = rate;
      this.lineColon = colon;
      this.lineTagStart = tagStart;
      this.lineTagEnd = tagEnd;
      return at;
    }

    const nameLength = colon - s;
    const metric = kind === KIND_TIMER || kind === KIND_DISTRIBUTION ? TYPE_HISTOGRAM : kind;
    const size =
      (metric !== TYPE_COUNTER ? 2 : 0) +
      1 +
      varintLength(nameLength) +
      nameLength +
      (value !== 0 ? 5 : 0) +
      1 +
      this.tsLength +
      5 +
      tagBytes.length +
      (kind === KIND_TIMER ? 4 : 0) +
      (kind === KIND_DISTRIBUTION ? 2 : 0);
    const o = this.arena;
    o[at++] = 0x52; // SSFSpan.metrics (10), length-delimited
    at = writeVarint(o, at, size);
    if (metric !== TYPE_COUNTER) {
      o[at++] = 0x08;
      o[at++] = metric;
    }
    o[at++] = 0x12;
    at = writeVarint(o, at, nameLength);
    at = copy(b, s, colon, o, at);
    if (value !== 0) {
      o[at++] = 0x1d;
      at = float32(o, at, value);
    }
    o[at++] = 0x20;
    for (let i = 0; i < this.tsLength; i++) o[at++] = this.ts[i] as number;
    o[at++] = 0x3d;
    at = float32(o, at, rate);
    at = copy(tagBytes, 0, tagBytes.length, o, at);
    if (kind === KIND_TIMER) {
      o[at++] = 0x4a;
      o[at++] = 2;
      o[at++] = 109; // m
      o[at++] = 115; // s
    } else if (kind === KIND_DISTRIBUTION) {
      o[at++] = 0x50;
      o[at++] = 2; // scope global
    }
    return at;
  }

  /**
   * The tag section [s, e) into the scratch ranges, in the order written
   * (empty tags skipped); the number of tags, or -1 for what the fast path
   * leaves to the general one.
   */
  protected parseTags(b: Buffer, s: number, e: number): number {
    const tags = this.tags;
    let count = 0;
    let ts = s;
    let tc = -1;
    for (let i = s; i <= e; i++) {
      const c = i === e ? COMMA : (b[i] as number);
      if (c === COLON) {
        if (tc === -1) tc = i;
        continue;
      }
      if (c >= 0x80) return -1;
      if (c !== COMMA) continue;
      if (i > ts) {
        if (count === MAX_TAGS || tc === ts) return -1;
        const ke = tc === -1 ? i : tc;
        const vs = tc === -1 ? i : tc + 1;
        const k0 = b[ts] as number;
        // Keys JavaScript orders first (array indices) and ones the general path treats apart.
        if (k0 >= ZERO && k0 <= NINE) return -1;
        if (isSpecialKey(b, ts, ke)) return -1;
        for (let j = 0; j < count * 4; j += 4) if (bytesEqual(b, tags[j] as number, tags[j + 1] as number, ts, ke)) return -1;
        const q = count * 4;
        tags[q] = ts;
        tags[q + 1] = ke;
        tags[q + 2] = vs;
        tags[q + 3] = i;
        count++;
      }
      ts = i + 1;
      tc = -1;
    }
    return count;
  }

  /** The scratch tags as SSFSample.tags entries (field 8), in the order written. */
  private encodeTags(b: Buffer, count: number): Buffer {
    const tags = this.tags;
    let size = 0;
    for (let j = 0; j < count * 4; j += 4) {
      const kl = (tags[j + 1] as number) - (tags[j] as number);
      const vl = (tags[j + 3] as number) - (tags[j + 2] as number);
      const entry = 1 + varintLength(kl) + kl + 1 + varintLength(vl) + vl;
      size += 1 + varintLength(entry) + entry;
    }
    const o = Buffer.allocUnsafe(size);
    let at = 0;
    for (let j = 0; j < count * 4; j += 4) {
      const ks = tags[j] as number;
      const ke = tags[j + 1] as number;
      const vs = tags[j + 2] as number;
      const ve = tags[j + 3] as number;
      const kl = ke - ks;
      const vl = ve - vs;
      o[at++] = 0x42;
      at = writeVarint(o, at, 1 + varintLength(kl) + kl + 1 + varintLength(vl) + vl);
      o[at++] = 0x0a;
      at = writeVarint(o, at, kl);
      at = copy(b, ks, ke, o, at);
      o[at++] = 0x12;
      at = writeVarint(o, at, vl);
      at = copy(b, vs, ve, o, at);
    }
    return o;
  }

  /** The encoded tags of (name [s, colon), tag section [ts, te)) when the guard admitted them for `tenant` in its current window. */
  private remembered(b: Buffer, s: number, colon: number, ts: number, te: number, tenant: string): Buffer | undefined {
    const h = hashRanges(b, s, colon, ts, te);
    const slot = h & (MEMO_SLOTS - 1);
    this.lineSlot = slot;
    const kept = this.memoBytes[slot];
    if (kept === undefined || this.memoHash[slot] !== h || this.memoTenant[slot] !== tenant || this.memoEpoch[slot] !== this.epoch) return undefined;
    const nl = colon - s;
    if (this.memoNameLength[slot] !== nl || kept.length !== nl + te - ts) return undefined;
    for (let i = 0; i < nl; i++) if (kept[i] !== b[s + i]) return undefined;
    for (let i = ts, j = nl; i < te; i++, j++) if (kept[j] !== b[i]) return undefined;
    return this.memoTags[slot];
  }

  private remember(b: Buffer, s: number, colon: number, ts: number, te: number, tenant: string, tagBytes: Buffer): void {
    const h = hashRanges(b, s, colon, ts, te);
    const slot = h & (MEMO_SLOTS - 1);
    const kept = Buffer.allocUnsafe(colon - s + te - ts);
    b.copy(kept, 0, s, colon);
    b.copy(kept, colon - s, ts, te);
    this.memoHash[slot] = h;
    this.memoEpoch[slot] = this.epoch;
    this.memoTenant[slot] = tenant;
    this.memoBytes[slot] = kept;
    this.memoTags[slot] = tagBytes;
    this.memoNameLength[slot] = colon - s;
    this.memoWrites[slot] = (this.memoWrites[slot] as number) + 1;
  }

  /** The guard's key of the tags in scratch: `key\0value\1` per tag, sorted by key (tagSetKey in cardinality-guard.ts). */
  protected tagSetKey(b: Buffer, count: number): string {
    if (count === 0) return '';
    const tags = this.tags;
    const order = this.order;
    for (let i = 0; i < count; i++) order[i] = i * 4;
    // Insertion sort by key bytes (ASCII: the order of JavaScript's string comparison).
    for (let i = 1; i < count; i++) {
      const x = order[i] as number;
      let j = i - 1;
      while (
        j >= 0 &&
        compareBytes(b, tags[order[j] as number] as number, tags[(order[j] as number) + 1] as number, tags[x] as number, tags[x + 1] as number) > 0
      ) {
        order[j + 1] = order[j] as number;
        j--;
      }
      order[j + 1] = x;
    }
    let out = '';
    for (let i = 0; i < count; i++) {
      const q = order[i] as number;
      out += `${b.toString('latin1', tags[q] as number, tags[q + 1] as number)}\u0000${b.toString('latin1', tags[q + 2] as number, tags[q + 3] as number)}\u0001`;
    }
    return out;
  }
}

/** FNV-1a over the name and the tag section (with a separator no name holds). */
function hashRanges(b: Uint8Array, s: number, e: number, ts: number, te: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  h = Math.imul(h ^ COLON, 0x01000193);
  for (let i = ts; i < te; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h;
}

function writeVarint(o: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    o[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  o[at++] = v;
  return at;
}

function copy(b: Uint8Array, s: number, e: number, o: Uint8Array, at: number): number {
  if (e - s > 64) {
    o.set(b.subarray(s, e), at);
    return at + e - s;
  }
  for (let i = s; i < e; i++) o[at++] = b[i] as number;
  return at;
}

function float32(o: Uint8Array, at: number, v: number): number {
  f32[0] = v;
  o[at] = f32Bytes[0] as number;
  o[at + 1] = f32Bytes[1] as number;
  o[at + 2] = f32Bytes[2] as number;
  o[at + 3] = f32Bytes[3] as number;
  return at + 4;
}

function bytesEqual(b: Uint8Array, a: number, aEnd: number, c: number, cEnd: number): boolean {
  if (aEnd - a !== cEnd - c) return false;
  for (; a < aEnd; a++, c++) if (b[a] !== b[c]) return false;
  return true;
}

function compareBytes(b: Uint8Array, a: number, aEnd: number, c: number, cEnd: number): number {
  for (; a < aEnd && c < cEnd; a++, c++) {
    const d = (b[a] as number) - (b[c] as number);
    if (d !== 0) return d;
  }
  return aEnd - a - (cEnd - c);
}

const SPECIAL_KEYS = ['__proto__', 'veneurlocalonly', 'veneurglobalonly'].map((k) => Buffer.from(k));

function isSpecialKey(b: Uint8Array, s: number, e: number): boolean {
  for (const k of SPECIAL_KEYS) {
    if (e - s !== k.length) continue;
    let same = true;
    for (let i = 0; i < k.length; i++) {
      if (b[s + i] !== k[i]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return false;
}

/**
 * parse-statsd.ts's parseNumber over ASCII bytes: `[+-]digits[.digits][(e|E)[+-]digits]`,
 * NaN when it is not one; never -0. Exact: integers of up to 15 digits are
 * summed, anything else goes through Number() as there.
 */
function parseNumber(b: Buffer, s: number, e: number): number {
  let i = s;
  const sign = b[i];
  const negative = sign === MINUS;
  if (negative || sign === PLUS) i++;
  const digits = i;
  let v = 0;
  while (i < e) {
    const d = (b[i] as number) - ZERO;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    i++;
  }
  if (i === e && i > digits && i - digits <= 15) return negative && v !== 0 ? -v : v;
  let mantissa = i - digits;
  if (i < e && b[i] === DOT) {
    i++;
    const f = i;
    while (i < e && (b[i] as number) >= ZERO && (b[i] as number) <= NINE) {
      v = v * 10 + ((b[i] as number) - ZERO);
      i++;
    }
    mantissa += i - f;
    // digits.digits, at most 15 digits in all: the integer of its digits and
    // 10^k are exact, so one division rounds once, as Number() does.
    if (i === e && mantissa > 0 && mantissa <= 15) {
      const x = v / (POW10[i - f] as number);
      return negative && x !== 0 ? -x : x;
    }
  }
  if (mantissa === 0) return Number.NaN;
  if (i < e && (b[i] === LOWER_E || b[i] === UPPER_E)) {
    i++;
    if (i < e && (b[i] === PLUS || b[i] === MINUS)) i++;
    const x = i;
    while (i < e && (b[i] as number) >= ZERO && (b[i] as number) <= NINE) i++;
    if (i === x) return Number.NaN;
  }
  if (i !== e) return Number.NaN;
  const n = Number(b.toString('latin1', s, e));
  return n === 0 ? 0 : n;
}
