import { describe, expect, it } from 'vitest';
import { decodeFrames, encodeFrame, encodeFrames, FrameReader } from '../../src/codec/index.js';

describe('Veneur stream framing', () => {
  it('writes version 0 and a 4-byte big-endian length', () => {
    expect([...encodeFrame(Uint8Array.from([1, 2, 3]))]).toEqual([0, 0, 0, 0, 3, 1, 2, 3]);
  });

  it('reads frames split at every possible byte boundary', () => {
    const payloads = [Uint8Array.from([9]), new Uint8Array(0), Uint8Array.from([1, 2, 3, 4, 5, 6, 7])];
    const stream = encodeFrames(payloads);
    for (let cut = 1; cut < stream.length; cut++) {
      const reader = new FrameReader();
      const frames = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      reader.end();
      expect(frames.map((f) => [...f])).toEqual(payloads.map((p) => [...p]));
    }
  });

  it('fails the stream on a wrong version byte (fatal: no resync is possible)', () => {
    const reader = new FrameReader();
    const bad = Buffer.from([0, 0, 0, 0, 1, 7, 1, 0, 0, 0, 1, 7]);
    expect(() => reader.push(bad)).toThrowError(expect.objectContaining({ code: 'SSF_FRAME_VERSION', fatal: true }));
    expect(() => reader.push(encodeFrame(Uint8Array.from([1])))).toThrowError(expect.objectContaining({ fatal: true }));
  });

  it('fails the stream on a length over the limit before buffering it', () => {
    const reader = new FrameReader(1024);
    const header = Buffer.from([0, 0, 0, 4, 1]);
    expect(() => reader.push(header)).toThrowError(expect.objectContaining({ code: 'SSF_FRAME_TOO_LARGE', fatal: true }));
    const big = Buffer.alloc(5);
    big.writeUInt32BE(16 * 1024 * 1024 + 1, 1);
    expect(() => new FrameReader().push(big)).toThrowError(expect.objectContaining({ code: 'SSF_FRAME_TOO_LARGE' }));
  });

  it('reports a stream that ends inside a frame', () => {
    const stream = encodeFrames([Uint8Array.from([1, 2, 3])]);
    expect(() => decodeFrames(stream.subarray(0, 6))).toThrowError(expect.objectContaining({ code: 'SSF_FRAME_TRUNCATED' }));
  });
});
