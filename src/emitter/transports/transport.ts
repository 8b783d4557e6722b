/** Why an event was dropped by the emitter (the keys of `EmitterStats.dropped`; docs/errors.md). */
export const DROP_REASONS = ['queue_full', 'too_large', 'send_failed', 'rejected', 'closed', 'invalid', 'internal_error'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Per span handed to send(): null when delivered, else why it was dropped. */
export type Outcome = DropReason | null;

/**
 * A way to deliver encoded SSFSpans. The emitter hands it one flush's worth
 * of spans at a time and never calls send() again before the promise settles.
 * send() must never reject; it answers one Outcome per span, in order.
 */
export interface Transport {
  /** `udp`, `unix`, `tcp`, `http` or `https`. */
  readonly protocol: string;
  /** False while the transport cannot accept spans (e.g. reconnecting): the emitter keeps them queued. */
  readonly ready: boolean;
  send(spans: Uint8Array[]): Promise<Outcome[]>;
  close(): Promise<void>;
}
