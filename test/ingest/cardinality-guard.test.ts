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
    expect(folded.map((f) => f.overflow)).toEqual(['kept', 'kept', 'kept', 'folded', 'folded']);
    expect(folded[3]?.tags).toEqual({ [OVERFLOW_TAG]: 'true' });
    expect(folded[0]?.tags).toEqual({ ip: 'a', route: '/x' });
    // A tag set already seen is still admitted, in whatever order its tags come.
    const again = sample('req', { route: '/x', ip: 'b' });
    expect(guard.admit('t1', again, t0)).toBe('kept');
    expect(again.tags).toEqual({ route: '/x', ip: 'b' });
  });

  it('counts per metric name and per tenant', () => {
    const guard = new CardinalityGuard(1);
    expect(guard.admit('t1', sample('a', { k: '1' }), 0)).toBe('kept');
    expect(guard.admit('t1', sample('b', { k: '2' }), 0)).toBe('kept');
    expect(guard.admit('t2', sample('a', { k: '2' }), 0)).toBe('kept');
    expect(guard.admit('t1', sample('a', { k: '2' }), 0)).toBe('folded');
    // No tags is a tag set too.
    const bare = new CardinalityGuard(1);
    expect(bare.admit('t1', sample('a', {}), 0)).toBe('kept');
    expect(bare.admit('t1', sample('a', {}), 0)).toBe('kept');
    expect(bare.admit('t1', sample('a', { k: 'v' }), 0)).toBe('folded');
  });

  it('tells tag sets apart that would read the same if joined carelessly', () => {
    const guard = new CardinalityGuard(10);
    const sets = [{ a: 'b,c' }, { a: 'b', c: '' }, { 'a,b': 'c' }, { ab: 'c' }, { a: 'bc' }];
    for (const tags of sets) guard.admit('t', sample('m', tags), 0);
    // Each was new: with 5 distinct sets seen, a 6th still fits and the 5 are still "seen".
    const limited = new CardinalityGuard(5);
    for (const tags of sets) expect(limited.admit('t', sample('m', { ...tags }), 0)).toBe('kept');
    expect(limited.admit('t', sample('m', { z: '1' }), 0)).toBe('folded');
  });

  it('forgets the sets when the window ends', () => {
    const guard = new CardinalityGuard(1, 60_000);
    const start = Date.now();
    expect(guard.admit('t', sample('m', { k: '1' }), start)).toBe('kept');
    expect(guard.admit('t', sample('m', { k: '2' }), start + 59_000)).toBe('folded');
    expect(guard.admit('t', sample('m', { k: '2' }), start + 60_000)).toBe('kept');
    expect(guard.admit('t', sample('m', { k: '3' }), start + 60_001)).toBe('folded');
  });

  it('refuses samples of new names past the per-tenant cap, and keeps the names it knows', () => {
    const guard = new CardinalityGuard({ tagSetsPerMetric: 10, namesPerTenant: 2 });
    expect(guard.admit('t1', sample('a', {}), 0)).toBe('kept');
    expect(guard.admit('t1', sample('b', {}), 0)).toBe('kept');
    const third = sample('c', { k: 'v' });
    expect(guard.admit('t1', third, 0)).toBe('refused');
    expect(third.name).toBe('c');
    expect(third.tags).toEqual({ k: 'v' });
    // Known names still take new tag sets; another tenant has its own cap.
    expect(guard.admit('t1', sample('a', { k: '1' }), 0)).toBe('kept');
    expect(guard.admit('t2', sample('c', {}), 0)).toBe('kept');
    expect(guard.size).toEqual({ names: 3, series: 4 });
    // A new window forgets the names.
    expect(guard.admit('t1', sample('c', {}), Date.now() + 3_600_000)).toBe('kept');
  });

  it('refuses new names past the cap across tenants, and folds new tag sets past the series cap', () => {
    const guard = new CardinalityGuard({ tagSetsPerMetric: 100, namesPerTenant: 100, names: 3, series: 4 });
    for (const [t, n] of [
      ['t1', 'a'],
      ['t2', 'a'],
      ['t3', 'a'],
    ] as const)
      expect(guard.admit(t, sample(n, {}), 0)).toBe('kept');
    expect(guard.admit('t4', sample('a', {}), 0)).toBe('refused');
    expect(guard.admit('t1', sample('a', { k: '1' }), 0)).toBe('kept');
    const past = sample('a', { k: '2' });
    expect(guard.admit('t1', past, 0)).toBe('folded');
    expect(past.tags).toEqual({ [OVERFLOW_TAG]: 'true' });
    expect(guard.size).toEqual({ names: 3, series: 4 });
  });

  it('keeps its memory bounded under a flood of distinct names', () => {
    const guard = new CardinalityGuard({ tagSetsPerMetric: 10_000, namesPerTenant: 1_000, names: 5_000, series: 50_000 });
    let refused = 0;
    for (let i = 0; i < 200_000; i++) if (guard.admit(`t${i % 3}`, sample(`random.${i}`, { i: String(i) }), 0) === 'refused') refused++;
    expect(guard.size).toEqual({ names: 3_000, series: 3_000 });
    expect(refused).toBe(197_000);
  });
});
