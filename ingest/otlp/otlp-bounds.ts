import { type Config, secondsToMs } from '../../src/config/config-schema.js';
import type { InFlightBytes } from '../gateway/in-flight-bytes.js';
import type { SourceConnectionLimit } from '../../src/net/source-connection-cap.js';

/** What bounds one OTLP listener (docs/security.md, "OTLP receivers"). */
export interface OtlpBounds {
  maxConnections: number;
  /** Connections per source address, under maxConnections. */
  perSource: SourceConnectionLimit;
  /** gRPC only: streams per connection. */
  maxConcurrentStreams: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  inFlight: InFlightBytes;
}

export function otlpBounds(gateway: Config['gateway'], inFlight: InFlightBytes, perSource: SourceConnectionLimit): OtlpBounds {
  return {
    maxConnections: gateway.otlpMaxConnections,
    perSource,
    maxConcurrentStreams: gateway.otlpMaxConcurrentStreams,
    requestTimeoutMs: secondsToMs(gateway.otlpRequestTimeoutS),
    idleTimeoutMs: secondsToMs(gateway.otlpIdleTimeoutS),
    inFlight,
  };
}
