import { createHash, randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { IHeaders } from 'kafkajs';
import { headerOf } from './record-format.js';

/*
 * Who wrote a record of the spans topic, and which client request it holds:
 * the two record headers the materializer deduplicates on
 * (docs/architecture.md, "Duplicates from retries").
 *   ssf-producer:    <producer id>:<sequence>  (a retried produce carries the same pair)
 *   ssf-idempotency: <request id>:<chunk>      (the same client request, re-sent to any gateway)
 */

/** Header naming the producer and the record's sequence on its partition. */
export const PRODUCER_HEADER = 'ssf-producer';
/** Header naming the client request (tenant, Idempotency-Key and body digest: requestIdOf) and the record's chunk index within its partition. */
export const IDEMPOTENCY_HEADER = 'ssf-idempotency';

/** Longest Idempotency-Key the gateway takes. */
export const MAX_IDEMPOTENCY_KEY = 256;
const KEY_SHAPE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** Whether an Idempotency-Key is acceptable: 1-256 printable ASCII characters, no surrounding spaces. */
export function validIdempotencyKey(key: string): boolean {
  return key.length <= MAX_IDEMPOTENCY_KEY && KEY_SHAPE.test(key);
}

/** A fresh producer id, one per gateway process start: 16 hex digits (64 random bits). */
export function newProducerId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The identity of a tenant's Idempotency-Key: keys are per tenant, so the
 * tenant is part of it. 128 bits of SHA-256, hex: what the gateway remembers
 * of a key (ingest/gateway/recent-keys.ts); the key itself is kept nowhere.
 */
export function keyIdOf(tenant: string, key: string): string {
  return createHash('sha256').update(tenant).update('\0').update(key).digest('hex').slice(0, 32);
}

/** Bytes hashed between two turns of the event loop (SHA-256 runs at about 1.3 GiB/s here: under 1 ms). */
const DIGEST_SLICE = 1_048_576;

/**
 * The digest of a request's decoded (decompressed) body: 128 bits of
 * SHA-256, hex. Hashed in slices, yielding to the event loop between them:
 * a 64 MiB body (gateway.maxDecompressedBytes) would otherwise hold every
 * other request for about 50 ms.
 */
export async function bodyDigestOf(body: Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  for (let at = 0; at < body.length; at += DIGEST_SLICE) {
    if (at > 0) await yieldToEventLoop();
    hash.update(body.subarray(at, at + DIGEST_SLICE));
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * The request id of a keyed request: its key's identity (keyIdOf) and its
 * body's digest (bodyDigestOf), 128 bits of SHA-256, hex. A retry (the same
 * tenant, key and decoded bytes) has the id of the first attempt, so its
 * records and inserts carry the same tokens, on any gateway, after any
 * restart; the same key with another body has another id, so none of that
 * body is taken for a copy of the first and dropped.
 */
export function requestIdOf(keyId: string, bodyDigest: string): string {
  return createHash('sha256').update(keyId).update('\0').update(bodyDigest).digest('hex').slice(0, 32);
}

export interface ProducerStamp {
  producer: string;
  seq: number;
}

const PRODUCER_VALUE = /^([0-9a-f]{16}):(\d{1,15})$/;
const IDEMPOTENCY_VALUE = /^([0-9a-f]{32}):(\d{1,9})$/;

export function producerHeader(stamp: ProducerStamp): string {
  return `${stamp.producer}:${stamp.seq}`;
}

/** The record's producer stamp, when it has a well-formed one. */
export function producerOf(headers: IHeaders | undefined): ProducerStamp | undefined {
  const m = PRODUCER_VALUE.exec(headerOf(headers, PRODUCER_HEADER) ?? '');
  return m === null ? undefined : { producer: m[1] as string, seq: Number(m[2]) };
}

export function idempotencyHeader(requestId: string, chunk: number): string {
  return `${requestId}:${chunk}`;
}

/**
 * The insert deduplication token of a record built from a keyed request:
 * `ssf-idem:<request id>:<partition>:<chunk>`. The same request body,
 * re-sent, is split over the same partitions and chunks, so each record of
 * the retry has the token of the record it repeats.
 */
export function idempotencyTokenOf(headers: IHeaders | undefined, partition: number): string | undefined {
  const m = IDEMPOTENCY_VALUE.exec(headerOf(headers, IDEMPOTENCY_HEADER) ?? '');
  return m === null ? undefined : `ssf-idem:${m[1] as string}:${partition}:${m[2] as string}`;
}

/** The token of a whole keyed request inserted at once (all-in-one mode). */
export function requestToken(requestId: string): string {
  return `ssf-idem:${requestId}`;
}
