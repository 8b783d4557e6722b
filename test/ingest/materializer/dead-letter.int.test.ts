import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, Producer } from 'kafkajs';
import { BATCH_FORMAT } from '../../../src/kafka/record-format.js';
import { encodeBatchOfEncoded, encodeSpan } from '../../../src/codec/index.js';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import type { MaterializerProcess } from '../../../cli/materializer-command.js';
import { batchRecord, emptyExpected, exactCounts, makeEvent, NOW, readRaw, settle, spanRecord, startRig } from './helpers.js';
import type { MaterializerRig } from './helpers.js';
import { spanEvent } from '../../../src/codec/span-event.js';
import { kafkaBrokers } from '../../setup/services.js';

// Not protobuf at all: field 1 with wire type 7 (no such type).
const GARBAGE = Buffer.from([0x0f, 0xff, 0xff, 0xff, 0x01, 0x02]);
// A length-delimited field that runs past the end of the buffer.
const TRUNCATED = Buffer.from([0x42, 0x7f, 0x61, 0x62]);
// A well-formed SSFSpan that is neither a trace span nor carries a sample or log (SSF_SPAN_EMPTY).
const EMPTY_SPAN = Buffer.from(encodeSpan(spanEvent({ id: 42n, service: 'shop', tenant: 'acme', receivedTimestamp: NOW, isTrace: false })));

interface Poison {
  message: Message;
  code: string;
  ssfCode: string;
  /** What the dead letter holds: the record, or (for one span of a batch) that span alone. */
  value: Buffer | null;
  index?: string;
}

describe('materializer: poison goes to the dead-letter topic, the good spans around it are all written', () => {
  const expected = emptyExpected();
  let rig: MaterializerRig;
  let running: MaterializerProcess;
  let producer: Producer;
  let ch: ClickHouse;
  let topic: string;

  beforeAll(async () => {
    rig = await startRig({ name: 'mat-dlq', database: 'mat_dlq', batchRows: 50, batchMs: 100 });
    ({ running, producer, ch, topic } = rig);
  });

  afterAll(() => rig?.close());

  it('refuses each poison record or span with its code and source headers, keeps every good span', async () => {
    // A batch record with a bad span between two good ones: only the bad span is refused.
    const [before, after] = [makeEvent(1_000, expected), makeEvent(1_001, expected)];
    const mixed = Buffer.from(encodeBatchOfEncoded([encodeSpan(before), EMPTY_SPAN, encodeSpan(after)]));
    const poison: Poison[] = [
      { message: { key: Buffer.from('garbage'), value: GARBAGE }, code: 'MAT_ERR_UNDECODABLE', ssfCode: 'SSF_DECODE_FAILED', value: GARBAGE },
      { message: { value: TRUNCATED }, code: 'MAT_ERR_UNDECODABLE', ssfCode: 'SSF_DECODE_FAILED', value: TRUNCATED },
      { message: { value: EMPTY_SPAN }, code: 'MAT_ERR_INVALID_SPAN', ssfCode: 'SSF_SPAN_EMPTY', value: EMPTY_SPAN },
      { message: { value: null }, code: 'MAT_ERR_UNDECODABLE', ssfCode: '', value: null },
      { message: { value: GARBAGE, headers: { 'ssf-format': 'ssf-batch/9' } }, code: 'MAT_ERR_UNKNOWN_FORMAT', ssfCode: '', value: GARBAGE },
      // An SSFBatch whose own structure is broken: the whole record.
      { message: { value: GARBAGE, headers: { 'ssf-format': BATCH_FORMAT } }, code: 'MAT_ERR_UNDECODABLE', ssfCode: 'SSF_DECODE_FAILED', value: GARBAGE },
      {
        message: { value: mixed, headers: { 'ssf-format': BATCH_FORMAT } },
        code: 'MAT_ERR_INVALID_SPAN',
        ssfCode: 'SSF_SPAN_EMPTY',
        value: EMPTY_SPAN,
        index: '1',
      },
    ];
    // All on partition 0, each poison record between good ones: one bad record never takes its insert down.
    const messages: Message[] = [];
    for (let i = 0; i < 280; i += 2) {
      // Good spans in both formats: SSFBatch records (the gateway's) and single-span records.
      messages.push(batchRecord([makeEvent(i, expected)], 0), { ...spanRecord(makeEvent(i + 1, expected)), partition: 0 });
      const p = i % 40 === 20 ? poison[(i - 20) / 40] : undefined;
      if (p) messages.push({ ...p.message, partition: 0 });
    }
    await producer.send({ topic, acks: -1, messages });

    const got = await settle(ch, expected, 30_000);
    expect(got).toEqual(exactCounts(expected));

    const dead = await readRaw(kafkaBrokers(), `${topic}.dlq`, poison.length);
    expect(dead).toHaveLength(poison.length);
    const offsets = new Set<string>();
    dead.forEach((d, n) => {
      const p = poison[n] as Poison;
      expect(d.headers).toMatchObject({ 'ssf-dlq-code': p.code, 'ssf-source-topic': topic, 'ssf-source-partition': '0' });
      expect(d.headers['ssf-dlq-reason']).toMatch(/\S/);
      if (p.ssfCode) {
        expect(d.headers['ssf-dlq-ssf-code']).toBe(p.ssfCode);
        expect(d.headers['ssf-dlq-reason']).toContain(p.ssfCode);
      }
      expect(d.headers['ssf-source-index']).toBe(p.index);
      expect(d.value === null ? null : Buffer.from(d.value)).toEqual(p.value);
      expect(d.key === null ? null : Buffer.from(d.key)).toEqual(p.message.key ?? null);
      offsets.add(d.headers['ssf-source-offset'] ?? '');
    });
    expect(offsets.size).toBe(poison.length);
    // A whole record keeps its own headers next to ours; a span taken out of a batch is no batch any more.
    expect(dead[4]?.headers['ssf-format']).toBe('ssf-batch/9');
    expect(dead[6]?.headers['ssf-format']).toBeUndefined();

    const m = running.materializer.metrics;
    expect(m.deadLetters.get({ code: 'MAT_ERR_UNDECODABLE' })).toBe(4);
    expect(m.deadLetters.get({ code: 'MAT_ERR_INVALID_SPAN' })).toBe(2);
    expect(m.deadLetters.get({ code: 'MAT_ERR_UNKNOWN_FORMAT' })).toBe(1);
    expect(m.recordsConsumed.get()).toBe(280 + poison.length);
    expect(m.spansConsumed.get()).toBe(282);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toContain('ssf_materializer_dead_letter_total{code="MAT_ERR_INVALID_SPAN"} 2');
  });
});
