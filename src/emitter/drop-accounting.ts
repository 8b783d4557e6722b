import { channel } from 'node:diagnostics_channel';
import type { EmitterLogger } from './logger.js';
import { DROP_REASONS } from './transports/transport.js';
import type { DropReason, Outcome } from './transports/transport.js';

export interface EmitterStats {
  /** Events (spans, samples, log records) accepted into the queue. */
  emitted: number;
  /** Events handed to the transport successfully (for HTTP: acknowledged by the server). */
  sent: number;
  /**
   * Events dropped, by reason. Every emitted event ends up once in `sent` or
   * in one of too_large, send_failed, rejected, internal_error, closed;
   * queue_full and invalid count events that were never emitted.
   */
  dropped: Record<DropReason, number>;
  /** Queue entries now (a span and its samples are one entry). */
  queued: number;
  /** Metric samples skipped by client-side sampling and spans of unsampled traces (not drops). */
  sampledOut: number;
}

/** Published on `ssf:emitter:drop` (node:diagnostics_channel) for every drop: `{ reason, count }`. Free when nobody subscribes. */
export const dropChannel = channel('ssf:emitter:drop');

/**
 * The emitter's books: what was emitted, sent, sampled out and dropped (by
 * reason). Every drop goes through drop(), which counts it, publishes it and
 * warns once per reason, never once per event.
 */
export class DropAccounting {
  emitted = 0;
  sent = 0;
  sampledOut = 0;
  private readonly dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  private readonly warned = new Set<DropReason>();

  constructor(private readonly logger: EmitterLogger) {}

  drop(reason: DropReason, count: number, message: string): void {
    if (count <= 0) return;
    this.dropped[reason] += count;
    if (dropChannel.hasSubscribers) dropChannel.publish({ reason, count });
    if (!this.warned.has(reason)) {
      this.warned.add(reason);
      try {
        this.logger.warn(message, { reason });
      } catch {
        // The application's logger failing is no reason to throw into the application.
      }
    }
  }

  internalError(err: unknown, count = 1): void {
    this.drop('internal_error', count, `internal error in the SSF emitter: ${err instanceof Error ? err.message : String(err)}`);
  }

  /** Books a transport's answer: `weights[i]` events stood behind `outcomes[i]`. */
  settle(outcomes: readonly Outcome[], weights: readonly number[]): void {
    for (let i = 0; i < weights.length; i++) {
      const outcome = outcomes[i] ?? null;
      const w = weights[i] ?? 0;
      if (outcome === null) this.sent += w;
      else this.drop(outcome, w, dropMessage(outcome));
    }
  }

  stats(queued: number): EmitterStats {
    return { emitted: this.emitted, sent: this.sent, dropped: { ...this.dropped }, queued, sampledOut: this.sampledOut };
  }
}

function dropMessage(reason: DropReason): string {
  switch (reason) {
    case 'too_large':
      return 'an SSF span was too large for the transport and was dropped (use a unix://, tcp:// or http:// address for large spans)';
    case 'rejected':
      return 'the SSF endpoint refused events';
    case 'send_failed':
      return 'sending SSF events failed; they were dropped and counted';
    default:
      return `SSF events dropped: ${reason}`;
  }
}
