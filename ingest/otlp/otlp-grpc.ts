import { createServer, constants } from 'node:http2';
import type { Http2Server, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import { joinHostPort, splitHostPort } from '../../src/http/listen-address.js';
import { exportAnswer } from './otlp-answers.js';
import { busy, decompressWithin } from './otlp-body.js';
import type { HeldBytes } from './otlp-body.js';
import type { Signal } from './otlp-decode.js';
import { OtlpError } from './otlp-errors.js';
import type { OtlpDeps } from './otlp-export.js';
import { exportOtlp } from './otlp-export.js';
import type { OtlpBounds } from './otlp-bounds.js';
import { capConnectionsPerSource } from '../../src/net/source-connection-cap.js';

/** The three OTLP services' one method each (opentelemetry-proto collector/*). */
const METHODS: Record<string, Signal> = {
  '/opentelemetry.proto.collector.trace.v1.TraceService/Export': 'traces',
  '/opentelemetry.proto.collector.logs.v1.LogsService/Export': 'logs',
  '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export': 'metrics',
};
// gRPC status codes.
const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;

/**
 * google.rpc.Status with one google.rpc.RetryInfo detail (retry_delay in
 * seconds): what OTLP's gRPC clients read for how long to back off.
 */
function retryStatus(code: number, message: string, retryAfterSeconds: number): Buffer {
  const delay = protobuf.Writer.create().uint32(8).int64(retryAfterSeconds).finish();
  const retryInfo = protobuf.Writer.create().uint32(10).bytes(delay).finish();
  const any = protobuf.Writer.create().uint32(10).string('type.googleapis.com/google.rpc.RetryInfo').uint32(18).bytes(retryInfo).finish();
  return Buffer.from(protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).uint32(26).bytes(any).finish());
}

/** The request message of a unary call: one length-prefixed message (5-byte header), maybe gzip-compressed. */
async function unaryMessage(body: Buffer, encoding: string | undefined, limit: number, request: HeldBytes): Promise<Buffer> {
  if (body.length < 5) throw new OtlpError('OTLP_ERR_BODY_MALFORMED', 'the gRPC message is shorter than its 5-byte prefix');
  const flag = body[0] as number;
  // The specification allows 0 and 1 only; grpc-go answers anything else INTERNAL ("unexpected payload format").
  if (flag > 1) throw new OtlpError('OTLP_ERR_GRPC_FRAME', `the gRPC message's compressed flag is ${flag}: it must be 0 or 1`);
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) throw new OtlpError('OTLP_ERR_BODY_MALFORMED', `the gRPC message says ${length} bytes and has ${body.length - 5}`);
  const message = body.subarray(5);
  if (flag === 0) return message;
  if ((encoding ?? 'identity') !== 'gzip') throw new OtlpError('OTLP_ERR_CONTENT_TYPE', `grpc-encoding "${encoding ?? ''}" is not supported: use gzip or none`);
  return decompressWithin(message, 'gzip', limit, request);
}

/**
 * OTLP/gRPC (the specification's port 4317) on node:http2, with no gRPC
 * library: a unary call is HTTP/2 POST of one length-prefixed protobuf
 * message, answered with one and the `grpc-status` trailer. Refusals:
 * INVALID_ARGUMENT for a bad message, RESOURCE_EXHAUSTED (buffer full) or
 * UNAVAILABLE (sink down) with google.rpc.RetryInfo when the data could not
 * be taken, UNAUTHENTICATED / PERMISSION_DENIED for tokens.
 *
 * Bounds (OtlpBounds): connections, streams per connection, bytes held across
 * all streams, a deadline per call until its message is read, and an idle
 * time after which a connection with no call open is closed.
 */
export class OtlpGrpcListener {
  private readonly server: Http2Server;
  private readonly streams = new Set<ServerHttp2Stream>();
  private readonly sessions = new Set<Http2Session>();

  constructor(
    private readonly address: string,
    private readonly deps: OtlpDeps,
    private readonly bounds: OtlpBounds,
  ) {
    this.server = createServer({ maxSessionMemory: 64, settings: { maxConcurrentStreams: bounds.maxConcurrentStreams } });
    this.server.maxConnections = bounds.maxConnections;
    this.server.on('drop', () => this.deps.metrics.refused('otlp_grpc', 'OTLP_ERR_TOO_MANY_CONNECTIONS', 1));
    capConnectionsPerSource(this.server, bounds.perSource, () => this.deps.metrics.refused('otlp_grpc', 'GW_ERR_SOURCE_TOO_MANY_CONNECTIONS', 1));
    this.server.on('session', (session) => this.onSession(session));
    this.server.on('stream', (stream, headers) => {
      this.streams.add(stream);
      stream.on('close', () => this.streams.delete(stream));
      this.handle(stream, headers).catch(() => {
        // handle() answers every error itself; this is the last resort.
        if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      });
    });
  }

  /** A session with no stream open for bounds.idleTimeoutMs is closed, whether it ever sent one or not (PINGs do not count). */
  private onSession(session: Http2Session): void {
    this.sessions.add(session);
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      idle = setTimeout(() => {
        session.close();
        // A peer that does not answer the GOAWAY is cut.
        setTimeout(() => session.destroy(), 1000).unref();
      }, this.bounds.idleTimeoutMs);
      idle.unref();
    };
    arm();
    session.on('stream', (stream: ServerHttp2Stream) => {
      open++;
      clearTimeout(idle);
      stream.on('close', () => {
        if (--open === 0 && !session.closed && !session.destroyed) arm();
      });
    });
    session.on('error', () => {});
    session.on('close', () => {
      clearTimeout(idle);
      this.sessions.delete(session);
    });
  }

  private refuse(stream: ServerHttp2Stream, signal: string, code: number, codeName: string, message: string, details?: Buffer): void {
    this.deps.otlp.request('grpc', signal, codeName);
    if (stream.destroyed || stream.headersSent) return;
    const trailersOnly: Record<string, string | number> = {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(code),
      'grpc-message': encodeURIComponent(message),
    };
    if (details) trailersOnly['grpc-status-details-bin'] = details.toString('base64').replace(/=+$/, '');
    stream.respond(trailersOnly, { endStream: true });
  }

  /** Every refusal: counted under its code, answered with its gRPC status (and RetryInfo when a retry can help). */
  private refuseWith(stream: ServerHttp2Stream, signal: string, err: OtlpError): void {
    this.deps.metrics.refused('otlp_grpc', err.code, 1);
    const details = err.retriable ? retryStatus(err.grpcStatus, err.reason, err.retryAfterSeconds ?? 1) : undefined;
    this.refuse(stream, signal, err.grpcStatus, err.code, `${err.code}: ${err.reason}`, details);
  }

  private async handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const path = String(headers[':path'] ?? '');
    const signal = METHODS[path] ?? 'unknown';
    const request: HeldBytes = { held: 0, inFlight: this.bounds.inFlight };
    // Rejects the message while it is being read (set only then).
    let fail: ((err: OtlpError) => void) | undefined;
    // The call's deadline until its message is read: then it is refused; a call
    // refused earlier (its data left unread, no longer held) is cut if the client keeps it open.
    const deadline = setTimeout(() => {
      fail?.(new OtlpError('OTLP_ERR_REQUEST_TIMEOUT', `the message did not arrive within ${this.bounds.requestTimeoutMs} ms`));
      // A reset sent at once can overtake the answer's HEADERS (the client then sees no
      // grpc-status): the client has a second to end the call itself.
      setTimeout(() => {
        if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
      }, 1000).unref();
    }, this.bounds.requestTimeoutMs);
    stream.on('close', () => clearTimeout(deadline));
    try {
      if (signal === 'unknown') {
        stream.resume();
        throw new OtlpError('OTLP_ERR_NOT_FOUND', `unknown method ${path}`);
      }
      const auth = this.deps.auth.authenticate(headers.authorization as string | undefined, 'write');
      if (!auth.ok) {
        stream.resume();
        this.deps.metrics.refused('otlp_grpc', auth.code, 1);
        this.refuse(stream, signal, auth.status === 403 ? PERMISSION_DENIED : UNAUTHENTICATED, auth.code, `${auth.code}: ${auth.reason}`);
        return;
      }
      const contentType = String(headers['content-type'] ?? '');
      if (!contentType.startsWith('application/grpc')) throw new OtlpError('OTLP_ERR_CONTENT_TYPE', `content-type "${contentType}" is not application/grpc`);
      const body = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        fail = (err: OtlpError): void => {
          fail = undefined;
          stream.removeAllListeners('data');
          stream.resume();
          reject(err);
        };
        if (stream.destroyed) fail(new OtlpError('OTLP_ERR_CLIENT_CLOSED'));
        stream.on('data', (chunk: Buffer) => {
          if (request.held + chunk.length > this.deps.maxBodyBytes + 5) {
            fail?.(new OtlpError('OTLP_ERR_BODY_TOO_LARGE', `the message is more than gateway.maxBodyBytes (${this.deps.maxBodyBytes}) bytes`));
            return;
          }
          if (!this.bounds.inFlight.take(chunk.length)) {
            fail?.(busy(this.bounds.inFlight));
            return;
          }
          request.held += chunk.length;
          chunks.push(chunk);
        });
        // A stream reset by the client also ends its readable side first ('end', then 'aborted'): look once the events are out.
        stream.on('end', () =>
          setImmediate(() => {
            if (stream.aborted || stream.rstCode) {
              fail?.(new OtlpError('OTLP_ERR_CLIENT_CLOSED'));
              return;
            }
            fail = undefined;
            clearTimeout(deadline);
            resolve(Buffer.concat(chunks, request.held));
          }),
        );
        stream.on('error', () => fail?.(new OtlpError('OTLP_ERR_CLIENT_CLOSED')));
        stream.on('close', () => fail?.(new OtlpError('OTLP_ERR_CLIENT_CLOSED')));
      });
      const message = await unaryMessage(body, headers['grpc-encoding'] as string | undefined, this.deps.maxDecompressedBytes, request);
      const outcome = await exportOtlp(this.deps, 'grpc', signal, message, 'protobuf', auth.tenant);
      if (stream.destroyed) return;
      const answer = exportAnswer(signal, outcome, 'protobuf');
      const framed = Buffer.alloc(5 + answer.length);
      framed.writeUInt32BE(answer.length, 1);
      framed.set(answer, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(framed);
      this.deps.otlp.request('grpc', signal, outcome.rejected > 0 ? 'PARTIAL' : 'OK');
    } catch (err) {
      // Anything that is not a refusal of the catalog (an allocation failure, a bug) is INTERNAL, counted, with its grpc-status.
      const refusal = err instanceof OtlpError ? err : new OtlpError('OTLP_ERR_INTERNAL', `internal error: ${(err as Error).message}`);
      this.refuseWith(stream, signal, refusal);
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
        resolve(joinHostPort(a.address, a.port));
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.streams) s.close(constants.NGHTTP2_CANCEL);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.destroy();
    return closed;
  }
}
