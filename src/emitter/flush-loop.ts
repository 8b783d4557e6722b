import { BoundedQueue } from './bounded-queue.js';
import type { DropAccounting } from './drop-accounting.js';
import type { EventEncoder } from './event-encoder.js';
import { weightOf } from './queue-item.js';
import type { QueueItem } from './queue-item.js';
import type { Outcome, Transport } from './transports/transport.js';

export interface FlushLoopOptions {
  transport: Transport;
  encoder: EventEncoder;
  accounting: DropAccounting;
  maxQueueSize: number;
  /** A flush starts as soon as this many entries are queued. */
  flushItems: number;
  flushIntervalMs: number;
}

/** A batch handed to the transport and not answered yet. */
interface InFlight {
  weight: number;
  /** Set when close() gave up on it: it was counted as `closed` then, its late answer is ignored. */
  abandoned: boolean;
}

/**
 * The bounded queue and the loop that empties it into the transport, by size
 * or interval, off the caller's path. The interval timer never keeps the
 * process alive; close() does, for at most its timeout, because its caller is
 * waiting on it.
 *
 * Books: every entry accepted is counted `emitted` once and, later, once as
 * sent or dropped: by the transport's answer, or by close() for what was
 * still queued or in flight at its deadline.
 */
export class FlushLoop {
  private readonly transport: Transport;
  private readonly encoder: EventEncoder;
  private readonly accounting: DropAccounting;
  private readonly queue: BoundedQueue<QueueItem>;
  private readonly flushItems: number;
  private readonly timer: NodeJS.Timeout;
  private flushScheduled = false;
  private flushing: Promise<void> | undefined;
  private inFlight: InFlight | undefined;
  private closing: Promise<void> | undefined;
  private abandoned = false;

  constructor(options: FlushLoopOptions) {
    this.transport = options.transport;
    this.encoder = options.encoder;
    this.accounting = options.accounting;
    this.queue = new BoundedQueue(options.maxQueueSize);
    this.flushItems = options.flushItems;
    this.timer = setInterval(() => this.scheduleFlush(), options.flushIntervalMs);
    this.timer.unref();
  }

  get queued(): number {
    return this.queue.length;
  }

  enqueue(item: QueueItem): void {
    if (this.closing) {
      this.accounting.drop('closed', weightOf(item), 'events emitted after close() are dropped');
      return;
    }
    if (!this.queue.push(item)) {
      this.accounting.drop(
        'queue_full',
        weightOf(item),
        `the SSF queue is full (${this.queue.capacity} events); events are dropped and counted until it drains`,
      );
      return;
    }
    this.accounting.emitted += weightOf(item);
    if (this.queue.length >= this.flushItems) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.queue.length === 0) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    }).unref();
  }

  /**
   * Sends everything queued now. Resolves when the transport has taken it (or
   * dropped it); never rejects. Concurrent calls share the work.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.queue.length > 0 && this.transport.ready ? this.flush() : undefined));
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.transport.ready && !this.abandoned) {
        const { encoded, weights } = this.encoder.encode(this.queue.take(this.flushItems));
        if (encoded.length === 0) continue;
        const batch: InFlight = { weight: weights.reduce((a, b) => a + b, 0), abandoned: false };
        this.inFlight = batch;
        // send() must never reject; a transport of the application's own that does costs its batch, counted.
        const outcomes = await this.transport.send(encoded).catch((): Outcome[] => encoded.map((): Outcome => 'internal_error'));
        this.inFlight = undefined;
        if (!batch.abandoned) this.accounting.settle(outcomes, weights);
      }
    } catch (err) {
      this.accounting.internalError(err);
    }
  }

  /**
   * Flushes what is queued for at most `timeoutMs`, then counts what is still
   * queued or in flight as `closed` and closes the transport; settles within
   * `timeoutMs` in every case. Idempotent: every call returns the same promise.
   */
  close(timeoutMs: number): Promise<void> {
    if (this.closing) return this.closing;
    clearInterval(this.timer);
    const budget = typeof timeoutMs === 'number' && timeoutMs >= 0 ? timeoutMs : 5000;
    this.closing = this.shutDown(Date.now() + budget).catch((err: unknown) => this.accounting.internalError(err));
    return this.closing;
  }

  private async shutDown(deadline: number): Promise<void> {
    await untilDeadline(this.flushUntilEmpty(deadline), deadline);
    this.abandon();
    // close() of a transport may wait on a peer that never answers (a TCP FIN
    // to a dead host): it gets what is left of the budget, not more.
    await untilDeadline(this.transport.close(), deadline);
  }

  private async flushUntilEmpty(deadline: number): Promise<void> {
    while (this.queue.length > 0 && !this.abandoned && Date.now() < deadline) {
      // Not ready (a stream reconnecting): wait a little. unref'd: close()'s own timer keeps the process alive.
      if (!this.transport.ready) await new Promise((r) => setTimeout(r, 20).unref());
      else await this.flush();
    }
    await this.flushing;
  }

  /** Counts what close() leaves behind, queued or in flight, as `closed`; once. */
  private abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    let weight = 0;
    for (const item of this.queue.take(this.queue.length)) weight += weightOf(item);
    if (this.inFlight) {
      this.inFlight.abandoned = true;
      weight += this.inFlight.weight;
      this.inFlight = undefined;
    }
    this.accounting.drop('closed', weight, 'events still queued or in flight when close() timed out were dropped');
  }
}

/**
 * Waits for `work` until `deadline` (epoch ms), whichever comes first. The
 * timer is ref'd on purpose: someone awaits this, so the process must not
 * exit with it unsettled (Node's exit code 13), and it is bounded.
 */
function untilDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work.then(() => undefined), expired]).finally(() => clearTimeout(timer));
}
