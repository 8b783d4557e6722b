import { describe, expect, it } from 'vitest';
import { MetadataCache } from '../../query/metrics/metadata-cache.js';

/** A cache on a clock the test moves, and a reader that counts its reads. */
function rig(ttlMs = 1_000, maxEntries = 10) {
  let now = 0;
  const cache = new MetadataCache(ttlMs, maxEntries, () => now);
  const counts = { reads: 0, hits: 0, misses: 0 };
  const ask = (sql: string, params: Record<string, unknown>, rows: unknown[] = [{ type: 'histogram' }], complete = (r: unknown[]) => r.length > 0) =>
    cache.rows(
      String(params['tenant'] ?? ''),
      sql,
      params,
      async () => {
        counts.reads++;
        return rows;
      },
      complete,
      (hit) => {
        if (hit) counts.hits++;
        else counts.misses++;
      },
    );
  return { cache, counts, ask, tick: (ms: number) => (now += ms) };
}

describe('MetadataCache', () => {
  it('answers the same statement and parameters from memory until the answer is ttlMs old', async () => {
    const { counts, ask, tick } = rig();
    expect(await ask('SELECT types', { tenant: 'a', name: 'm' })).toEqual([{ type: 'histogram' }]);
    tick(999);
    expect(await ask('SELECT types', { tenant: 'a', name: 'm' })).toEqual([{ type: 'histogram' }]);
    expect(counts).toEqual({ reads: 1, hits: 1, misses: 1 });
    tick(1);
    await ask('SELECT types', { tenant: 'a', name: 'm' });
    expect(counts).toEqual({ reads: 2, hits: 1, misses: 2 });
  });

  it('never shares an answer between tenants, parameters or statements', async () => {
    const { cache, counts, ask } = rig();
    await ask('SELECT types', { tenant: 'a', name: 'm' });
    await ask('SELECT types', { tenant: 'b', name: 'm' });
    await ask('SELECT types', { tenant: 'a', name: 'n' });
    await ask('SELECT first', { tenant: 'a', name: 'm' });
    await ask('SELECT types', { tenant: 'a', name: 'm', id: 1n });
    // The same statement and parameters asked for another tenant.
    const other = await cache.rows(
      'b',
      'SELECT types',
      { tenant: 'a', name: 'm' },
      async () => [{ type: 'gauge' }],
      () => true,
      () => {},
    );
    expect(other).toEqual([{ type: 'gauge' }]);
    expect(counts.reads).toBe(5);
    expect(counts.hits).toBe(0);
  });

  it('keeps no incomplete answer: a metric asked before its first sample is read again', async () => {
    const { counts, ask } = rig();
    expect(await ask('SELECT types', { tenant: 'a' }, [])).toEqual([]);
    await ask('SELECT types', { tenant: 'a' }, [{ type: 'counter' }]);
    expect(await ask('SELECT types', { tenant: 'a' }, [])).toEqual([{ type: 'counter' }]);
    expect(counts).toEqual({ reads: 2, hits: 1, misses: 2 });
  });

  it('a failed read leaves nothing behind and reaches its caller', async () => {
    const { cache, ask } = rig();
    const failing = cache.rows(
      'a',
      'SELECT types',
      { tenant: 'a' },
      async () => {
        throw new Error('ClickHouse went away');
      },
      () => true,
      () => {},
    );
    await expect(failing).rejects.toThrow('ClickHouse went away');
    expect(cache.size).toBe(0);
    expect(await ask('SELECT types', { tenant: 'a' }, [{ type: 'gauge' }])).toEqual([{ type: 'gauge' }]);
  });

  it('with ttlMs 0 keeps nothing: every request reads', async () => {
    const { cache, counts, ask } = rig(0);
    await ask('SELECT types', { tenant: 'a' });
    await ask('SELECT types', { tenant: 'a' });
    expect(counts).toEqual({ reads: 2, hits: 0, misses: 2 });
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries answers, dropping the oldest first', async () => {
    const { cache, counts, ask } = rig(1_000, 3);
    for (const name of ['a', 'b', 'c', 'd']) await ask('SELECT types', { name });
    expect(counts.reads).toBe(4);
    expect(cache.size).toBe(3);
    await ask('SELECT types', { name: 'd' });
    await ask('SELECT types', { name: 'b' });
    expect(counts.reads).toBe(4);
    await ask('SELECT types', { name: 'a' });
    expect(counts.reads).toBe(5);
  });
});
