import { GatewayErrors } from '../gateway/gateway-errors.js';
import { decompress } from '../gateway/http-body.js';
import type { InFlightBytes } from '../gateway/in-flight-bytes.js';
import { OtlpError } from './otlp-errors.js';

/** The bytes of one request in the receivers' budget: those taken so far, and how to take more. */
export interface HeldBytes {
  /** Bytes of the budget this request holds (its body as sent, so far). */
  held: number;
  inFlight: InFlightBytes;
}

export function busy(inFlight: InFlightBytes): OtlpError {
  return new OtlpError('OTLP_ERR_BUSY', `the OTLP receivers already hold ${inFlight.bytes} bytes of requests (gateway.otlpMaxInFlightBytes ${inFlight.limit})`);
}

/**
 * An OTLP body (HTTP, or a gRPC message) decompressed within the receivers'
 * byte budget: a request counts as the larger of its body as sent and
 * decompressed, taken chunk by chunk as it inflates. Before, only the bytes
 * as sent counted, so requests of a few KiB inflating to
 * gateway.maxDecompressedBytes each held gigabytes between them within the
 * budget. Past what is left of the budget: OTLP_ERR_BUSY (retriable); past
 * the whole budget or gateway.maxDecompressedBytes: OTLP_ERR_BODY_TOO_LARGE
 * (no retry could fit it). Memory held is at most twice the budget (a body
 * as sent and decompressed both live until the export is answered).
 */
export async function decompressWithin(body: Buffer, encoding: string | undefined, maxDecompressedBytes: number, request: HeldBytes): Promise<Buffer> {
  const limit = Math.min(maxDecompressedBytes, request.inFlight.limit);
  try {
    return await decompress(
      body,
      encoding,
      limit,
      request.inFlight.inflation(request, () => busy(request.inFlight)),
    );
  } catch (err) {
    if (!GatewayErrors.has(err)) throw err;
    if (err.code === 'GW_ERR_DECOMPRESSED_TOO_LARGE')
      throw new OtlpError(
        'OTLP_ERR_BODY_TOO_LARGE',
        `the body decompresses to more than ${limit} bytes (gateway.maxDecompressedBytes, or gateway.otlpMaxInFlightBytes when smaller); decompression was stopped there`,
      );
    if (err.code === 'GW_ERR_CONTENT_ENCODING') throw new OtlpError('OTLP_ERR_CONTENT_TYPE', err.reason);
    throw new OtlpError('OTLP_ERR_BODY_MALFORMED', err.reason);
  }
}
