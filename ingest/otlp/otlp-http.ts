import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { splitHostPort } from '../../src/http/listen-address.js';
import { GatewayErrors } from '../gateway/gateway-errors.js';
import { decompress } from '../gateway/http-body.js';
import { exportAnswer, statusBody } from './otlp-answers.js';
import type { Encoding, Signal } from './otlp-decode.js';
import { encodingOf } from './otlp-decode.js';
import { OtlpError } from './otlp-errors.js';
import type { OtlpDeps } from './otlp-export.js';
import { exportOtlp } from './otlp-export.js';

const PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/logs': 'logs', '/v1/metrics': 'metrics' };
const CONTENT_TYPE: Record<Encoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };
// HTTP statuses of the refusals that are not OTLP's own (authentication) as gRPC codes, for the Status body.
const GRPC_OF_HTTP: Record<number, number> = { 401: 16, 403: 7 };

/** The body as sent, refused past `limit` bytes without reading the rest. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(new OtlpError('OTLP_ERR_BODY_TOO_LARGE', `the body is ${declared} bytes, more than gateway.maxBodyBytes (${limit})`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new OtlpError('OTLP_ERR_BODY_TOO_LARGE', `the body is more than gateway.maxBodyBytes (${limit}) bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** gzip/deflate/zstd as POST /v1/ssf takes them, with the gateway's refusals as OTLP's. */
async function decompressed(body: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  try {
    return await decompress(body, encoding, limit);
  } catch (err) {
    if (!GatewayErrors.has(err)) throw err;
    if (err.code === 'GW_ERR_DECOMPRESSED_TOO_LARGE') throw new OtlpError('OTLP_ERR_BODY_TOO_LARGE', err.reason);
    if (err.code === 'GW_ERR_CONTENT_ENCODING') throw new OtlpError('OTLP_ERR_CONTENT_TYPE', err.reason);
    throw new OtlpError('OTLP_ERR_BODY_MALFORMED', err.reason);
  }
}

/**
 * OTLP/HTTP (the specification's port 4318): POST /v1/traces, /v1/logs,
 * /v1/metrics with binary protobuf or JSON, optionally gzip. Success is 200
 * with the export answer (partial_success when items were refused); a bad
 * body 400, an oversize one 413, a wrong content type 415; 429 or 503 with
 * Retry-After when the sink cannot take the data. Error bodies are
 * google.rpc.Status in the request's encoding.
 */
export class OtlpHttpListener {
  private readonly server: Server;

  constructor(
    private readonly address: string,
    private readonly deps: OtlpDeps,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const signal = PATHS[path];
    const encoding = encodingOf(req.headers['content-type']) ?? 'json';
    const answer = (status: number, body: Uint8Array, code: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': CONTENT_TYPE[encoding], 'content-length': String(body.length), ...headers });
      res.end(body);
      this.deps.metrics.request(signal ? path : 'otlp_unknown', status);
      this.deps.otlp.request('http', signal ?? 'unknown', code);
    };
    try {
      if (!signal || req.method !== 'POST')
        throw new OtlpError('OTLP_ERR_NOT_FOUND', `no OTLP endpoint ${req.method} ${path}: POST /v1/traces, /v1/logs or /v1/metrics`);
      const auth = this.deps.auth.authenticate(req.headers.authorization, 'write');
      if (!auth.ok) {
        req.resume();
        answer(auth.status, statusBody(GRPC_OF_HTTP[auth.status] ?? 16, `${auth.code}: ${auth.reason}`, encoding), auth.code);
        return;
      }
      if (!encodingOf(req.headers['content-type'])) {
        req.resume();
        throw new OtlpError(
          'OTLP_ERR_CONTENT_TYPE',
          `Content-Type "${req.headers['content-type'] ?? ''}" is not OTLP's: use application/x-protobuf or application/json`,
        );
      }
      const raw = await readBody(req, this.deps.maxBodyBytes);
      const body = await decompressed(raw, req.headers['content-encoding'], this.deps.maxDecompressedBytes);
      const outcome = await exportOtlp(this.deps, 'http', signal, body, encoding, auth.tenant);
      answer(200, exportAnswer(signal, outcome, encoding), outcome.rejected > 0 ? 'PARTIAL' : 'OK');
    } catch (err) {
      if (!(err instanceof OtlpError)) throw err;
      if (signal) this.deps.metrics.refused('otlp_http', err.code, 1);
      const headers: Record<string, string> = err.retriable ? { 'retry-after': String(err.retryAfterSeconds) } : {};
      // An unread body is left unread: the answer closes the connection.
      if (!req.complete) headers['connection'] = 'close';
      answer(err.status, statusBody(err.grpcStatus, `${err.code}: ${err.reason}`, encoding), err.code, headers);
    }
  }

  listen(): Promise<string> {
    const { host, port } = splitHostPort(this.address);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address() as AddressInfo;
        resolve(`http://${a.address}:${a.port}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
