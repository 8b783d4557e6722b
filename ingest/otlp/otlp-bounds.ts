import type { Config } from '../../src/config/config-schema.js';
import type { InFlightBytes } from '../gateway/in-flight-bytes.js';

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
