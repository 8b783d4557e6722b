export interface AckBatcherOptions<T> {
  /** A batch is sent as soon as this much (in the caller's unit: bytes, rows) is pending. */
  flushAt: number;
  /** ...or this long after its first item arrived. */
  lingerMs: number;
  /**
   * ...or this long, when a batch was still being sent as the first item
   * arrived (under load), even if that one is acknowledged meanwhile.
   * Default: `lingerMs`. A lone client waiting for each answer finds nothing
   * in flight and waits `lingerMs` only; a busy sink sends fewer, larger
   * batches. (Going at `lingerMs` once nothing is in flight any more lost
   * the gain: acknowledgements come back within a few ms.)
   */
  busyLingerMs?: number;
  /** Bound of what is pending or being sent; add() refuses past it. */
  limit: number;
  /**
   * The most being sent at once (same unit); what is over waits, pending, for a batch to
   * settle. Default: `limit` (no other bound). A batch in flight can cost several times its
   * size (the Kafka sink's records, kafkajs's encoded and compressed copies), a pending one
   * costs its size: this keeps the memory of a full buffer near `limit`.
   */
  maxInFlight?: number;
  /** Delivers one batch; the items' promises settle with it. */
  send(items: T[]): Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What one add() brought: its items, their size, its caller. */
interface Entry<T> {
  items: readonly T[];
  size: number;
  waiter: Waiter;
}

/**
 * The batching both sinks share: callers add items and get a promise that
 * settles when the batch holding them is acknowledged (or fails); batches
 * go out by size or after a linger time; what is pending or in flight is
 * bounded, so memory cannot grow when the backend is slow, and what is in
 * flight at once is bounded too (`maxInFlight`).
 */
export class AckBatcher<T> {
  private entries: Entry<T>[] = [];
  private pendingSize = 0;
  private inFlightSize = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A flush found no room in flight: the next batch to settle flushes again. */
  private deferred = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxInFlight: number;
  private readonly busyLingerMs: number;

  constructor(private readonly options: AckBatcherOptions<T>) {
    this.maxInFlight = options.maxInFlight ?? options.limit;
    this.busyLingerMs = options.busyLingerMs ?? options.lingerMs;
  }

  /** Pending plus in flight, in the caller's unit. */
  get buffered(): number {
    return this.pendingSize + this.inFlightSize;
  }

  /** Whether `size` more would stay within the limit. */
  fits(size: number): boolean {
    return this.buffered + size <= this.options.limit;
  }

  /** Settles when the batch holding these items is acknowledged. The caller checks fits() first. */
  add(items: readonly T[], size: number): Promise<void> {
    this.pendingSize += size;
    return new Promise<void>((resolve, reject) => {
      this.entries.push({ items, size, waiter: { resolve, reject } });
      if (this.deferred) return;
      if (this.pendingSize >= this.options.flushAt) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.inFlight.size > 0 ? this.busyLingerMs : this.options.lingerMs);
    });
  }

  /**
   * Sends what is pending now, as much as `maxInFlight` leaves room for (at least one
   * add()'s items when nothing is in flight); the rest goes when a batch settles.
   */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.deferred = false;
    if (this.entries.length === 0) return;
    const room = this.maxInFlight - this.inFlightSize;
    let take = 0;
    let size = 0;
    for (const e of this.entries) {
      if (size + e.size > room && (take > 0 || this.inFlight.size > 0)) break;
      size += e.size;
      take++;
    }
    if (take < this.entries.length) this.deferred = true;
    if (take === 0) return;
    const sent = this.entries.splice(0, take);
    const items: T[] = [];
    for (const e of sent) for (const item of e.items) items.push(item);
    this.pendingSize -= size;
    this.inFlightSize += size;
    const sending = this.options
      .send(items)
      .then(
        () => {
          for (const e of sent) e.waiter.resolve();
        },
        (err: unknown) => {
          for (const e of sent) e.waiter.reject(err);
        },
      )
      .finally(() => {
        this.inFlightSize -= size;
        this.inFlight.delete(sending);
        if (this.deferred) this.flush();
      });
    this.inFlight.add(sending);
  }

  /** Sends what is pending and waits for every batch in flight. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
      this.flush();
    }
  }
}
