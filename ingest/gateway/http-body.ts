import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { gatewayError } from './gateway-errors.js';

export type BodyKind = 'protobuf' | 'frames' | 'json';

/** Content types of POST /v1/ssf. */
export const CONTENT_TYPES: Record<string, BodyKind> = {
  'application/x-protobuf': 'protobuf',
  'application/protobuf': 'protobuf',
  'application/vnd.google.protobuf': 'protobuf',
  /** Veneur's framed stream (docs/ssf.md, "Stream framing"): our name for it. */
  'application/x-ssf-frames': 'frames',
  'application/json': 'json',
};

export function bodyKind(contentType: string | undefined): BodyKind | undefined {
  const base = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return CONTENT_TYPES[base];
}

/** A decompressing stream of Node's zlib (gzip, deflate, zstd). */
type Inflater = () => Transform;
// zstd is built into Node from 22.15 / 23.8; on older Node it is refused with a clear code.
const zstdStream: Inflater | undefined =
  'createZstdDecompress' in zlib && typeof zlib.createZstdDecompress === 'function' ? (zlib.createZstdDecompress as () => Transform) : undefined;

export const SUPPORTED_ENCODINGS = ['identity', 'gzip', 'x-gzip', 'deflate', ...(zstdStream ? ['zstd'] : [])];

/**
 * Decompresses a request body, chunk by chunk: it stops as soon as the
 * output passes `maxBytes`, so a decompression bomb costs at most that much
 * memory before it is refused. `onChunk` is called with the size of each
 * output chunk before it is kept (the OTLP receivers take it from their byte
 * budget); an error it throws stops the decompression and is thrown as is.
 */
export async function decompress(body: Buffer, encoding: string | undefined, maxBytes: number, onChunk?: (bytes: number) => void): Promise<Buffer> {
  const e = (encoding ?? 'identity').trim().toLowerCase();
  switch (e) {
    case '':
    case 'identity':
      return body;
    case 'gzip':
    case 'x-gzip':
      return inflate(zlib.createGunzip, body, e, maxBytes, onChunk);
    case 'deflate':
      return inflate(zlib.createInflate, body, e, maxBytes, onChunk);
    case 'zstd':
      if (zstdStream) return inflate(zstdStream, body, e, maxBytes, onChunk);
      throw gatewayError('GW_ERR_CONTENT_ENCODING', `zstd needs Node >= 22.15 (this is ${process.version}); send gzip`);
    default:
      throw gatewayError('GW_ERR_CONTENT_ENCODING', `Content-Encoding "${e}" is not supported: use ${SUPPORTED_ENCODINGS.join(', ')}`);
  }
}

function inflate(create: Inflater, body: Buffer, encoding: string, maxBytes: number, onChunk: ((bytes: number) => void) | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const stream = create();
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      stream.destroy();
      reject(err);
    };
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      if (size + chunk.length > maxBytes) {
        fail(gatewayError('GW_ERR_DECOMPRESSED_TOO_LARGE', `the body decompresses to more than ${maxBytes} bytes; decompression was stopped there`));
        return;
      }
      try {
        onChunk?.(chunk.length);
      } catch (err) {
        fail(err);
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    });
    stream.on('error', (err) => fail(gatewayError('GW_ERR_DECOMPRESSION_FAILED', `the body is not valid ${encoding} data: ${err.message}`)));
    stream.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    stream.end(body);
  });
}
