import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSpan, encodeSpan, FrameReader, LIMITS, longToBigInt } from '../../src/codec/index.js';
import { SSFSpanMessage } from '../../src/codec/protobuf.js';
import type { RawSpan } from '../../src/codec/index.js';

// Golden vectors written by Veneur v14.2.0's own Go code (test/fixtures/veneur/README.md).
const dir = join(import.meta.dirname, '..', 'fixtures', 'veneur');
type Canonical = Record<string, unknown>;
interface Vector {
  name: string;
  file: string;
  map_order_sensitive: boolean;
  span: Canonical;
  parsed_span: Canonical | null;
}
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { vectors: Vector[]; framed_stream: { file: string; spans: string[] } };
const bytesOf = (file: string): Buffer => readFileSync(join(dir, file));

function float(v: number): number | string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

function expectedFloat(v: unknown): number | string {
  return typeof v === 'number' ? Math.fround(v) : String(v);
}

/** Our decoded message in the manifest's canonical JSON shape (float32 compared after Math.fround). */
function canonical(raw: RawSpan): Canonical {
  return {
    version: raw.version,
    trace_id: longToBigInt(raw.traceId).toString(),
    id: longToBigInt(raw.id).toString(),
    parent_id: longToBigInt(raw.parentId).toString(),
    start_timestamp: longToBigInt(raw.startTimestamp).toString(),
    end_timestamp: longToBigInt(raw.endTimestamp).toString(),
    error: raw.error,
    service: raw.service,
    metrics: raw.metrics.map((m) => ({
      metric: m.metric,
      name: m.name,
      value: float(m.value ?? 0),
      timestamp: longToBigInt(m.timestamp).toString(),
      message: m.message,
      status: m.status,
      sample_rate: float(m.sampleRate ?? 0),
      tags: { ...m.tags },
      unit: m.unit,
      scope: m.scope,
    })),
    tags: { ...raw.tags },
    indicator: raw.indicator,
    name: raw.name,
    root_start_timestamp: longToBigInt(raw.rootStartTimestamp).toString(),
  };
}

function normaliseExpected(span: Canonical): Canonical {
  const metrics = (span['metrics'] as Canonical[]).map((m) => ({ ...m, value: expectedFloat(m['value']), sample_rate: expectedFloat(m['sample_rate']) }));
  return { ...span, metrics };
}

describe('Veneur golden vectors', () => {
  it('has the vectors the foundation issue asks for', () => {
    const names = manifest.vectors.map((v) => v.name);
    for (const n of [
      'trace-span-full',
      'sample-counter',
      'sample-gauge',
      'sample-histogram',
      'sample-set',
      'sample-status',
      'indicator-span',
      'error-span',
      'unicode',
      'ids-int64-extremes',
      'ids-negative',
      'empty',
      'large-60k',
    ]) {
      expect(names).toContain(n);
    }
    expect(bytesOf('large-60k.bin').length).toBeGreaterThanOrEqual(60_000);
  });

  describe.each(manifest.vectors)('$name', (vector) => {
    const bytes = bytesOf(vector.file);

    it('decodes to exactly the values Veneur encoded', () => {
      const raw = SSFSpanMessage.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
      expect(canonical(raw)).toEqual(normaliseExpected(vector.span));
      expect(raw.logs).toEqual([]);
      expect(raw.tenant).toBe('');
    });

    it('validates as Veneur ingests it, and re-encodes to the same bytes (or the same values where map order differs)', () => {
      const v = decodeSpan(bytes);
      const expected = vector.parsed_span ?? vector.span;
      if (!v.ok) {
        // Only the empty span and non-finite values are refused (ours: NaN/Inf cannot be aggregated).
        expect(['empty', 'floats-nonfinite']).toContain(vector.name);
        return;
      }
      expect(v.span.name).toBe(expected['name']);
      expect(v.span.tags).toEqual(expected['tags']);
      // Ours, unlike Veneur: a sample_rate below LIMITS.minSampleRate (1e-45 here) is refused, that sample alone.
      const kept = (expected['metrics'] as Canonical[]).filter((m) => {
        const rate = expectedFloat(m['sample_rate']) as number;
        return rate === 0 || rate >= LIMITS.minSampleRate;
      });
      const refused = v.rejections.filter((r) => r.code === 'SSF_METRIC_SAMPLE_RATE_RANGE');
      expect(refused.length).toBe((expected['metrics'] as Canonical[]).length - kept.length);
      if (vector.name === 'floats-special') expect(refused.length).toBe(1);
      expect(v.span.metrics.map((m) => Math.fround(m.sampleRate))).toEqual(kept.map((m) => expectedFloat(m['sample_rate'])));
      const again = encodeSpan(v.span);
      const normalised = vector.parsed_span !== null || v.rejections.length > 0;
      if (!normalised && !vector.map_order_sensitive) {
        expect(Buffer.from(again).equals(bytes)).toBe(true);
      } else {
        const back = decodeSpan(again);
        expect(back.ok && back.span).toEqual(v.span);
      }
    });
  });

  it('re-encodes byte for byte even where map order matters, for maps without integer-like keys', () => {
    for (const vector of manifest.vectors.filter((v) => v.map_order_sensitive && v.parsed_span === null && v.name !== 'map-edge-cases')) {
      const v = decodeSpan(bytesOf(vector.file));
      expect(v.ok, vector.name).toBe(true);
      if (v.ok) expect(Buffer.from(encodeSpan(v.span)).equals(bytesOf(vector.file)), vector.name).toBe(true);
    }
  });

  it('refuses the empty span and non-finite values with their codes', () => {
    expect(decodeSpan(bytesOf('empty.bin')).rejections.map((r) => r.code)).toEqual(['SSF_SPAN_EMPTY']);
    const nonFinite = decodeSpan(bytesOf('floats-nonfinite.bin'));
    expect(nonFinite.rejections.map((r) => r.code)).toContain('SSF_METRIC_VALUE_NOT_FINITE');
  });

  it('reads the framed stream written by protocol.WriteSSF, frame by frame', () => {
    const stream = bytesOf(manifest.framed_stream.file);
    // Feed it in awkward pieces to exercise frames split across reads.
    const reader = new FrameReader();
    const frames: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 7) frames.push(...reader.push(stream.subarray(at, at + 7)));
    reader.end();
    expect(frames).toHaveLength(manifest.framed_stream.spans.length);
    manifest.framed_stream.spans.forEach((name, i) => {
      const vector = manifest.vectors.find((v) => v.name === name) as Vector;
      expect(Buffer.from(frames[i] as Buffer).equals(bytesOf(vector.file)), name).toBe(true);
    });
  });
});
