import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TenantAuth } from '../../src/auth/tenants.js';
import { CodecError } from '../../src/codec/errors.js';
import { decodeFrames } from '../../src/codec/framing.js';
import { splitBatch } from '../../src/codec/protobuf.js';
import type { BatchRejection } from '../../src/codec/span-codec.js';
import type { SpanSink } from '../sink/span-sink.js';
import { AuthErrors } from '../../src/auth/auth-errors.js';
import { GatewayErrors, gatewayError } from './gateway-errors.js';
import { dropReason, SinkErrors } from '../sink/sink-errors.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { InFlightBytes } from './in-flight-bytes.js';
import { bodyKind, CONTENT_TYPES, decompress } from './http-body.js';
import { parseJsonBatch } from './json-batch.js';
import type { SpanIntake } from './span-intake.js';
import { packOf } from './span-intake.js';
import { RecentKeys } from './recent-keys.js';
import type { TenantRateLimit } from './tenant-rate-limit.js';
import { bodyDigestOf, keyIdOf, requestIdOf, validIdempotencyKey } from '../../src/kafka/record-identity.js';
import { nowNs } from '../../src/emitter/clock.js';
import { refusalOf } from '../../src/http/create-http-server.js';
import { processMetrics } from '../../src/observability/process-metrics.js';

export interface IngestDeps {
  auth: TenantAuth;
  intake: SpanIntake;
  sink: SpanSink;
  metrics: GatewayMetrics;
  maxDecompressedBytes: number;
  /** Request bytes POST /v1/ssf holds at once (`gateway.httpMaxInFlightBytes`). */
  inFlight: InFlightBytes;
  /** The OTLP listeners' budget (`gateway.otlpMaxInFlightBytes`), shown on /metrics. */
  otlpInFlight: InFlightBytes;
  /** Per-tenant ingest rate limit (when authentication is required). */
  limits?: TenantRateLimit | undefined;
}

/** The answer to a batch: how many spans were kept, and every refusal with its index. */
export interface BatchAnswer {
  accepted: number;
  events: number;
  rejected: BatchRejection[];
  partial: BatchRejection[];
}

/**
 * POST /v1/ssf: an SSFBatch (protobuf), Veneur's framed stream, or proto3
 * JSON; optionally gzip/deflate/zstd. Valid spans are kept even when others
 * in the batch are refused (each refusal is listed with its index and code);
 * 200 is answered only after the sink acknowledged them, 503 with
 * Retry-After when it could not (then nothing of the batch counts as
 * accepted: the client retries the whole batch). A retry is stored once
 * when the request carries an `Idempotency-Key` (echoed in the answer): its
 * spans are written under names derived from the tenant, the key and the
 * body's digest, which ClickHouse deduplicates; the same key with another
 * body is refused when this gateway remembers the key, and stored in full
 * otherwise (docs/architecture.md, "Duplicates from retries").
 */
export function registerIngestRoutes(app: FastifyInstance, deps: IngestDeps): void {
  if (!app.hasRequestDecorator('tenant')) app.decorateRequest('tenant', '');
  if (!app.hasRequestDecorator('held')) app.decorateRequest('held', null);
  const recent = new RecentKeys();
  for (const type of Object.keys(CONTENT_TYPES)) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) =>
      done(null, body),
    );
  }

  app.post(
    '/v1/ssf',
    {
      onRequest: async (request) => {
        const auth = deps.auth.authenticate(request.headers.authorization, 'write', request.headers.host ?? '');
        if (!auth.ok) throw AuthErrors.error(auth.code, auth.reason);
        request.tenant = auth.tenant;
        request.held = { held: 0 };
      },
      // The body counts in the budget from its first byte, as it is read: a tenant's
      // slow bodies on many connections cannot each hold gateway.maxBodyBytes unseen.
      preParsing: async (request, _reply, payload) => countedBody(payload, request.held, deps.inFlight, busy),
      // The request's bytes go back to the budget once it is answered, or given up on
      // (release is idempotent: it gives back what is held and zeroes it).
      onResponse: async (request) => release(request),
      onRequestAbort: async (request) => release(request),
      // Every refusal of a request is counted here, under the code the client got.
      onError: async (_request, _reply, err) => {
        deps.metrics.refused('http', refusalOf(err).code, 1);
      },
    },
    async (request, reply) => {
      // Also here: a client gone while the handler runs may leave no onResponse, and the
      // handler can take more (as the body inflates) after onRequestAbort gave back what it held.
      try {
        return await ingest(request, reply, request.held ?? { held: 0 });
      } finally {
        release(request);
      }
    },
  );

  const release = (request: FastifyRequest): void => {
    if (request.held === null) return;
    deps.inFlight.give(request.held.held);
    request.held.held = 0;
  };

  const busy = (): Error =>
    gatewayError('GW_ERR_BUSY', `POST /v1/ssf already holds ${deps.inFlight.bytes} bytes of requests (gateway.httpMaxInFlightBytes ${deps.inFlight.limit})`, 1);

  async function ingest(request: FastifyRequest, reply: FastifyReply, held: { held: number }): Promise<FastifyReply> {
    const receivedNs = nowNs();
    const key = request.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !validIdempotencyKey(key))) throw gatewayError('GW_ERR_IDEMPOTENCY_KEY');
    if (key !== undefined) reply.header('idempotency-key', key);
    const kind = bodyKind(request.headers['content-type']);
    if (!kind) throw gatewayError('GW_ERR_CONTENT_TYPE');
    // Its bytes are in the budget already (countedBody, as they were read).
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    // A body inflating past the whole budget could never be taken: 413, as one past gateway.maxDecompressedBytes.
    const limit = Math.min(deps.maxDecompressedBytes, deps.inFlight.limit);
    let body: Buffer;
    try {
      body = await decompress(raw, request.headers['content-encoding'], limit, deps.inFlight.inflation(held, busy));
    } catch (err) {
      if (GatewayErrors.has(err) && err.code === 'GW_ERR_DECOMPRESSED_TOO_LARGE' && limit < deps.maxDecompressedBytes)
        throw gatewayError('GW_ERR_DECOMPRESSED_TOO_LARGE', `${err.reason} (gateway.httpMaxInFlightBytes, smaller than gateway.maxDecompressedBytes)`);
      throw err;
    }
    // A keyed request: its key's identity and its decoded body's digest (the same body re-sent under
    // another Content-Encoding is the same request). A key this gateway remembers with another body is
    // refused before the body is read, so nothing of it is counted as received or taken; the reason
    // names the problem, never the key (a key may be a secret; it is echoed only in its own header).
    const keyed = key === undefined ? undefined : { keyId: keyIdOf(request.tenant, key), digest: await bodyDigestOf(body) };
    // The key is bound to this body now, before it is read, so a request reusing it with another body
    // while this one is read is refused before it is read too. A refusal of this request before anything
    // of it is published unbinds a key it bound (as Stripe keeps a key only once the request started
    // executing): a refused first attempt does not bind the key to its body.
    const use = keyed === undefined ? undefined : recent.see(keyed.keyId, keyed.digest);
    if (use === 'reused') throw gatewayError('GW_ERR_IDEMPOTENCY_KEY_REUSED');
    // Set once the spans go to the sink: a failure from there on keeps the key bound (some of it may be stored),
    // unless the sink refused all of it at once.
    let publishing = false;
    try {
      const waitS = deps.limits?.admit(request.tenant, body.length) ?? 0;
      if (waitS > 0) {
        deps.metrics.tenantLimited('http', request.tenant, 1);
        throw gatewayError(
          'GW_ERR_TENANT_RATE_LIMITED',
          `tenant ${request.tenant} is over its ingest rate limit of ${deps.limits?.rateOf(request.tenant)} bytes/s; retry after ${waitS} s`,
          waitS,
        );
      }

      let parts: Uint8Array[];
      const rejected: BatchRejection[] = [];
      let indexOf: (i: number) => number = (i) => i;
      try {
        if (kind === 'protobuf') parts = splitBatch(body);
        else if (kind === 'frames') parts = decodeFrames(body);
        else {
          const json = await parseJsonBatch(body.toString('utf8'));
          if ('error' in json) throw new CodecError('SSF_JSON_INVALID', json.error);
          parts = json.spans.map((s) => s.bytes);
          const indices = json.spans.map((s) => s.index);
          indexOf = (i) => indices[i] ?? i;
          rejected.push(...json.rejected);
        }
      } catch (err) {
        if (err instanceof CodecError) {
          throw gatewayError('GW_ERR_BODY_MALFORMED', `${err.code}: ${err.message.replace(/^\w+: /, '')}`);
        }
        throw err;
      }

      const result = await deps.intake.fromEncodedInSlices(parts, request.tenant, 'http', receivedNs);
      deps.metrics.batchSize.observe(parts.length + rejected.length, { protocol: 'http' });
      const answer: BatchAnswer = {
        accepted: result.accepted.length,
        events: result.events,
        rejected: [...rejected, ...result.rejected.map((r) => ({ ...r, index: indexOf(r.index) }))].sort((a, b) => a.index - b.index),
        partial: result.partial.map((r) => ({ ...r, index: indexOf(r.index) })),
      };
      if (result.accepted.length === 0 && answer.rejected.length > 0) {
        const e = gatewayError('GW_ERR_NO_VALID_SPANS');
        e.details = { ...answer };
        throw e;
      }
      let requestId: string | undefined;
      if (keyed !== undefined) {
        deps.metrics.idempotent(use === 'repeat');
        requestId = requestIdOf(keyed.keyId, keyed.digest);
      }
      publishing = true;
      try {
        await deps.sink.publish(packOf(result, requestId));
      } catch (err) {
        deps.metrics.dropped('http', dropReason(err), result.events);
        // A full buffer and a request larger than all of it are refused whole by publish(): nothing of it went out.
        if (SinkErrors.has(err) && (err.code === 'SINK_ERR_FULL' || err.code === 'SINK_ERR_TOO_LARGE')) publishing = false;
        // The sink's own refusal, answered as the gateway's (same reason and Retry-After).
        if (SinkErrors.has(err)) {
          if (err.code === 'SINK_ERR_TOO_LARGE') throw gatewayError('GW_ERR_BATCH_TOO_LARGE', err.reason);
          throw gatewayError('GW_ERR_UNAVAILABLE', err.reason, err.retryAfterSeconds);
        }
        throw err;
      }
      return reply.status(200).send(answer);
    } catch (err) {
      if (keyed !== undefined && use === 'new' && !publishing) recent.forget(keyed.keyId, keyed.digest);
      throw err;
    }
  }

  app.get('/metrics', async (request, reply) => {
    const access = deps.auth.authorizeMetrics(request.headers.authorization, request.socket.remoteAddress);
    if (!access.ok) throw AuthErrors.error(access.code, access.reason);
    deps.metrics.bufferFill.set(deps.sink.accepting ? 1 : 0, { sink: deps.sink.name });
    deps.metrics.inFlightBytes.set(deps.inFlight.bytes, { receiver: 'ssf' });
    deps.metrics.inFlightBytes.set(deps.otlpInFlight.bytes, { receiver: 'otlp' });
    return reply.type('text/plain; version=0.0.4').send(deps.metrics.registry.render() + processMetrics().render());
  });
}

/**
 * The request body `payload` as read, each chunk taken from `budget` first
 * (and counted in `held`): past what is left of it, `busy()` (429); a body
 * that alone passes the whole budget could never be taken: 413.
 */
function countedBody(payload: Readable, held: { held: number } | null, budget: InFlightBytes, busy: () => Error): Readable {
  if (held === null) return payload;
  let received = 0;
  const counted: Readable & { receivedEncodedLength?: number } = payload.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        counted.receivedEncodedLength = received;
        if (held.held + chunk.length > budget.limit) {
          done(gatewayError('GW_ERR_BODY_TOO_LARGE', `the body is more than gateway.httpMaxInFlightBytes (${budget.limit})`));
        } else if (!budget.take(chunk.length)) {
          done(busy());
        } else {
          held.held += chunk.length;
          done(null, chunk);
        }
      },
    }),
  );
  payload.once('error', (err) => counted.destroy(err));
  return counted;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by authentication: the tenant this request acts for. */
    tenant: string;
    /** POST /v1/ssf: its bytes in gateway.httpMaxInFlightBytes (read, then decompressed), given back once it is answered. */
    held: { held: number } | null;
  }
}
