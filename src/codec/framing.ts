import { CodecError } from './errors.js';

/**
 * Veneur's SSF stream framing: [1 byte version = 0][4 bytes big-endian length][payload].
 * There is no resynchronisation marker, so a bad version byte or an oversize
 * length makes the rest of the stream unreadable (a fatal CodecError).
 */
export const FRAME_VERSION = 0;
export const FRAME_HEADER_LENGTH = 5;
/** Veneur's MaxSSFPacketLength. */
export const MAX_FRAME_LENGTH = 16 * 1024 * 1024;

/** Prefixes one encoded SSFSpan with its frame header. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.length);
  frame[0] = FRAME_VERSION;
  frame.writeUInt32BE(payload.length, 1);
  frame.set(payload, FRAME_HEADER_LENGTH);
  return frame;
}

/** Frames several payloads into one buffer (one socket write). */
export function encodeFrames(payloads: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const p of payloads) total += FRAME_HEADER_LENGTH + p.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of payloads) {
    out[at] = FRAME_VERSION;
    out.writeUInt32BE(p.length, at + 1);
    out.set(p, at + FRAME_HEADER_LENGTH);
    at += FRAME_HEADER_LENGTH + p.length;
  }
  return out;
}

/**
 * Incremental frame reader for a byte stream. Feed chunks as they arrive;
 * each call returns the payloads completed by that chunk (views into the
 * received data, not copies, where a frame lies within one chunk).
 *
 * A frame that spans chunks is copied once into a buffer of its own, grown
 * by doubling up to the length its header gave: each byte is copied O(1)
 * times whatever the chunk size (16 MiB in 4 KiB writes is not 4,096
 * concatenations), and a header alone never makes the reader allocate its
 * whole claimed length.
 */
export class FrameReader {
  private readonly maxLength: number;
  /** Bytes of a header split across chunks (fewer than FRAME_HEADER_LENGTH). */
  private head: Buffer = Buffer.alloc(0);
  /** The payload of a frame in progress: `length` bytes long in the end, `filled` so far. */
  private frame: Buffer | undefined;
  private length = 0;
  private filled = 0;
  private failed = false;

  constructor(maxLength: number = MAX_FRAME_LENGTH) {
    this.maxLength = maxLength;
  }

  /**
   * Throws a fatal CodecError on a bad version byte or oversize length; the
   * error's `frames` holds the frames completed before it in the same chunk.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw new CodecError('SSF_FRAME_VERSION', 'the stream already failed framing', { fatal: true });
    const frames: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.frame !== undefined) {
        at = this.fill(chunk, at);
        if (this.filled < this.length) break;
        frames.push(this.frame.subarray(0, this.length));
        this.frame = undefined;
        continue;
      }
      // A header: the first byte decides at once; the length needs all five.
      const first = this.head.length > 0 ? this.head[0] : chunk[at];
      if (first !== FRAME_VERSION) {
        this.failed = true;
        throw withFrames(new CodecError('SSF_FRAME_VERSION', `frame version byte is ${String(first)}, only 0 is supported`, { fatal: true }), frames);
      }
      let length: number;
      if (this.head.length === 0 && chunk.length - at >= FRAME_HEADER_LENGTH) {
        length = chunk.readUInt32BE(at + 1);
        at += FRAME_HEADER_LENGTH;
      } else {
        const take = Math.min(FRAME_HEADER_LENGTH - this.head.length, chunk.length - at);
        this.head = Buffer.concat([this.head, chunk.subarray(at, at + take)]);
        at += take;
        if (this.head.length < FRAME_HEADER_LENGTH) break;
        length = this.head.readUInt32BE(1);
        this.head = Buffer.alloc(0);
      }
      if (length > this.maxLength) {
        this.failed = true;
        throw withFrames(new CodecError('SSF_FRAME_TOO_LARGE', `frame length ${length} exceeds the limit of ${this.maxLength} bytes`, { fatal: true }), frames);
      }
      if (chunk.length - at >= length) {
        frames.push(chunk.subarray(at, at + length));
        at += length;
      } else {
        this.length = length;
        this.filled = 0;
        this.frame = Buffer.allocUnsafe(Math.min(length, 64 * 1024));
      }
    }
    return frames;
  }

  /** Copies what `chunk` has of the frame in progress, growing its buffer by doubling; returns the new position. */
  private fill(chunk: Buffer, at: number): number {
    const frame = this.frame as Buffer;
    const n = Math.min(chunk.length - at, this.length - this.filled);
    if (this.filled + n > frame.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.length, Math.max(frame.length * 2, this.filled + n)));
      frame.copy(grown, 0, 0, this.filled);
      this.frame = grown;
    }
    chunk.copy(this.frame as Buffer, this.filled, at, at + n);
    this.filled += n;
    return at + n;
  }

  /** Bytes received that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.head.length + (this.frame === undefined ? 0 : FRAME_HEADER_LENGTH + this.filled);
  }

  /** Call at end of stream: throws SSF_FRAME_TRUNCATED if it ended inside a frame. */
  end(): void {
    const have = this.bufferedBytes;
    if (have > 0 && !this.failed) {
      this.head = Buffer.alloc(0);
      this.frame = undefined;
      throw new CodecError('SSF_FRAME_TRUNCATED', `the stream ended with ${have} bytes of an incomplete frame`);
    }
  }
}

function withFrames(err: CodecError, frames: Buffer[]): CodecError {
  err.frames = frames;
  return err;
}

/** Reads a whole buffer of frames (e.g. an HTTP body in the framed content type). */
export function decodeFrames(data: Buffer, maxLength: number = MAX_FRAME_LENGTH): Buffer[] {
  const reader = new FrameReader(maxLength);
  const frames = reader.push(data);
  reader.end();
  return frames;
}
