import { describe, expect, it } from 'vitest';
import { CardinalityGuard, OVERFLOW_TAG } from '../../ingest/gateway/cardinality-guard.js';
import type { MetricSample } from '../../src/codec/types.js';

function sample(name: string, tags: Record<string, string>): MetricSample {
  return { type: 'counter', name, value: 1, timestamp: 0n, message: '', status: 'ok', sampleRate: 1, tags, unit: '', scope: 'default' } as MetricSample;
}

describe('cardinality guard', () => {
  it('keeps the first N tag sets of a metric and folds the rest into the overflow series', () => {
    const guard = new CardinalityGuard(3);
    const t0 = 1_000_000;
    const folded = ['a', 'b', 'c', 'd', 'e'].map((ip) => {
      const s = sample('req', { ip, route: '/x' });
      return { overflow: guard.admit('t1', s, t0), tags: s.tags };
    });
    expect(folded.map((f) => f.overflow)).toEqual([false, false, false, true, true]);
    expect(folded[3]?.tags).toEqual({ [OVERFLOW_TAG]: 'true' });
    expect(folded[0]?.tags).toEqual({ ip: 'a', route: '/x' });
    // A tag set already seen is still admitted, in whatever order its tags come.
    const again = sample('req', { route: '/x', ip: 'b' });
    expect(guard.admit('t1', again, t0)).toBe(false);
    expect(again.tags).toEqual({ route: '/x', ip: 'b' });
  });

  it('counts per metric name and per tenant', () => {
    const guard = new CardinalityGuard(1);
    expect(guard.admit('t1', sample('a', { k: '1' }), 0)).toBe(false);
    expect(guard.admit('t1', sample('b', { k: '2' }), 0)).toBe(false);
    expect(guard.admit('t2', sample('a', { k: '2' }), 0)).toBe(false);
    expect(guard.admit('t1', sample('a', { k: '2' }), 0)).toBe(true);
    // No tags is a tag set too.
    const bare = new CardinalityGuard(1);
    expect(bare.admit('t1', sample('a', {}), 0)).toBe(false);
    expect(bare.admit('t1', sample('a', {}), 0)).toBe(false);
    expect(bare.admit('t1', sample('a', { k: 'v' }), 0)).toBe(true);
  });

  it('tells tag sets apart that would read the same if joined carelessly', () => {
    const guard = new CardinalityGuard(10);
    const sets = [{ a: 'b,c' }, { a: 'b', c: '' }, { 'a,b': 'c' }, { ab: 'c' }, { a: 'bc' }];
    for (const tags of sets) guard.admit('t', sample('m', tags), 0);
    // Each was new: with 5 distinct sets seen, a 6th still fits and the 5 are still "seen".
    const limited = new CardinalityGuard(5);
    for (const tags of sets) expect(limited.admit('t', sample('m', { ...tags }), 0)).toBe(false);
    expect(limited.admit('t', sample('m', { z: '1' }), 0)).toBe(true);
  });

  it('forgets the sets when the window ends', () => {
    const guard = new CardinalityGuard(1, 60_000);
    const start = Date.now();
    expect(guard.admit('t', sample('m', { k: '1' }), start)).toBe(false);
    expect(guard.admit('t', sample('m', { k: '2' }), start + 59_000)).toBe(true);
    expect(guard.admit('t', sample('m', { k: '2' }), start + 60_000)).toBe(false);
    expect(guard.admit('t', sample('m', { k: '3' }), start + 60_001)).toBe(true);
  });
});
