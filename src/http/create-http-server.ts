import { randomUUID } from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Socket } from 'node:net';
import { HttpErrors } from './http-errors.js';

/** A refusal any route can throw: the error handler answers `{ error: { code, reason } }` with `status`. */
export interface HttpRefusal {
  status: number;
  code: string;
  reason: string;
  retryAfterSeconds?: number | undefined;
  /** Extra fields for the body (e.g. the rejected spans of a batch). */
  details?: Record<string, unknown>;
}

export function isHttpRefusal(err: unknown): err is HttpRefusal {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as HttpRefusal).status === 'number' &&
    // A catalog error that is never an HTTP answer (status 0) is not a refusal: it is answered as internal.
    (err as HttpRefusal).status >= 400 &&
    typeof (err as HttpRefusal).code === 'string' &&
    typeof (err as HttpRefusal).reason === 'string'
  );
}

// fastify's own errors, in our shape.
const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'GW_ERR_CONTENT_TYPE' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'GW_ERR_BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'HTTP_ERR_BAD_REQUEST' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'HTTP_ERR_BAD_REQUEST' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'HTTP_ERR_BAD_REQUEST' },
};

/**
 * fastify's 415 says only "Unsupported Media Type". The usual cause is
 * `curl -d` without `-H 'content-type: ...'` (curl then sends a form type):
 * the reason names the type received and what to send instead.
 */
function mediaTypeReason(contentType: string | undefined): string {
  const given = contentType === undefined || contentType === '' ? 'no Content-Type' : `Content-Type ${JSON.stringify(contentType.slice(0, 100))}`;
  return `${given} is not accepted here: send the type the endpoint documents, e.g. -H 'content-type: application/json' (curl -d sends application/x-www-form-urlencoded unless told otherwise)`;
}

/** Any error thrown in a route, as the refusal the client gets (`contentType`: the request's, for a 415's reason). */
export function refusalOf(err: unknown, contentType?: string): HttpRefusal {
  if (isHttpRefusal(err)) return err;
  const fastifyCode = (err as { code?: string }).code;
  const mapped = fastifyCode ? FASTIFY_CODES[fastifyCode] : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (mapped) return { ...mapped, reason: fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? mediaTypeReason(contentType) : message };
  const status = (err as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) return { status, code: 'HTTP_ERR_BAD_REQUEST', reason: message };
  return { status: 500, code: 'HTTP_ERR_INTERNAL', reason: HttpErrors.entries.HTTP_ERR_INTERNAL.text };
}

/** Node's parser errors, as status and reason. */
const CLIENT_ERRORS: Record<string, { status: number; text: string; reason: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, text: 'Request Header Fields Too Large', reason: 'the request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, text: 'Request Timeout', reason: 'the request took too long to arrive' },
};

/**
 * A request Node's HTTP parser refused before fastify saw it (a malformed
 * Content-Length, a bad header, a timeout): answered in the one error shape,
 * then the connection is closed (its framing can no longer be trusted).
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const known = CLIENT_ERRORS[err.code ?? ''];
  const status = known?.status ?? 400;
  const body = JSON.stringify({
    error: {
      code: 'HTTP_ERR_BAD_REQUEST',
      reason: known?.reason ?? `malformed HTTP request (${err.code ?? 'parse error'}): check Content-Length, Transfer-Encoding and the headers`,
    },
  });
  socket.end(
    `HTTP/1.1 ${status} ${known?.text ?? 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** `gateway.httpRequestTimeoutS`'s default, for servers made without it. */
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** fastify's default maxParamLength: a longer path parameter is refused 414 before any route. */
const MAX_PARAM_LENGTH = 100;

export interface HttpServerOptions {
  /** JSON logs (pino, through fastify) at this level; false for none. One line per request: refused ones at info, the rest at debug. */
  logLevel: 'debug' | 'info' | 'warn' | 'error' | false;
  /** Largest request body, compressed (fastify's bodyLimit). */
  bodyLimit: number;
  /** The time a request may take to arrive whole, headers and body (`gateway.httpRequestTimeoutS`; default 60 s). */
  requestTimeoutMs?: number;
  /** Where the log lines go (default: stdout). */
  logStream?: { write(line: string): void };
  /** Words added to a 404's reason for a request that belongs on another listener (e.g. OTLP/HTTP sent to this port); undefined for none. */
  notFoundHint?: (method: string, path: string) => string | undefined;
}

/**
 * The HTTP server of every process: JSON logs with request ids (taken from
 * `X-Request-Id` or generated, and echoed back), one error shape for every
 * refusal, `/-/healthy`. Routes are added by the gateway and the query API;
 * in all-in-one mode both share this one server.
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    // fastify turns Node's request deadline off (0): a body that never ended
    // held its buffer (up to bodyLimit) and its connection for ever. Node
    // checks it every connectionsCheckingInterval (a quarter of it here), and
    // only while headersTimeout is not longer than it (Node's own default).
    requestTimeout: requestTimeoutMs,
    http: {
      headersTimeout: Math.min(60_000, requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeoutMs / 4))),
    },
    logger: options.logLevel === false ? false : { level: options.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) },
    bodyLimit: options.bodyLimit,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    },
    // Our own 503 while closing (below), in the one error shape; and malformed
    // requests that never reach fastify's router (a bad Content-Length, an
    // oversized header) answered in that shape too, not in Node's or fastify's.
    return503OnClosing: false,
    clientErrorHandler: answerClientError,
    // fastify's own two lines per request ("incoming request", "request
    // completed") drown a terminal and cost CPU under load: one line instead,
    // written below.
    logController: new LogController({ disableRequestLogging: true }),
    // URLs the router refuses before any route (a bad percent-escape, a path
    // parameter past maxParamLength): fastify answered these in its own shape,
    // without our code or request id. The reason is ours: fastify's repeats
    // the whole path, which may be 8 KiB.
    frameworkErrors: (err, request, reply) => {
      const reason =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? `a path segment is longer than ${MAX_PARAM_LENGTH} characters`
          : err.code === 'FST_ERR_BAD_URL'
            ? 'the path is not a valid url component (a malformed percent-escape)'
            : err.message;
      // Sent outside any route: the hooks (x-request-id, the request's log line) do not run for it.
      const plain: FastifyReply = reply;
      const status = err.statusCode ?? 400;
      const code = status >= 500 ? 'HTTP_ERR_INTERNAL' : 'HTTP_ERR_BAD_REQUEST';
      void plain.header('x-request-id', request.id).status(status).send({ error: { code, reason } });
      request.log.info({ method: request.method, url: request.url.slice(0, 200), status: plain.statusCode, code: err.code }, 'request refused');
    },
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close').header('retry-after', '1');
    return reply.status(503).send({ error: { code: 'HTTP_ERR_SHUTTING_DOWN', reason: HttpErrors.entries.HTTP_ERR_SHUTTING_DOWN.text } });
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // One line per request: at info when it was refused (4xx, 5xx), at debug otherwise.
  app.addHook('onResponse', async (request, reply) => {
    const line = { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (reply.statusCode >= 400) request.log.info(line, 'request refused');
    else request.log.debug(line, 'request');
  });
  app.setErrorHandler((err, request, reply) => {
    const r = refusalOf(err, request.headers['content-type']);
    if (r.retryAfterSeconds !== undefined) reply.header('retry-after', String(r.retryAfterSeconds));
    if (r.status === 500) request.log.error({ err }, 'internal error');
    else if (r.status > 500) request.log.warn({ code: r.code, reason: r.reason }, 'refused');
    return reply.status(r.status).send({ error: { code: r.code, reason: r.reason }, ...(r.details ?? {}) });
  });
  app.setNotFoundHandler((request, reply) => {
    const hint = options.notFoundHint?.(request.method, request.url.split('?')[0] ?? '');
    void reply.status(404).send({ error: { code: 'HTTP_ERR_NOT_FOUND', reason: `no route ${request.method} ${request.url}${hint ? `: ${hint}` : ''}` } });
  });
  app.get('/-/healthy', async () => ({ status: 'ok' }));
  return app;
}
