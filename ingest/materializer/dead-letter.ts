import type { IHeaders, Message } from 'kafkajs';
import type { MaterializerErrorCode } from './materializer-errors.js';

/** A record (or one span of an SSFBatch record) that cannot be stored: it goes to the dead-letter topic. */
export interface DeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  offset: string;
  /** For one span of an SSFBatch record: its index in the batch (the dead letter holds that span alone). */
  index: number | undefined;
  code: MaterializerErrorCode;
  reason: string;
  ssfCode: string;
}

/** The dead-letter record: the original key, value and headers, plus why and where from (docs/architecture.md, "Topics"). */
export function deadLetterMessage(d: DeadLetter, source: { topic: string; partition: number }): Message {
  return {
    key: d.key,
    value: d.value,
    headers: {
      ...d.headers,
      'ssf-dlq-reason': d.reason,
      'ssf-dlq-code': d.code,
      ...(d.ssfCode ? { 'ssf-dlq-ssf-code': d.ssfCode } : {}),
      'ssf-source-topic': source.topic,
      'ssf-source-partition': String(source.partition),
      'ssf-source-offset': d.offset,
      ...(d.index !== undefined ? { 'ssf-source-index': String(d.index) } : {}),
    },
  };
}
