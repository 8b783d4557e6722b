import type { Config } from '../../src/config/config-schema.js';

/**
 * Request bytes the OTLP receivers hold at once, shared by both listeners:
 * a body counts from its first byte until its export is answered. Without
 * it, N connections x M streams could each hold up to gateway.maxBodyBytes.
 */
export class InFlightBytes {
  private held = 0;

  constructor(readonly limit: number) {}

  /** Takes `n` bytes of the budget; false (nothing taken) when that would pass the limit. */
  take(n: number): boolean {
    if (this.held + n > this.limit) return false;
    this.held += n;
    return true;
  }

  give(n: number): void {
    this.held -= n;
  }

  get bytes(): number {
    return this.held;
  }
}

/** What bounds one OTLP listener (docs/security.md, "OTLP receivers"). */
export interface OtlpBounds {
  maxConnections: number;
  /** gRPC only: streams per connection. */
  maxConcurrentStreams: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  inFlight: InFlightBytes;
}

export function otlpBounds(gateway: Config['gateway'], inFlight: InFlightBytes): OtlpBounds {
  return {
    maxConnections: gateway.otlpMaxConnections,
    maxConcurrentStreams: gateway.otlpMaxConcurrentStreams,
    requestTimeoutMs: gateway.otlpRequestTimeoutS * 1000,
    idleTimeoutMs: gateway.otlpIdleTimeoutS * 1000,
    inFlight,
  };
}
