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
 */
export class FrameReader {
  private readonly maxLength: number;
  private pending: Buffer = Buffer.alloc(0);
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
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 1) {
      const version = buf[at];
      if (version !== FRAME_VERSION) {
        this.failed = true;
        throw withFrames(new CodecError('SSF_FRAME_VERSION', `frame version byte is ${String(version)}, only 0 is supported`, { fatal: true }), frames);
      }
      if (buf.length - at < FRAME_HEADER_LENGTH) break;
      const length = buf.readUInt32BE(at + 1);
      if (length > this.maxLength) {
        this.failed = true;
        throw withFrames(new CodecError('SSF_FRAME_TOO_LARGE', `frame length ${length} exceeds the limit of ${this.maxLength} bytes`, { fatal: true }), frames);
      }
      if (buf.length - at - FRAME_HEADER_LENGTH < length) break;
      frames.push(buf.subarray(at + FRAME_HEADER_LENGTH, at + FRAME_HEADER_LENGTH + length));
      at += FRAME_HEADER_LENGTH + length;
    }
    buf = buf.subarray(at);
    // Copy a short remainder so a large chunk is not kept alive by it.
    this.pending = buf.length > 0 && buf.length < 4096 ? Buffer.from(buf) : buf;
    return frames;
  }

  /** Bytes received that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** Call at end of stream: throws SSF_FRAME_TRUNCATED if it ended inside a frame. */
  end(): void {
    if (this.pending.length > 0 && !this.failed) {
      const have = this.pending.length;
      this.pending = Buffer.alloc(0);
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
