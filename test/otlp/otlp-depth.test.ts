/**
 * Nesting has one explicit bound (MAX_NESTING, protobufjs's and protoc's
 * recursion limit): past it a request is refused whole with
 * OTLP_ERR_TOO_DEEP, in JSON and protobuf alike, and nothing recurses
 * deeper than that (a document a million levels deep is refused, not a
 * stack overflow).
 */
import { describe, expect, it } from 'vitest';
import { decodeRequest, MAX_NESTING } from '../../ingest/otlp/otlp-decode.js';
import { OtlpError } from '../../ingest/otlp/otlp-errors.js';
import { ExportTraceServiceRequest } from '../../ingest/otlp/otlp-messages.js';
import { tracesToSsf } from '../../ingest/otlp/traces-to-ssf.js';

/** A traces request with one attribute whose value is arrays nested `n` deep (AnyValue at message level 5 + 2n). */
function nested(n: number): Record<string, unknown> {
  let value: Record<string, unknown> = { stringValue: 'x' };
  for (let i = 0; i < n; i++) value = { arrayValue: { values: [value] } };
  const span = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'op', attributes: [{ key: 'deep', value }] };
  return { resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] };
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof OtlpError) return `${err.code} ${err.status} ${err.reason}`;
    throw err;
  }
  return 'accepted';
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const protobuf = (v: Record<string, unknown>): Uint8Array => {
  const request = ExportTraceServiceRequest.fromObject(JSON.parse(JSON.stringify(v), (k, x) => (/^(traceId|spanId)$/.test(k) ? Buffer.from(x, 'hex') : x)));
  // protobufjs refuses to encode past its limit too: the message is written by hand below.
  return ExportTraceServiceRequest.encode(request).finish();
};

/** Protobuf bytes of the same request, nested `n` deep, written without protobufjs (which refuses to write them). */
function nestedBytes(n: number): Uint8Array {
  const ld = (field: number, body: Buffer): Buffer => {
    const len: number[] = [];
    let v = body.length;
    while (v >= 0x80) {
      len.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    len.push(v);
    return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), body]);
  };
  let value = ld(1, Buffer.from('x')); // AnyValue { string_value }
  for (let i = 0; i < n; i++) value = ld(5, ld(1, value)); // AnyValue { array_value { values } }
  const kv = Buffer.concat([ld(1, Buffer.from('deep')), ld(2, value)]);
  const span = Buffer.concat([
    ld(1, Buffer.from('5b8efff798038103d269b633813fc60c', 'hex')),
    ld(2, Buffer.from('eee19b7ec3c1b174', 'hex')),
    ld(5, Buffer.from('op')),
    ld(9, kv),
  ]);
  return ld(1, ld(2, ld(2, span)));
}

describe('OTLP nesting bound', () => {
  it('is protobufjs recursion limit', () => {
    expect(MAX_NESTING).toBe(100);
  });

  it('JSON: takes values nested within the bound, refuses deeper ones with OTLP_ERR_TOO_DEEP', () => {
    // AnyValue at level 5 + 2n: 47 -> 99 (kept), 48 -> 101 (refused).
    const ok = decodeRequest('traces', json(nested(47)), 'json');
    expect(tracesToSsf(ok).spans[0]?.tags['deep']).toBe(`${'['.repeat(47)}"x"${']'.repeat(47)}`);
    expect(refusal(() => decodeRequest('traces', json(nested(48)), 'json'))).toBe(
      'OTLP_ERR_TOO_DEEP 400 the traces export request nests messages more than 100 deep',
    );
    expect(refusal(() => decodeRequest('logs', json(nested(500)), 'json'))).toMatch(/^OTLP_ERR_TOO_DEEP 400 the logs export request/);
  });

  it('JSON: a million levels anywhere (an unknown key, a string field) is refused, not a stack overflow', () => {
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    for (const where of [`{"junk":${deep}}`, `{"resourceSpans":[{"schemaUrl":${deep}}]}`, `{"resourceSpans":${deep}}`]) {
      expect(refusal(() => decodeRequest('traces', Buffer.from(where), 'json'))).toMatch(/^OTLP_ERR_TOO_DEEP 400/);
    }
  });

  it('protobuf: the same bound', () => {
    expect(protobuf(nested(3)).length).toBeGreaterThan(0);
    const ok = decodeRequest('traces', nestedBytes(47), 'protobuf');
    expect(tracesToSsf(ok).spans[0]?.tags['deep']).toBe(`${'['.repeat(47)}"x"${']'.repeat(47)}`);
    expect(refusal(() => decodeRequest('traces', nestedBytes(48), 'protobuf'))).toBe(
      'OTLP_ERR_TOO_DEEP 400 the traces export request nests messages more than 100 deep',
    );
    expect(refusal(() => decodeRequest('traces', nestedBytes(3_000), 'protobuf'))).toMatch(/^OTLP_ERR_TOO_DEEP 400/);
    // Groups nested in an unknown field (field 2: start 0x13, end 0x14).
    const groups = Buffer.concat([Buffer.alloc(1000, 0x13), Buffer.alloc(1000, 0x14)]);
    expect(refusal(() => decodeRequest('traces', groups, 'protobuf'))).toMatch(/^OTLP_ERR_TOO_DEEP 400/);
  });
});
