/*
 * The protobuf wire format read by hand, for the fast paths that must not
 * build objects (span-scan.ts, span-row-binary.ts, splitBatch). One cursor
 * object per caller instead of module-global cursors; 64-bit values come out
 * as two 32-bit halves in the reader (`lo` unsigned, `hi` signed, the shape
 * of protobufjs's LongBits), so reading a field allocates nothing.
 *
 * Failures are values, not exceptions (-1 or false): the callers decide
 * whether that means "not sure, take the general path" or "malformed".
 * Every read takes the end of the message it is in, so a nested message
 * is read with the same cursor.
 */

/** Wire types (the low 3 bits of a tag). */
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

const EMPTY = new Uint8Array(0);

export class WireReader {
  buf: Uint8Array = EMPTY;
  pos = 0;
  /** The last 64-bit value read (varint64, fixed64): low 32 bits, unsigned. */
  lo = 0;
  /** The last 64-bit value read: high 32 bits, signed (as protobufjs's LongBits). */
  hi = 0;

  /** Starts reading `buf` at `pos`. */
  reset(buf: Uint8Array, pos = 0): void {
    this.buf = buf;
    this.pos = pos;
  }

  /** Drops the reference to the last buffer (so it can be collected). */
  release(): void {
    this.buf = EMPTY;
    this.pos = 0;
  }

  /**
   * A varint of at most 32 bits (tags, lengths, int32 >= 0, enums, bools),
   * read as protobufjs's uint32() reads it when it has at most 5 bytes and
   * the 5th carries no bits past 32; -1 for anything else (a longer or
   * truncated varint, such as a negative int32's 10 bytes).
   */
  varint32(end: number): number {
    const b = this.buf;
    let pos = this.pos;
    let v = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) return -1;
      const byte = b[pos++] as number;
      v |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = pos;
        return v >>> 0;
      }
    }
    if (pos >= end) return -1;
    const byte = b[pos++] as number;
    if (byte > 0x0f) return -1;
    this.pos = pos;
    return (v | (byte << 28)) >>> 0;
  }

  /**
   * A varint read exactly as protobufjs's uint32() reads it (its low 32
   * bits; the bits of a 5th byte past 32 dropped, and 5 more bytes skipped
   * unseen when it goes on); -1 only when it runs past `end`. For the
   * structure of a message that must split as protobufjs would (tags,
   * lengths); the fast paths use the stricter varint32().
   */
  uint32(end: number): number {
    const b = this.buf;
    let pos = this.pos;
    let v = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) return -1;
      const byte = b[pos++] as number;
      v |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = pos;
        return v >>> 0;
      }
    }
    if (pos >= end) return -1;
    const byte = b[pos++] as number;
    v |= (byte & 0x0f) << 28;
    if (byte >= 0x80) {
      pos += 5;
      if (pos > end) return -1;
    }
    this.pos = pos;
    return v >>> 0;
  }

  /** A varint of at most 10 bytes into lo/hi (its low 64 bits, as protobufjs's int64()); false when malformed or truncated. */
  varint64(end: number): boolean {
    const b = this.buf;
    let pos = this.pos;
    let l = 0;
    let byte = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) return false;
      byte = b[pos++] as number;
      l |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = pos;
        this.lo = l >>> 0;
        this.hi = 0;
        return true;
      }
    }
    if (pos >= end) return false;
    byte = b[pos++] as number;
    l |= (byte & 0x7f) << 28;
    let h = (byte & 0x7f) >> 4;
    if (byte >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (pos >= end || shift > 31) return false;
        byte = b[pos++] as number;
        h |= (byte & 0x7f) << shift;
        if (byte < 0x80) break;
      }
    }
    this.pos = pos;
    this.lo = l >>> 0;
    this.hi = h | 0;
    return true;
  }

  /** Skips a varint of at most 10 bytes; returns its length in bytes, or -1 when malformed or truncated. */
  skipVarint(end: number): number {
    const b = this.buf;
    const start = this.pos;
    let pos = start;
    while (pos < end && pos - start < 10) {
      if ((b[pos++] as number) < 0x80) {
        this.pos = pos;
        return pos - start;
      }
    }
    return -1;
  }

  /** A fixed32 field's bits, unsigned; -1 when truncated. */
  fixed32(end: number): number {
    const b = this.buf;
    const pos = this.pos;
    if (pos + 4 > end) return -1;
    this.pos = pos + 4;
    return ((b[pos] as number) | ((b[pos + 1] as number) << 8) | ((b[pos + 2] as number) << 16) | ((b[pos + 3] as number) << 24)) >>> 0;
  }

  /** A float field (fixed32 bits as a float32); NaN when truncated (callers that accept NaN check the position first). */
  float32(end: number): number {
    const bits = this.fixed32(end);
    if (bits < 0) return Number.NaN;
    F32_BITS[0] = bits;
    return F32[0] as number;
  }

  /** A fixed64 field into lo/hi; false when truncated. */
  fixed64(end: number): boolean {
    const b = this.buf;
    const pos = this.pos;
    if (pos + 8 > end) return false;
    this.lo = ((b[pos] as number) | ((b[pos + 1] as number) << 8) | ((b[pos + 2] as number) << 16) | ((b[pos + 3] as number) << 24)) >>> 0;
    this.hi = (b[pos + 4] as number) | ((b[pos + 5] as number) << 8) | ((b[pos + 6] as number) << 16) | ((b[pos + 7] as number) << 24);
    this.pos = pos + 8;
    return true;
  }

  /**
   * A length-delimited field: reads its length, leaves `pos` at its first
   * byte and returns where it stops; -1 when the length is malformed or
   * runs past `end`.
   */
  delimited(end: number): number {
    const length = this.varint32(end);
    if (length < 0) return -1;
    const stop = this.pos + length;
    return stop > end ? -1 : stop;
  }

  /**
   * Skips a field's value of wire type `wire` exactly as protobufjs's
   * skipType() does (a varint of any length, a group up to its end); false
   * when it runs past `end` or the wire type is unknown.
   */
  skip(wire: number, end: number): boolean {
    switch (wire) {
      case WIRE_VARINT: {
        // Of any length, as protobufjs skips it.
        const b = this.buf;
        let pos = this.pos;
        while (pos < end) {
          if ((b[pos++] as number) < 0x80) {
            this.pos = pos;
            return true;
          }
        }
        return false;
      }
      case WIRE_FIXED64:
        if (this.pos + 8 > end) return false;
        this.pos += 8;
        return true;
      case WIRE_LENGTH_DELIMITED: {
        const length = this.uint32(end);
        if (length < 0 || this.pos + length > end) return false;
        this.pos += length;
        return true;
      }
      case WIRE_FIXED32:
        if (this.pos + 4 > end) return false;
        this.pos += 4;
        return true;
      case WIRE_START_GROUP:
        for (;;) {
          const tag = this.uint32(end);
          if (tag < 0) return false;
          if ((tag & 7) === WIRE_END_GROUP) return true;
          if (!this.skip(tag & 7, end)) return false;
        }
      default:
        return false;
    }
  }
}

const F32 = new Float32Array(1);
const F32_BITS = new Uint32Array(F32.buffer);
