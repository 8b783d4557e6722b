/**
 * The request ids (tenant + Idempotency-Key) this process saw last, to count
 * retries on /metrics. Only a count: what is stored once is decided
 * downstream (ClickHouse's insert deduplication), not here, so a retry to
 * another gateway or after a restart is deduplicated all the same.
 */
export class RecentKeys {
  private readonly seen = new Set<string>();
  constructor(private readonly limit = 10_000) {}

  /** True when `id` was seen among the last `limit` ids. */
  repeat(id: string): boolean {
    if (this.seen.delete(id)) {
      this.seen.add(id);
      return true;
    }
    this.seen.add(id);
    if (this.seen.size > this.limit) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return false;
  }
}
