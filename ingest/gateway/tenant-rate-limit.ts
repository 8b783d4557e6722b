/**
 * Per-tenant ingest rate limit: a token bucket of bytes per tenant, so that
 * one tenant sending more than its share is answered "slow down" (429 with
 * Retry-After, OTLP RESOURCE_EXHAUSTED, UDP dropped and counted) before its
 * data reaches the shared produce buffer, and the other tenants keep being
 * served. Only applied when authentication is required (with it off every
 * request is one tenant's, and there is nobody to be fair to).
 *
 * The cost of a request is its bytes as the gateway has to process them
 * (the decompressed body, the datagram, the frame), counted before it is
 * decoded: a tenant over its limit costs the gateway no conversion.
 *
 * A bucket holds at most `burst` bytes and refills at `rate` bytes per
 * second. A request is admitted while the bucket is not in debt, and its
 * whole cost is taken, which may put the bucket in debt: a request larger
 * than the burst is never refused for its size alone (the body limits do
 * that), and the tenant then waits until the debt is repaid. Memory: one
 * bucket per tenant seen; tenants come from the configured tokens and
 * listener tenants, so the map is bounded by the configuration.
 */
export interface TenantRateLimitOptions {
  /** Bytes per second per tenant; 0: no limit. */
  rateBytes: number;
  /** Bytes a tenant may send at once after being idle. */
  burstBytes: number;
  /** Per-tenant rates that replace `rateBytes` (0: no limit for that tenant). */
  perTenant: Readonly<Record<string, number>>;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class TenantRateLimit {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly options: TenantRateLimitOptions) {}

  /** The rate that applies to a tenant (0: unlimited). */
  rateOf(tenant: string): number {
    return this.options.perTenant[tenant] ?? this.options.rateBytes;
  }

  /**
   * Takes `bytes` from the tenant's bucket. Returns 0 when admitted, else
   * the whole seconds (at least 1) after which the bucket is out of debt.
   */
  admit(tenant: string, bytes: number, nowMs: number = performance.now()): number {
    const rate = this.rateOf(tenant);
    if (rate <= 0) return 0;
    const burst = Math.max(this.options.burstBytes, rate);
    let b = this.buckets.get(tenant);
    if (b === undefined) {
      b = { tokens: burst, atMs: nowMs };
      this.buckets.set(tenant, b);
    }
    const elapsed = Math.max(0, nowMs - b.atMs);
    b.tokens = Math.min(burst, b.tokens + (elapsed * rate) / 1000);
    b.atMs = nowMs;
    if (b.tokens < 0) return Math.max(1, Math.ceil(-b.tokens / rate));
    b.tokens -= bytes;
    return 0;
  }
}
