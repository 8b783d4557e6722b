/*
 * The protobuf wire format written by hand, for the fast paths that build
 * messages without objects (ingest/otlp's direct path to SSF bytes): the
 * counterpart of wire-reader.ts. One growable scratch buffer, reused;
 * `take()` copies what was written into one new buffer. Lengths of nested
 * messages are written after their content (`begin`/`end`): one byte is
 * reserved, and the content moved right in the rare case the length needs
 * more (128 bytes or longer).
 */

export class WireWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 64 << 10) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Starts over (the scratch buffer is kept). */
  reset(): void {
    this.pos = 0;
  }

  /** Starts over, and gives back a scratch buffer that grew past `keep` bytes (one large request must not hold it for ever). */
  shrink(keep: number): void {
    this.pos = 0;
    if (this.buf.length > keep) this.buf = Buffer.allocUnsafe(64 << 10);
  }

  /** Room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** A copy of bytes [from, pos) in a buffer of its own. */
  take(from = 0): Buffer {
    const out = Buffer.allocUnsafe(this.pos - from);
    this.buf.copy(out, 0, from, this.pos);
    return out;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** An unsigned varint of at most 32 bits. */
  varint32(n: number): void {
    this.ensure(5);
    const b = this.buf;
    let v = n >>> 0;
    while (v >= 0x80) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
  }

  /** A 64-bit varint from its halves (low unsigned, high as 32 bits): what protobufjs's int64() writes. */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    let l = lo >>> 0;
    let h = hi >>> 0;
    while (h !== 0 || l >= 0x80) {
      b[this.pos++] = (l & 0x7f) | 0x80;
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>>= 7;
    }
    b[this.pos++] = l;
  }

  /** Bytes [start, end) of `src`, as they are. */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    if (n <= 64) {
      // A short copy byte by byte: no view object to make (and collect) for it; a whole source needs none either.
      const b = this.buf;
      let at = this.pos;
      for (let i = start; i < end; i++) b[at++] = src[i] as number;
    } else if (start === 0 && end === src.length) {
      this.buf.set(src, this.pos);
    } else {
      this.buf.set(src.subarray(start, end), this.pos);
    }
    this.pos += n;
  }

  /** A string field's content: its UTF-8 bytes (protobufjs's encoding of a JavaScript string). */
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A length-delimited field whose content follows: reserves its length; returns where the content starts. */
  begin(): number {
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  /** Writes the length of the content started at `start` (by begin()). */
  end(start: number): void {
    const length = this.pos - start;
    if (length < 0x80) {
      this.buf[start - 1] = length;
      return;
    }
    let extra = 1;
    while (length >= 2 ** (7 * (extra + 1))) extra++;
    this.ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    this.pos += extra;
    let at = start - 1;
    let v = length;
    while (v >= 0x80) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[at] = v;
  }
}
