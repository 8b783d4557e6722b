import { describe, expect, it } from 'vitest';
import { TenantRateLimit } from '../../../ingest/gateway/tenant-rate-limit.js';

describe('TenantRateLimit', () => {
  const limit = (): TenantRateLimit => new TenantRateLimit({ rateBytes: 1_000, burstBytes: 3_000, perTenant: { big: 10_000, free: 0 } });

  it('admits a burst, then asks to wait until the debt is repaid', () => {
    const l = limit();
    expect(l.admit('a', 2_000, 0)).toBe(0);
    expect(l.admit('a', 2_500, 0)).toBe(0); // still 1,000 left: admitted, 1,500 in debt
    expect(l.admit('a', 1, 0)).toBe(2); // 1,500 bytes at 1,000/s: 2 s (whole seconds, rounded up)
    expect(l.admit('a', 1, 1_000)).toBe(1); // 500 still owed
    expect(l.admit('a', 100, 1_500)).toBe(0); // out of debt exactly
  });

  it('refills at the rate, up to the burst', () => {
    const l = limit();
    expect(l.admit('a', 3_000, 0)).toBe(0);
    expect(l.admit('a', 1, 0)).toBe(0); // 0 left is not debt
    expect(l.admit('a', 5_000, 60_000)).toBe(0); // a minute later: the bucket holds the burst, not 60,000
    expect(l.admit('a', 1, 60_000)).toBe(2); // 2,000 owed; a refused request takes nothing
  });

  it('keeps one bucket per tenant: one tenant in debt does not slow another', () => {
    const l = limit();
    expect(l.admit('a', 10_000, 0)).toBe(0);
    expect(l.admit('a', 1, 0)).toBeGreaterThan(0);
    expect(l.admit('b', 2_000, 0)).toBe(0);
  });

  it('takes per-tenant rates; 0 is no limit', () => {
    const l = limit();
    expect(l.rateOf('big')).toBe(10_000);
    expect(l.admit('big', 12_000, 0)).toBe(0); // burst is at least one second of its own rate
    expect(l.admit('big', 1, 0)).toBe(1);
    for (let i = 0; i < 100; i++) expect(l.admit('free', 1_000_000, 0)).toBe(0);
    expect(new TenantRateLimit({ rateBytes: 0, burstBytes: 1, perTenant: {} }).admit('x', 1e12, 0)).toBe(0);
  });
});
