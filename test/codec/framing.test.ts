import { describe, expect, it } from 'vitest';
import { decodeFrames, encodeFrame, encodeFrames, FRAME_HEADER_LENGTH, FrameReader } from '../../src/codec/index.js';
import { seededRandom } from '../setup/random.js';

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

  it('reads the same frames whatever the chunk sizes (random cuts of large and small frames)', () => {
    const rand = seededRandom(7);
    const payloads = Array.from({ length: 40 }, (_, i) => Buffer.alloc(i % 7 === 0 ? 200_000 + Math.floor(rand() * 100_000) : Math.floor(rand() * 300), i));
    const stream = encodeFrames(payloads);
    for (let round = 0; round < 5; round++) {
      const reader = new FrameReader();
      const frames: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const n = 1 + Math.floor(rand() * (round === 0 ? 8 : 70_000));
        frames.push(...reader.push(stream.subarray(at, at + n)).map((f) => Buffer.from(f)));
        at += n;
      }
      reader.end();
      expect(frames.length).toBe(payloads.length);
      for (const [i, f] of frames.entries()) expect(f.equals(payloads[i] as Buffer)).toBe(true);
    }
  });

  it('copies a frame that spans many small chunks in linear time (4 x 16 MiB in 4 KiB writes)', () => {
    // A complexity check, not a speed target: the old reader concatenated the pending bytes on every
    // chunk (4,096 x 16 MiB of copying per frame, ~10 s of CPU); linear work is a fraction of a second.
    const payload = Buffer.alloc(16 * 1024 * 1024 - 16, 7);
    const stream = encodeFrames([payload, payload, payload, payload]);
    const reader = new FrameReader();
    const cpu = process.cpuUsage();
    let frames = 0;
    for (let at = 0; at < stream.length; at += 4096) frames += reader.push(stream.subarray(at, at + 4096)).length;
    const used = process.cpuUsage(cpu);
    expect(frames).toBe(4);
    expect(reader.bufferedBytes).toBe(0);
    expect((used.user + used.system) / 1e6).toBeLessThan(2);
  });

  it('does not allocate the length a header claims before the bytes arrive', () => {
    const reader = new FrameReader();
    reader.push(Buffer.from([0, 0, 0xff, 0, 0, 1, 2, 3]));
    expect(reader.bufferedBytes).toBe(FRAME_HEADER_LENGTH + 3);
    expect(() => reader.end()).toThrowError(expect.objectContaining({ code: 'SSF_FRAME_TRUNCATED' }));
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
