/** What RecentKeys.see found: a key new to this process, a retry (the same body), or the key reused with another body. */
export type KeyUse = 'new' | 'repeat' | 'reused';

/**
 * The Idempotency-Keys (their identities, keyIdOf: tenant + key) this process
 * saw last, each with the digest of the body it first came with, to count
 * retries on /metrics and to refuse a key reused with another body (as
 * Stripe's API does). Only this process's memory: what is stored once is
 * decided downstream (ClickHouse's insert deduplication), under a request id
 * that includes the body's digest (requestIdOf), so another body under the
 * same key is stored in full where this memory cannot see it (another
 * gateway, after a restart), never partly dropped.
 */
export class RecentKeys {
  // Insertion order is recency: a key seen again is moved to the end, the first one is the oldest.
  private readonly seen = new Map<string, string>();
  constructor(private readonly limit = 10_000) {}

  /** Unbinds `keyId` if it is bound to `digest`: the request that bound it was refused before anything of it was published. */
  forget(keyId: string, digest: string): void {
    if (this.seen.get(keyId) === digest) this.seen.delete(keyId);
  }

  /**
   * Notes `keyId` with `digest` among the last `limit` keys. A key seen with
   * another digest is left as it was (its first body stays the one retries
   * must match) and reported 'reused'.
   */
  see(keyId: string, digest: string): KeyUse {
    const first = this.seen.get(keyId);
    if (first !== undefined) {
      if (first !== digest) return 'reused';
      this.seen.delete(keyId);
      this.seen.set(keyId, digest);
      return 'repeat';
    }
    this.seen.set(keyId, digest);
    if (this.seen.size > this.limit) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return 'new';
  }
}
