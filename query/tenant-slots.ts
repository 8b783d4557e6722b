import { queryError } from './query-errors.js';

/**
 * At most `limit` query API requests of one tenant at a time, counted in this
 * process. One more is refused at once (429, QUERY_ERR_TOO_MANY_QUERIES)
 * rather than queued: a queue would let one tenant's backlog grow without
 * bound, and other tenants never wait for a slot of another tenant.
 */
export class TenantSlots {
  private readonly running = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Takes a slot of `tenant` or throws the 429; the returned function gives it back (once). */
  acquire(tenant: string): () => void {
    const now = this.running.get(tenant) ?? 0;
    if (now >= this.limit) {
      throw queryError('QUERY_ERR_TOO_MANY_QUERIES', `tenant ${tenant} already has ${now} queries running (query.maxConcurrentPerTenant = ${this.limit})`);
    }
    this.running.set(tenant, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.running.get(tenant) ?? 1) - 1;
      if (left <= 0) this.running.delete(tenant);
      else this.running.set(tenant, left);
    };
  }

  /** Requests of `tenant` holding a slot now. */
  inUse(tenant: string): number {
    return this.running.get(tenant) ?? 0;
  }
}
