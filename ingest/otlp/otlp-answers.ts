import type { Encoding, Signal } from './otlp-decode.js';
import type { ExportOutcome } from './otlp-export.js';
import { ExportLogsServiceResponse, ExportMetricsServiceResponse, ExportTraceServiceResponse, RpcStatus } from './otlp-messages.js';

/** The partial_success counter of each signal's answer. */
const REJECTED_FIELD = { traces: 'rejectedSpans', logs: 'rejectedLogRecords', metrics: 'rejectedDataPoints' } as const;

/**
 * An export answer: empty on full success; otherwise partial_success with
 * the count of refused items and the reasons.
 */
export function exportAnswer(signal: Signal, outcome: ExportOutcome, encoding: Encoding): Uint8Array {
  const partial = outcome.rejected > 0 || outcome.message !== '' ? { [REJECTED_FIELD[signal]]: outcome.rejected, errorMessage: outcome.message } : undefined;
  if (encoding === 'json') return Buffer.from(JSON.stringify(partial ? { partialSuccess: partial } : {}));
  const fields = partial ? { partialSuccess: partial } : {};
  if (signal === 'traces') return ExportTraceServiceResponse.encode(ExportTraceServiceResponse.fromObject(fields)).finish();
  if (signal === 'logs') return ExportLogsServiceResponse.encode(ExportLogsServiceResponse.fromObject(fields)).finish();
  return ExportMetricsServiceResponse.encode(ExportMetricsServiceResponse.fromObject(fields)).finish();
}

/** The body of an OTLP/HTTP error answer: a google.rpc.Status in the request's encoding. */
export function statusBody(grpcCode: number, message: string, encoding: Encoding): Uint8Array {
  if (encoding === 'json') return Buffer.from(JSON.stringify({ code: grpcCode, message }));
  return RpcStatus.encode({ code: grpcCode, message }).finish();
}
