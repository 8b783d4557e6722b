import { createServer, constants } from 'node:http2';
import type { Http2Server, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import protobuf from 'protobufjs/minimal.js';
import { splitHostPort } from '../../src/http/listen-address.js';
import { exportAnswer } from './otlp-answers.js';
import type { Signal } from './otlp-decode.js';
import { OtlpError } from './otlp-errors.js';
import type { OtlpDeps } from './otlp-export.js';
import { exportOtlp } from './otlp-export.js';

/** The three OTLP services' one method each (opentelemetry-proto collector/*). */
const METHODS: Record<string, Signal> = {
  '/opentelemetry.proto.collector.trace.v1.TraceService/Export': 'traces',
  '/opentelemetry.proto.collector.logs.v1.LogsService/Export': 'logs',
  '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export': 'metrics',
};
// gRPC status codes.
const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;

const gunzip = promisify(zlib.gunzip);

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
async function unaryMessage(body: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  if (body.length < 5) throw new OtlpError('OTLP_ERR_BODY_MALFORMED', 'the gRPC message is shorter than its 5-byte prefix');
  const compressed = body[0] === 1;
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) throw new OtlpError('OTLP_ERR_BODY_MALFORMED', `the gRPC message says ${length} bytes and has ${body.length - 5}`);
  const message = body.subarray(5);
  if (!compressed) return message;
  if ((encoding ?? 'identity') !== 'gzip') throw new OtlpError('OTLP_ERR_CONTENT_TYPE', `grpc-encoding "${encoding ?? ''}" is not supported: use gzip or none`);
  try {
    return await gunzip(message, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
      throw new OtlpError('OTLP_ERR_BODY_TOO_LARGE', `the message decompresses to more than gateway.maxDecompressedBytes (${limit})`);
    throw new OtlpError('OTLP_ERR_BODY_MALFORMED', `the message is not valid gzip: ${(err as Error).message}`);
  }
}

/**
 * OTLP/gRPC (the specification's port 4317) on node:http2, with no gRPC
 * library: a unary call is HTTP/2 POST of one length-prefixed protobuf
 * message, answered with one and the `grpc-status` trailer. Refusals:
 * INVALID_ARGUMENT for a bad message, RESOURCE_EXHAUSTED (buffer full) or
 * UNAVAILABLE (sink down) with google.rpc.RetryInfo when the data could not
 * be taken, UNAUTHENTICATED / PERMISSION_DENIED for tokens.
 */
export class OtlpGrpcListener {
  private readonly server: Http2Server;
  private readonly streams = new Set<ServerHttp2Stream>();
  private readonly sessions = new Set<Http2Session>();

  constructor(
    private readonly address: string,
    private readonly deps: OtlpDeps,
  ) {
    this.server = createServer({ maxSessionMemory: 64 });
    this.server.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
    });
    this.server.on('stream', (stream, headers) => {
      this.streams.add(stream);
      stream.on('close', () => this.streams.delete(stream));
      this.handle(stream, headers).catch(() => {
        if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      });
    });
  }

  private refuse(stream: ServerHttp2Stream, signal: string, code: number, codeName: string, message: string, details?: Buffer): void {
    if (stream.destroyed) return;
    const trailersOnly: Record<string, string | number> = {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(code),
      'grpc-message': encodeURIComponent(message),
    };
    if (details) trailersOnly['grpc-status-details-bin'] = details.toString('base64').replace(/=+$/, '');
    stream.respond(trailersOnly, { endStream: true });
    this.deps.otlp.request('grpc', signal, codeName);
  }

  private async handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const path = String(headers[':path'] ?? '');
    const signal = METHODS[path];
    if (!signal) {
      stream.resume();
      this.refuse(stream, 'unknown', 12, 'OTLP_ERR_NOT_FOUND', `unknown method ${path}`);
      return;
    }
    const auth = this.deps.auth.authenticate(headers.authorization as string | undefined, 'write');
    if (!auth.ok) {
      stream.resume();
      this.refuse(stream, signal, auth.status === 403 ? PERMISSION_DENIED : UNAUTHENTICATED, auth.code, `${auth.code}: ${auth.reason}`);
      return;
    }
    try {
      const contentType = String(headers['content-type'] ?? '');
      if (!contentType.startsWith('application/grpc')) throw new OtlpError('OTLP_ERR_CONTENT_TYPE', `content-type "${contentType}" is not application/grpc`);
      const body = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.deps.maxBodyBytes + 5) {
            stream.removeAllListeners('data');
            reject(new OtlpError('OTLP_ERR_BODY_TOO_LARGE', `the message is more than gateway.maxBodyBytes (${this.deps.maxBodyBytes}) bytes`));
            return;
          }
          chunks.push(chunk);
        });
        stream.on('end', () => resolve(Buffer.concat(chunks, size)));
        stream.on('error', reject);
      });
      const message = await unaryMessage(body, headers['grpc-encoding'] as string | undefined, this.deps.maxDecompressedBytes);
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
      if (!(err instanceof OtlpError)) throw err;
      this.deps.metrics.refused('otlp_grpc', err.code, 1);
      const details = err.retriable ? retryStatus(err.grpcStatus, err.reason, err.retryAfterSeconds ?? 1) : undefined;
      this.refuse(stream, signal, err.grpcStatus, err.code, `${err.code}: ${err.reason}`, details);
    }
  }

  listen(): Promise<string> {
    const { host, port } = splitHostPort(this.address);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address() as AddressInfo;
        resolve(`${a.address}:${a.port}`);
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
