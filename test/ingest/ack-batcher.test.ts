import { describe, expect, it, vi } from 'vitest';
import { AckBatcher } from '../../ingest/sink/ack-batcher.js';

describe('AckBatcher', () => {
  it('sends by size at once and by linger time otherwise, settling each caller with its batch', async () => {
    vi.useFakeTimers();
    try {
      const batches: number[][] = [];
      const b = new AckBatcher<number>({ flushAt: 3, lingerMs: 50, limit: 100, send: async (items) => void batches.push(items) });
      const first = b.add([1, 2, 3], 3);
      await first;
      expect(batches).toEqual([[1, 2, 3]]);
      const second = b.add([4], 1);
      expect(batches).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(50);
      await second;
      expect(batches).toEqual([[1, 2, 3], [4]]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('waits busyLingerMs for a batch that starts while another is in flight, lingerMs when nothing is', async () => {
    vi.useFakeTimers();
    try {
      const batches: number[][] = [];
      const settle: Array<() => void> = [];
      const b = new AckBatcher<number>({
        flushAt: 100,
        lingerMs: 5,
        busyLingerMs: 20,
        limit: 1000,
        send: (items) => {
          batches.push(items);
          return new Promise<void>((resolve) => settle.push(resolve));
        },
      });
      const first = b.add([1], 1);
      await vi.advanceTimersByTimeAsync(5);
      expect(batches).toEqual([[1]]);
      // [1] is not acknowledged yet: [2] and what follows it gather for 20 ms.
      const second = b.add([2], 1);
      await vi.advanceTimersByTimeAsync(10);
      const third = b.add([3], 1);
      expect(batches).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(10);
      expect(batches).toEqual([[1], [2, 3]]);
      for (const s of settle) s();
      await Promise.all([first, second, third]);
      // Nothing in flight again: the short linger.
      const fourth = b.add([4], 1);
      await vi.advanceTimersByTimeAsync(5);
      expect(batches).toEqual([[1], [2, 3], [4]]);
      settle[2]?.();
      await fourth;
    } finally {
      vi.useRealTimers();
    }
  });

  it('bounds what is pending or in flight, and rejects every caller of a failed batch', async () => {
    let fail!: (e: Error) => void;
    const b = new AckBatcher<string>({ flushAt: 10, lingerMs: 1, limit: 5, send: () => new Promise<void>((_resolve, reject) => (fail = reject)) });
    const p1 = b.add(['a', 'b'], 2);
    const p2 = b.add(['c'], 2);
    expect(b.fits(1)).toBe(true);
    expect(b.fits(2)).toBe(false);
    await new Promise((r) => setTimeout(r, 10));
    expect(b.buffered).toBe(4);
    fail(new Error('backend down'));
    await expect(p1).rejects.toThrow('backend down');
    await expect(p2).rejects.toThrow('backend down');
    expect(b.buffered).toBe(0);
  });

  it('sends at most maxInFlight at once; what is over waits pending and goes when a batch settles', async () => {
    const batches: string[][] = [];
    const settle: Array<() => void> = [];
    const b = new AckBatcher<string>({
      flushAt: 1,
      lingerMs: 1000,
      limit: 100,
      maxInFlight: 3,
      send: (items) => {
        batches.push(items);
        return new Promise<void>((resolve) => settle.push(resolve));
      },
    });
    const p1 = b.add(['a'], 2);
    const p2 = b.add(['b'], 2);
    const p3 = b.add(['c'], 1);
    // 'a' is in flight; 'b' (2 more) would pass 3: it and 'c' behind it wait, still counted.
    expect(batches).toEqual([['a']]);
    expect(b.buffered).toBe(5);
    expect(b.fits(95)).toBe(true);
    expect(b.fits(96)).toBe(false);
    settle[0]?.();
    await p1;
    await new Promise((r) => setImmediate(r));
    // Room for 3: 'b' and 'c' go together, in order.
    expect(batches).toEqual([['a'], ['b', 'c']]);
    settle[1]?.();
    await Promise.all([p2, p3]);
    expect(b.buffered).toBe(0);
  });

  it('sends one add() larger than maxInFlight alone, and drain() sends everything that waited', async () => {
    const batches: number[][] = [];
    const b = new AckBatcher<number>({
      flushAt: 1,
      lingerMs: 1000,
      limit: 100,
      maxInFlight: 2,
      send: async (items) => void batches.push(items),
    });
    const all = [b.add([1], 5), b.add([2], 1), b.add([3], 1)];
    expect(batches).toEqual([[1]]);
    await b.drain();
    await Promise.all(all);
    expect(batches).toEqual([[1], [2, 3]]);
    expect(b.buffered).toBe(0);
  });
});
