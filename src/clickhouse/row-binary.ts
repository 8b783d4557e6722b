/**
 * A body in ClickHouse's RowBinary input format: values little-endian,
 * strings (and LowCardinality strings) as a varint length and their UTF-8
 * bytes, Map as a varint count and its key/value pairs, Bool/Enum8/UInt8 as
 * one byte, DateTime64(9) as Int64 nanoseconds.
 *
 * Written into chunks that are sent as they are (no final copy into one
 * buffer, no growth by doubling). mark()/rewind() undo what was written since
 * the mark, so a writer can give up on a row half-way.
 */

const FIRST_CHUNK_BYTES = 64 << 10;
const CHUNK_BYTES = 1 << 20;
/** No chunk yet: the first is allocated by the first write (a table a batch has no rows for costs nothing). */
const NO_CHUNK = Buffer.alloc(0);

export class RowBinaryWriter {
  /** Finished chunks (whole allocations) and the bytes written in each. */
  private readonly done: Buffer[] = [];
  private readonly doneBytes: number[] = [];
  private buf: Buffer;
  private pos = 0;
  /** Rows written (the caller counts them). */
  rows = 0;
  private saved = { chunk: 0, pos: 0, rows: 0 };

  constructor(
    private readonly chunkBytes = CHUNK_BYTES,
    private readonly firstChunkBytes = Math.min(FIRST_CHUNK_BYTES, chunkBytes),
  ) {
    this.buf = NO_CHUNK;
  }

  /** Room for n more bytes in the current chunk. */
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = Math.max(this.chunkBytes, n);
    if (this.buf === NO_CHUNK) {
      if (this.done.length === 0) size = Math.max(this.firstChunkBytes, n);
    } else {
      this.done.push(this.buf);
      this.doneBytes.push(this.pos);
    }
    this.buf = Buffer.allocUnsafe(size);
    this.pos = 0;
  }

  /**
   * Appends the rows of `other` after these (its chunks, not copied: `other`
   * is not written to again). Not between mark() and rewind().
   */
  append(other: RowBinaryWriter): void {
    if (other.rows === 0) return;
    if (this.pos > 0) {
      this.done.push(this.buf);
      this.doneBytes.push(this.pos);
      this.buf = NO_CHUNK;
      this.pos = 0;
    }
    for (const c of other.chunks()) {
      this.done.push(c);
      this.doneBytes.push(c.length);
    }
    this.rows += other.rows;
  }

  get byteLength(): number {
    let n = this.pos;
    for (const b of this.doneBytes) n += b;
    return n;
  }

  /** The body: the bytes written so far, in chunks. */
  chunks(): Buffer[] {
    const out = this.done.map((b, i) => b.subarray(0, this.doneBytes[i]));
    if (this.pos > 0) out.push(this.buf.subarray(0, this.pos));
    return out;
  }

  /** Remembers this point (one mark at a time). */
  mark(): void {
    this.saved.chunk = this.done.length;
    this.saved.pos = this.pos;
    this.saved.rows = this.rows;
  }

  /** Drops everything written since mark(). */
  rewind(): void {
    while (this.done.length > this.saved.chunk) {
      this.buf = this.done.pop() as Buffer;
      this.doneBytes.pop();
    }
    this.pos = this.saved.pos;
    this.rows = this.saved.rows;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  varUInt(v: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** A signed 64-bit integer (exact; wraps like Int64 outside its range). */
  i64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64LE(BigInt.asIntN(64, v), this.pos);
    this.pos += 8;
  }

  /** A 64-bit integer from its two 32-bit halves (as read from protobuf varints). */
  i64Parts(lo: number, hi: number): void {
    this.ensure(8);
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = lo;
    buf[pos + 1] = lo >>> 8;
    buf[pos + 2] = lo >>> 16;
    buf[pos + 3] = lo >>> 24;
    buf[pos + 4] = hi;
    buf[pos + 5] = hi >>> 8;
    buf[pos + 6] = hi >>> 16;
    buf[pos + 7] = hi >>> 24;
    this.pos = pos + 8;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  f32(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  /** A String: varint byte length, UTF-8 bytes. Short ASCII strings are copied in JavaScript (cheaper than a native call). */
  string(s: string): void {
    const n = s.length;
    if (n < 43) {
      // At most 3 bytes per UTF-16 unit: the length fits one varint byte.
      this.ensure(1 + n * 3);
      const buf = this.buf;
      const start = this.pos + 1;
      if (n <= 24) {
        let i = 0;
        for (; i < n; i++) {
          const c = s.charCodeAt(i);
          if (c >= 0x80) break;
          buf[start + i] = c;
        }
        if (i === n) {
          buf[this.pos] = n;
          this.pos = start + n;
          return;
        }
      }
      const written = buf.write(s, start);
      buf[this.pos] = written;
      this.pos = start + written;
      return;
    }
    const length = Buffer.byteLength(s, 'utf8');
    this.varUInt(length);
    this.ensure(length);
    this.pos += this.buf.write(s, this.pos, length);
  }

  /** A String from bytes that are already UTF-8 (a protobuf string field). */
  utf8Bytes(src: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.varUInt(length);
    this.ensure(length);
    const buf = this.buf;
    let pos = this.pos;
    // Up to 64 bytes a loop is as fast as a native copy, which needs a view of the source (an object to collect).
    if (length <= 64) {
      for (let i = start; i < end; i++) buf[pos++] = src[i] as number;
    } else {
      buf.set(src.subarray(start, end), pos);
      pos += length;
    }
    this.pos = pos;
  }

  /**
   * `count` Strings from bytes that are already UTF-8, string i being
   * src[at[2i], at[2i + 1]) (a map's keys and values, in order): the bytes
   * of utf8Bytes for each, with one check for room for all.
   */
  utf8Ranges(src: Uint8Array, at: Int32Array, count: number): void {
    let need = 0;
    for (let i = 0; i < 2 * count; i += 2) {
      const length = (at[i + 1] as number) - (at[i] as number);
      need += length + (length < 0x80 ? 1 : length < 0x4000 ? 2 : 5);
    }
    this.ensure(need);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < 2 * count; i += 2) {
      const start = at[i] as number;
      const end = at[i + 1] as number;
      let v = end - start;
      while (v >= 0x80) {
        buf[pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[pos++] = v;
      if (end - start <= 64) {
        for (let j = start; j < end; j++) buf[pos++] = src[j] as number;
      } else {
        buf.set(src.subarray(start, end), pos);
        pos += end - start;
      }
    }
    this.pos = pos;
  }

  /** Map(String, String) from a plain object (its own enumerable keys, in their order). */
  stringMap(m: Record<string, string>): void {
    let n = 0;
    for (const _ in m) n++;
    this.varUInt(n);
    for (const k in m) {
      this.string(k);
      this.string(m[k] as string);
    }
  }
}
