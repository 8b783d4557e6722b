export interface AckBatcherOptions<T> {
  /** A batch is sent as soon as this much (in the caller's unit: bytes, rows) is pending. */
  flushAt: number;
  /** ...or this long after its first item arrived. */
  lingerMs: number;
  /** Bound of what is pending or being sent; add() refuses past it. */
  limit: number;
  /** Delivers one batch; the items' promises settle with it. */
  send(items: T[]): Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The batching both sinks share: callers add items and get a promise that
 * settles when the batch holding them is acknowledged (or fails); batches
 * go out by size or after a linger time; what is pending or in flight is
 * bounded, so memory cannot grow when the backend is slow.
 */
export class AckBatcher<T> {
  private items: T[] = [];
  private waiters: Waiter[] = [];
  private pendingSize = 0;
  private inFlightSize = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: AckBatcherOptions<T>) {}

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
    for (const item of items) this.items.push(item);
    this.pendingSize += size;
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (this.pendingSize >= this.options.flushAt) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.waiters.length === 0) return;
    const items = this.items;
    const waiters = this.waiters;
    const size = this.pendingSize;
    this.items = [];
    this.waiters = [];
    this.pendingSize = 0;
    this.inFlightSize += size;
    const sending = this.options
      .send(items)
      .then(
        () => {
          for (const w of waiters) w.resolve();
        },
        (err: unknown) => {
          for (const w of waiters) w.reject(err);
        },
      )
      .finally(() => {
        this.inFlightSize -= size;
        this.inFlight.delete(sending);
      });
    this.inFlight.add(sending);
  }

  /** Sends what is pending and waits for every batch in flight. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }
}
