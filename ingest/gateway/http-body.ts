import { promisify } from 'node:util';
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

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
type Decompress = (buf: Buffer, options: zlib.ZlibOptions & { maxOutputLength: number }) => Promise<Buffer>;
// zstd is built into Node from 22.15 / 23.8; on older Node it is refused with a clear code.
const zstdDecompress: Decompress | undefined =
  'zstdDecompress' in zlib && typeof zlib.zstdDecompress === 'function'
    ? (promisify(zlib.zstdDecompress as (b: Buffer, o: object, cb: (e: Error | null, r: Buffer) => void) => void) as Decompress)
    : undefined;

export const SUPPORTED_ENCODINGS = ['identity', 'gzip', 'x-gzip', 'deflate', ...(zstdDecompress ? ['zstd'] : [])];

/**
 * Decompresses a request body. `maxOutputLength` makes zlib stop as soon as
 * the output passes the limit, so a decompression bomb costs at most that
 * much memory before it is refused.
 */
export async function decompress(body: Buffer, encoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const e = (encoding ?? 'identity').trim().toLowerCase();
  const options = { maxOutputLength: maxBytes };
  const run = async (fn: Decompress): Promise<Buffer> => {
    try {
      return await fn(body, options);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        throw gatewayError('GW_ERR_DECOMPRESSED_TOO_LARGE', `the body decompresses to more than ${maxBytes} bytes; decompression was stopped there`);
      }
      throw gatewayError('GW_ERR_DECOMPRESSION_FAILED', `the body is not valid ${e} data: ${(err as Error).message}`);
    }
  };
  switch (e) {
    case '':
    case 'identity':
      return body;
    case 'gzip':
    case 'x-gzip':
      return run(gunzip as Decompress);
    case 'deflate':
      return run(inflate as Decompress);
    case 'zstd':
      if (zstdDecompress) return run(zstdDecompress);
      throw gatewayError('GW_ERR_CONTENT_ENCODING', `zstd needs Node >= 22.15 (this is ${process.version}); send gzip`);
    default:
      throw gatewayError('GW_ERR_CONTENT_ENCODING', `Content-Encoding "${e}" is not supported: use ${SUPPORTED_ENCODINGS.join(', ')}`);
  }
}
