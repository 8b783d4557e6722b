import { describe, expect, it } from 'vitest';
import { decodeBatch, decodeSpan, encodeBatchOfEncoded, encodeRawSpan, encodeSpan, validateSpan } from '../../src/codec/index.js';
import type { SpanEvent, SpanFields } from '../../src/codec/index.js';
import { bigIntToLong, SSFSpanMessage } from '../../src/codec/protobuf.js';
import type { ssf } from '../../src/codec/generated/ssf.js';
import { spanEvent } from '../../src/codec/span-event.js';

const L = (n: number) => bigIntToLong(BigInt(n));
const trace: SpanFields = { traceId: L(7), id: L(8), parentId: L(7), startTimestamp: L(1_000), endTimestamp: L(2_000), name: 'GET /', service: 'web' };

function validate(fields: SpanFields) {
  return validateSpan(SSFSpanMessage.decode(encodeRawSpan(fields)));
}

describe('Veneur ingestion rules', () => {
  it('accepts a valid trace span and marks it as a trace', () => {
    const v = validate(trace);
    expect(v.ok && v.span.isTrace).toBe(true);
    expect(v.rejections).toEqual([]);
  });

  it('keeps all 128 bits of a trace id (trace_id_high, field 103) through encode and decode', () => {
    const span = spanEvent({ traceId: -1234567890123n, traceIdHigh: -0x1122334455667788n, id: 9n, startTimestamp: 1n, endTimestamp: 2n, name: 'op' });
    const bytes = encodeSpan(span);
    const back = decodeSpan(bytes);
    expect(back.ok && back.span.traceIdHigh).toBe(-0x1122334455667788n);
    expect(back.ok && back.span.traceId).toBe(-1234567890123n);
    // A Veneur span has no field 103: 0, and the bytes have no trace_id_high.
    const veneur = decodeSpan(encodeSpan(spanEvent({ traceId: 5n, id: 9n, startTimestamp: 1n, endTimestamp: 2n, name: 'op' })));
    expect(veneur.ok && veneur.span.traceIdHigh).toBe(0n);
    expect(SSFSpanMessage.decode(bytes).traceIdHigh).toBeTruthy();
  });

  it('moves the tag "name" into an empty span name and removes the tag', () => {
    const v = validate({ ...trace, name: '', tags: { name: 'legacy', other: 'x' } });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.span.name).toBe('legacy');
    expect(v.span.tags).toEqual({ other: 'x' });
    expect(v.span.isTrace).toBe(true);
  });

  it('keeps the tag "name" when the span already has a name', () => {
    const v = validate({ ...trace, tags: { name: 'tag' } });
    expect(v.ok && v.span.name).toBe('GET /');
    expect(v.ok && v.span.tags).toEqual({ name: 'tag' });
  });

  it('reads sample_rate 0 as 1', () => {
    const v = validate({ metrics: [{ name: 'c', value: 3 }] });
    expect(v.ok && v.span.metrics[0]?.sampleRate).toBe(1);
  });

  it.each([
    ['id', { ...trace, id: L(0) }],
    ['trace_id', { ...trace, traceId: L(0) }],
    ['start_timestamp', { ...trace, startTimestamp: L(0) }],
    ['end_timestamp', { ...trace, endTimestamp: L(0) }],
    ['name', { ...trace, name: '' }],
  ])('rejects a span missing %s that carries nothing else, naming the field', (field, fields) => {
    const v = validate(fields);
    expect(v.ok).toBe(false);
    expect(v.rejections).toHaveLength(1);
    expect(v.rejections[0]).toMatchObject({ code: 'SSF_SPAN_EMPTY', field });
    expect(v.rejections[0]?.reason).toContain(`${field} is missing`);
  });

  it('keeps the metrics of a span that is not a valid trace', () => {
    const v = validate({ ...trace, id: L(0), metrics: [{ name: 'm', value: 1 }] });
    expect(v.ok).toBe(true);
    expect(v.ok && v.span.isTrace).toBe(false);
    expect(v.ok && v.span.metrics).toHaveLength(1);
  });

  it('refuses a negative duration as a trace but keeps the carried logs', () => {
    const v = validate({ ...trace, endTimestamp: L(500), logs: [{ body: 'hello' }] });
    expect(v.ok && v.span.isTrace).toBe(false);
    expect(v.ok && v.span.logs).toHaveLength(1);
    expect(v.rejections[0]).toMatchObject({ code: 'SSF_SPAN_NEGATIVE_DURATION', field: 'end_timestamp' });
  });

  it('refuses bad samples one by one with their index and code, and keeps the good ones', () => {
    const v = validate({
      ...trace,
      metrics: [
        { name: 'good', value: 1 },
        { name: '', value: 1 },
        { name: 'nan', value: Number.NaN },
        { name: 'rate', value: 1, sampleRate: 1.5 },
        { name: 'type', value: 1, metric: 9 as ssf.SSFSample.Metric },
        // Finite as a double, Infinity as the float SSF carries.
        { name: 'past float32', value: 1e39 },
        { name: 'float32 max', value: 3.4e38 },
      ],
    });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.span.metrics.map((m) => m.name)).toEqual(['good', 'float32 max']);
    expect(v.rejections.map((r) => [r.field, r.code])).toEqual([
      ['metrics[1].name', 'SSF_METRIC_NAME_MISSING'],
      ['metrics[2].value', 'SSF_METRIC_VALUE_NOT_FINITE'],
      ['metrics[3].sample_rate', 'SSF_METRIC_SAMPLE_RATE_RANGE'],
      ['metrics[4].metric', 'SSF_METRIC_TYPE_UNKNOWN'],
      ['metrics[5].value', 'SSF_METRIC_VALUE_NOT_FINITE'],
    ]);
  });

  it('refuses empty log records and out-of-range severities', () => {
    const v = validate({
      logs: [{ body: '' }, { body: 'x', severity: 30 as ssf.SSFLogRecord.Severity }, { body: 'ok', severity: 17 as ssf.SSFLogRecord.Severity }],
    });
    expect(v.ok && v.span.logs.map((l) => [l.body, l.severity])).toEqual([['ok', 'error']]);
    expect(v.rejections.map((r) => r.code)).toEqual(['SSF_LOG_EMPTY', 'SSF_LOG_SEVERITY_RANGE']);
  });

  it('refuses oversize names and too many tags', () => {
    expect(validate({ ...trace, name: 'x'.repeat(2000) }).rejections[0]).toMatchObject({ code: 'SSF_FIELD_TOO_LONG', field: 'name' });
    const tags: Record<string, string> = {};
    for (let i = 0; i < 1100; i++) tags[`k${i}`] = 'v';
    expect(validate({ ...trace, tags }).rejections[0]).toMatchObject({ code: 'SSF_TOO_MANY_TAGS', field: 'tags' });
  });
});

describe('batches', () => {
  it('keeps the valid spans of a batch and names the index and code of each rejected one', () => {
    const good = encodeRawSpan(trace);
    const empty = encodeRawSpan({ service: 'nothing' });
    const garbage = Uint8Array.from([0x42, 0x0a, 0x61, 0x62]); // service: 10 bytes announced, 2 present
    const batch = encodeBatchOfEncoded([good, empty, garbage, good]);
    const d = decodeBatch(batch);
    expect(d.total).toBe(4);
    expect(d.spans.map((s) => s.index)).toEqual([0, 3]);
    expect(d.rejections.map((r) => [r.index, r.code])).toEqual([
      [1, 'SSF_SPAN_EMPTY'],
      [2, 'SSF_DECODE_FAILED'],
    ]);
  });

  it('refuses a batch whose own structure is truncated as a whole', () => {
    const batch = encodeBatchOfEncoded([encodeRawSpan(trace), encodeRawSpan(trace)]);
    expect(() => decodeBatch(batch.subarray(0, batch.length - 3))).toThrowError(expect.objectContaining({ code: 'SSF_DECODE_FAILED' }));
  });

  it('round-trips a span event exactly, including extreme int64 values', () => {
    const event: SpanEvent = spanEvent({
      version: 1,
      traceId: 9223372036854775807n,
      id: -9223372036854775808n,
      parentId: -1n,
      startTimestamp: 1_700_000_000_123_456_789n,
      endTimestamp: 1_700_000_000_223_456_789n,
      error: true,
      service: 'svc',
      name: 'op',
      indicator: true,
      tags: { k: 'v ü 💥' },
      tenant: 'acme',
      isTrace: true,
      metrics: [{ type: 'histogram', name: 'h', value: 1.5, timestamp: 5n, message: '', status: 'ok', sampleRate: 0.5, tags: {}, unit: 'ms', scope: 'global' }],
      logs: [{ timestamp: 6n, severity: 'warn', severityNumber: 13, body: 'b', attributes: { a: '1' } }],
    });
    const v = decodeSpan(encodeSpan(event));
    expect(v.ok && v.span).toEqual(event);
  });
});
