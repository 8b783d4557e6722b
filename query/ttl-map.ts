/**
 * Values kept a short while, at most `maxEntries` of them, the oldest
 * dropped first: what the query API remembers between requests (the metric
 * query's metadata answers, how densely a log search matched). A `ttlMs` of
 * 0 keeps nothing. Keys are built by the caller and always start with the
 * tenant, so tenants never share an entry; a tenant asking many distinct
 * questions only costs others a recomputation, never memory.
 */
export class TtlMap<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many values are kept now. */
  get size(): number {
    return this.entries.size;
  }

  /** The keys kept now (some may be past their time: get drops those). */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** The value kept for `key`, while it is younger than ttlMs. */
  get(key: string): V | undefined {
    const kept = this.entries.get(key);
    if (kept === undefined) return undefined;
    if (kept.until > this.now()) return kept.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` for ttlMs from `since` (default now; nothing when ttlMs is 0). */
  set(key: string, value: V, since: number = this.now()): void {
    if (this.ttlMs === 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, until: since + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
