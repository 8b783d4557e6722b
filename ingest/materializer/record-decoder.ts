import type { IHeaders, KafkaMessage } from 'kafkajs';
import { CodecError, decodeSpan, splitBatch } from '../../src/codec/index.js';
import type { EventBatch } from '../../src/clickhouse/event-batch.js';
import { EventRowBinary } from '../../src/clickhouse/event-row-binary.js';
import { appendSpanBytes } from '../../src/clickhouse/span-row-binary.js';
import { BATCH_FORMAT, formatOf, headerOf, SPAN_FORMAT } from '../../src/kafka/record-format.js';
import type { Logger } from '../../src/observability/logger.js';
import type { DeadLetter } from './dead-letter.js';
import type { MaterializerErrorCode } from './materializer-errors.js';

/** Where one record's spans go: the batch's rows, or its dead letters. */
export interface DecodeTarget {
  rows: EventBatch;
  deadLetters: DeadLetter[];
}

export interface DecodeHooks {
  partition: number;
  /** One valid span appended. */
  spanConsumed(): void;
  /** A sample or log record refused inside a kept span (SSF_* code). */
  refused(code: string): void;
  log: Logger;
}

/** For a span the gateway did not stamp (field 102): an `ssf-received-ns` header, else the record's timestamp (ms). */
function receivedNs(message: KafkaMessage): bigint {
  const h = headerOf(message.headers, 'ssf-received-ns');
  if (h !== undefined && /^\d{1,20}$/.test(h)) return BigInt(h);
  return /^\d+$/.test(message.timestamp) ? BigInt(message.timestamp) * 1_000_000n : BigInt(Date.now()) * 1_000_000n;
}

/**
 * Decode, validate, convert one Kafka record into the target. What cannot be
 * stored becomes a dead letter, never an exception: a whole record when it
 * cannot be read at all, else each refused span of an SSFBatch alone (its
 * neighbours are kept).
 */
export function decodeRecord(message: KafkaMessage, target: DecodeTarget, hooks: DecodeHooks): void {
  const dead = (code: MaterializerErrorCode, reason: string, ssfCode: string, part?: { bytes: Uint8Array; index: number }): void => {
    let headers: IHeaders = message.headers ?? {};
    if (part !== undefined) {
      // One span, no longer a batch: the record's ssf-format would mislead.
      const { ['ssf-format']: _format, ...rest } = headers;
      headers = rest;
    }
    const value = part === undefined ? message.value : Buffer.from(part.bytes.buffer, part.bytes.byteOffset, part.bytes.byteLength);
    target.deadLetters.push({ key: message.key, value, headers, offset: message.offset, index: part?.index, code, reason: reason.slice(0, 1024), ssfCode });
    hooks.log.debug({ partition: hooks.partition, offset: message.offset, index: part?.index, code }, 'dead letter');
  };
  const format = formatOf(message.headers);
  if (format !== SPAN_FORMAT && format !== BATCH_FORMAT) {
    dead('MAT_ERR_UNKNOWN_FORMAT', `ssf-format "${format.slice(0, 32)}" is neither ${BATCH_FORMAT} nor ${SPAN_FORMAT}`, '');
    return;
  }
  if (message.value === null) {
    dead('MAT_ERR_UNDECODABLE', 'the record has no value', '');
    return;
  }
  let parts: Uint8Array[];
  try {
    parts = format === BATCH_FORMAT ? splitBatch(message.value) : [message.value];
  } catch (err) {
    if (!(err instanceof CodecError)) throw err;
    dead('MAT_ERR_UNDECODABLE', `${err.code}: ${err.message}`, err.code);
    return;
  }
  // A span the RowBinary fast path takes is decoded straight into the batch's
  // buffers; any other goes through the codec, which also reports what it refuses.
  const fast = target.rows instanceof EventRowBinary ? target.rows : undefined;
  let received: bigint | undefined;
  const receivedTime = (): bigint => (received ??= receivedNs(message));
  for (let index = 0; index < parts.length; index++) {
    const bytes = parts[index] as Uint8Array;
    if (fast !== undefined && appendSpanBytes(fast, bytes, receivedTime)) {
      hooks.spanConsumed();
      continue;
    }
    const result = decodeSpan(bytes);
    if (!result.ok) {
      const r = result.rejections[0];
      const code = r === undefined || r.code === 'SSF_DECODE_FAILED' ? 'MAT_ERR_UNDECODABLE' : 'MAT_ERR_INVALID_SPAN';
      const reason = r === undefined ? 'invalid span' : `${r.code}${r.field ? ` (${r.field})` : ''}: ${r.reason}`;
      dead(code, reason, r?.code ?? '', format === BATCH_FORMAT ? { bytes, index } : undefined);
      continue;
    }
    hooks.spanConsumed();
    for (const r of result.rejections) hooks.refused(r.code);
    const span = result.span;
    if (span.receivedTimestamp === 0n) span.receivedTimestamp = receivedTime();
    target.rows.append(span);
  }
}
