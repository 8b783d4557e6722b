import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { joinHostPort, splitHostPort } from '../../src/http/listen-address.js';
import { exportAnswer, statusBody } from './otlp-answers.js';
import { busy, decompressWithin } from './otlp-body.js';
import type { Encoding, Signal } from './otlp-decode.js';
import { encodingOf } from './otlp-decode.js';
import { OtlpError } from './otlp-errors.js';
import type { OtlpDeps } from './otlp-export.js';
import { exportOtlp } from './otlp-export.js';
import type { InFlightBytes } from '../gateway/in-flight-bytes.js';
import type { OtlpBounds } from './otlp-bounds.js';
import { capConnectionsPerSource } from '../../src/net/source-connection-cap.js';

const PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/logs': 'logs', '/v1/metrics': 'metrics' };
const CONTENT_TYPE: Record<Encoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };
// HTTP statuses of the refusals that are not OTLP's own (authentication) as gRPC codes, for the Status body.
const GRPC_OF_HTTP: Record<number, number> = { 401: 16, 403: 7 };

/**
 * The body as sent, refused past `limit` bytes without reading the rest, or
 * when the receivers' shared budget is spent. `hold` is called with each
 * chunk's size as it is taken from the budget (the caller gives it back).
 */
function readBody(req: IncomingMessage, limit: number, inFlight: InFlightBytes, hold: (n: number) => void, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(new OtlpError('OTLP_ERR_BODY_TOO_LARGE', `the body is ${declared} bytes, more than gateway.maxBodyBytes (${limit})`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: OtlpError): void => {
      clearTimeout(deadline);
      req.removeAllListeners('data');
      req.resume();
      reject(err);
    };
    // The body's deadline (Node's headersTimeout bounds the headers before it).
    const deadline = setTimeout(() => stop(new OtlpError('OTLP_ERR_REQUEST_TIMEOUT', `the body did not arrive within ${timeoutMs} ms`)), timeoutMs);
    req.on('data', (chunk: Buffer) => {
      if (size + chunk.length > limit) {
        stop(new OtlpError('OTLP_ERR_BODY_TOO_LARGE', `the body is more than gateway.maxBodyBytes (${limit}) bytes`));
        return;
      }
      if (!inFlight.take(chunk.length)) {
        stop(busy(inFlight));
        return;
      }
      hold(chunk.length);
      size += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(deadline);
      resolve(Buffer.concat(chunks, size));
    });
    const closed = (): void => {
      clearTimeout(deadline);
      reject(new OtlpError('OTLP_ERR_CLIENT_CLOSED'));
    };
    req.on('error', closed);
    req.on('close', () => {
      if (!req.complete) closed();
    });
  });
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
    private readonly bounds: OtlpBounds,
  ) {
    this.server = createServer(
      {
        // Headers must arrive within the request deadline; the body has its own (readBody).
        headersTimeout: bounds.requestTimeoutMs,
        requestTimeout: 0,
        keepAliveTimeout: Math.min(5_000, bounds.idleTimeoutMs),
        connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(bounds.requestTimeoutMs / 4))),
      },
      (req, res) => {
        this.handle(req, res).catch(() => {
          if (!res.headersSent) res.writeHead(500).end();
        });
      },
    );
    this.server.maxConnections = bounds.maxConnections;
    this.server.on('drop', () => this.deps.metrics.refused('otlp_http', 'OTLP_ERR_TOO_MANY_CONNECTIONS', 1));
    capConnectionsPerSource(this.server, bounds.perSource, () => this.deps.metrics.refused('otlp_http', 'GW_ERR_SOURCE_TOO_MANY_CONNECTIONS', 1));
    this.server.on('clientError', (err: Error & { code?: string }, socket: Socket) => this.clientError(err, socket));
  }

  /** A request Node's parser refused (headers too slow, too large, malformed): answered as a google.rpc.Status in JSON, counted, connection closed. */
  private clientError(err: Error & { code?: string }, socket: Socket): void {
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const code = timeout ? 'OTLP_ERR_REQUEST_TIMEOUT' : err.code === 'ECONNRESET' ? 'OTLP_ERR_CLIENT_CLOSED' : 'OTLP_ERR_BODY_MALFORMED';
    this.deps.metrics.refused('otlp_http', code, 1);
    this.deps.otlp.request('http', 'unknown', code);
    if (code === 'OTLP_ERR_CLIENT_CLOSED' || !socket.writable) {
      socket.destroy();
      return;
    }
    const refusal = new OtlpError(
      code,
      timeout ? `the request headers did not arrive within ${this.bounds.requestTimeoutMs} ms` : `malformed HTTP request (${err.code ?? 'parse error'})`,
    );
    const body = Buffer.from(statusBody(refusal.grpcStatus, `${refusal.code}: ${refusal.reason}`, 'json'));
    socket.end(
      `HTTP/1.1 ${refusal.status} ${timeout ? 'Request Timeout' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString()}`,
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const signal = PATHS[path];
    const encoding = encodingOf(req.headers['content-type']) ?? 'json';
    const answer = (status: number, body: Uint8Array, code: string, headers: Record<string, string> = {}): void => {
      this.deps.metrics.request(signal ? path : 'otlp_unknown', status);
      this.deps.otlp.request('http', signal ?? 'unknown', code);
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { 'content-type': CONTENT_TYPE[encoding], 'content-length': String(body.length), ...headers });
      res.end(body);
    };
    const request = { held: 0, inFlight: this.bounds.inFlight };
    try {
      if (!signal || req.method !== 'POST')
        throw new OtlpError('OTLP_ERR_NOT_FOUND', `no OTLP endpoint ${req.method} ${path}: POST /v1/traces, /v1/logs or /v1/metrics`);
      const auth = this.deps.auth.authenticate(req.headers.authorization, 'write', req.headers.host ?? '');
      if (!auth.ok) {
        req.resume();
        this.deps.metrics.refused('otlp_http', auth.code, 1);
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
      const raw = await readBody(req, this.deps.maxBodyBytes, this.bounds.inFlight, (n) => (request.held += n), this.bounds.requestTimeoutMs);
      const body = await decompressWithin(raw, req.headers['content-encoding'], this.deps.maxDecompressedBytes, request);
      const outcome = await exportOtlp(this.deps, 'http', signal, body, encoding, auth.tenant);
      answer(200, exportAnswer(signal, outcome, encoding), outcome.rejected > 0 ? 'PARTIAL' : 'OK');
    } catch (err) {
      // Anything that is not a refusal of the catalog (an allocation failure, a bug) is answered 500 OTLP_ERR_INTERNAL, counted.
      const refusal = err instanceof OtlpError ? err : new OtlpError('OTLP_ERR_INTERNAL', `internal error: ${(err as Error).message}`);
      this.deps.metrics.refused('otlp_http', refusal.code, 1);
      const headers: Record<string, string> = refusal.retriable ? { 'retry-after': String(refusal.retryAfterSeconds) } : {};
      // An unread body is left unread: the answer closes the connection.
      if (!req.complete) headers['connection'] = 'close';
      // A client that went away gets no answer (status 0: never answered).
      if (refusal.status === 0) {
        this.deps.otlp.request('http', signal ?? 'unknown', refusal.code);
        return;
      }
      answer(refusal.status, statusBody(refusal.grpcStatus, `${refusal.code}: ${refusal.reason}`, encoding), refusal.code, headers);
    } finally {
      this.bounds.inFlight.give(request.held);
    }
  }

  listen(): Promise<string> {
    const { host, port } = splitHostPort(this.address);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address() as AddressInfo;
        resolve(`http://${joinHostPort(a.address, a.port)}`);
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
