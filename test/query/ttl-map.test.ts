import { describe, expect, it } from 'vitest';
import { TtlMap } from '../../query/ttl-map.js';

describe('TtlMap', () => {
  it('keeps a value ttlMs from when it is set, or from the time given (an answer as old as the question that got it)', () => {
    let now = 1_000;
    const m = new TtlMap<string>(100, 10, () => now);
    m.set('a', 'x');
    m.set('b', 'y', 950);
    now = 1_049;
    expect([m.get('a'), m.get('b')]).toEqual(['x', 'y']);
    now = 1_050;
    expect([m.get('a'), m.get('b')]).toEqual(['x', undefined]);
    now = 1_100;
    expect(m.get('a')).toBeUndefined();
  });

  it('keeps nothing with ttlMs 0, and at most maxEntries, the oldest dropped first', () => {
    const none = new TtlMap<number>(0, 10);
    none.set('a', 1);
    expect(none.get('a')).toBeUndefined();
    const few = new TtlMap<number>(1_000, 2);
    few.set('a', 1);
    few.set('b', 2);
    few.set('c', 3);
    expect([few.get('a'), few.get('b'), few.get('c'), few.size]).toEqual([undefined, 2, 3, 2]);
  });
});
