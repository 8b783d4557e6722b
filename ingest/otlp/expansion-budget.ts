import { OtlpError } from './otlp-errors.js';

/** The most SSF one OTLP request may become (gateway.otlpMaxEvents, gateway.otlpMaxOutputBytes). */
export interface ExpansionLimits {
  /** Trace spans, log records and samples made from one request. */
  maxEvents: number;
  /** Bytes of the SSF spans made from one request, as encoded (without the gateway's tenant and received time). */
  maxBytes: number;
}

/**
 * What one OTLP request may still become. A small request can expand a lot:
 * its resource and scope attributes are copied into every span, log record
 * and sample, and a histogram point becomes up to 1,026 samples. The
 * conversions charge what they make as they make it (before building the
 * rest), so a request past the limits is refused (OTLP_ERR_OUTPUT_TOO_LARGE)
 * having cost at most the limits, not its whole expansion.
 */
export class ExpansionBudget {
  private events = 0;
  private bytes = 0;

  constructor(
    private readonly limits: ExpansionLimits,
    private readonly signal: string,
  ) {}

  /** No limit (a conversion called on its own, in tests). */
  static unbounded(): ExpansionBudget {
    return new ExpansionBudget({ maxEvents: Number.POSITIVE_INFINITY, maxBytes: Number.POSITIVE_INFINITY }, 'export');
  }

  /** `events` more events and `bytes` more bytes of SSF (or a lower bound of them); throws past a limit. */
  take(events: number, bytes: number): void {
    this.events += events;
    this.bytes += bytes;
    // One reason for either limit: the direct path (events and exact bytes span by span) and the general path
    // (events first, then exact bytes) may cross them in another order, and must answer the same.
    if (this.events > this.limits.maxEvents || this.bytes > this.limits.maxBytes)
      throw new OtlpError(
        'OTLP_ERR_OUTPUT_TOO_LARGE',
        `the ${this.signal} export request makes more than gateway.otlpMaxEvents (${this.limits.maxEvents}) spans, log records and samples or more than gateway.otlpMaxOutputBytes (${this.limits.maxBytes}) bytes of SSF (resource and scope attributes are copied into every item; a histogram point becomes up to 1,026 samples): send it in smaller requests`,
      );
  }

  /** Refuses now a request that will make `events` events past the limit (counted ahead, without making them). */
  expectEvents(events: number): void {
    if (this.events + events > this.limits.maxEvents) this.take(events, 0);
  }

  /**
   * From here on, exact bytes: the general path's conversion charged a
   * lower bound of each item's bytes (mapBytes of what it copies into it),
   * its encoding then charges the bytes themselves.
   */
  countBytesAgain(): void {
    this.bytes = 0;
  }
}

/**
 * A lower bound of the bytes of `map` as SSF map entries: each entry is at
 * least its key and value (UTF-8 has at least as many bytes as UTF-16 code
 * units) and 6 bytes of tags and lengths.
 */
export function mapBytes(map: Record<string, string>): number {
  let n = 0;
  for (const k in map) n += 6 + k.length + (map[k] as string).length;
  return n;
}
