import { describe, expect, it } from 'vitest';
import { RecentKeys } from '../../../ingest/gateway/recent-keys.js';

describe('RecentKeys: the keys a gateway remembers, with the body each came with', () => {
  it('tells a new key, a retry of it, and the key reused with another body (which does not replace the first)', () => {
    const keys = new RecentKeys(3);
    expect(keys.see('k1', 'body-a')).toBe('new');
    expect(keys.see('k1', 'body-a')).toBe('repeat');
    expect(keys.see('k1', 'body-b')).toBe('reused');
    // The first body is still the key's.
    expect(keys.see('k1', 'body-a')).toBe('repeat');
    expect(keys.see('k1', 'body-b')).toBe('reused');
  });

  it('unbinds a key only from the body it is bound to (a request refused before it was published)', () => {
    const keys = new RecentKeys(3);
    expect(keys.see('k1', 'body-a')).toBe('new');
    keys.forget('k1', 'body-b');
    expect(keys.see('k1', 'body-b')).toBe('reused');
    keys.forget('k1', 'body-a');
    expect(keys.see('k1', 'body-b')).toBe('new');
  });

  it('forgets the least recently seen key past its limit: that key is new again, whatever its body', () => {
    const keys = new RecentKeys(3);
    for (const k of ['k1', 'k2', 'k3']) expect(keys.see(k, 'a')).toBe('new');
    // k1 seen again: k2 is now the oldest.
    expect(keys.see('k1', 'a')).toBe('repeat');
    expect(keys.see('k4', 'a')).toBe('new');
    expect(keys.see('k2', 'b')).toBe('new');
    expect(keys.see('k1', 'b')).toBe('reused');
  });
});
