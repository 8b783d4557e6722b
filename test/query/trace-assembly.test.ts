import { describe, expect, it } from 'vitest';
import { assembleTrace } from '../../query/traces/assemble-trace.js';
import type { SpanRecord, TraceNode } from '../../query/traces/assemble-trace.js';
import { nsToRfc3339, tenMinutesFloor } from '../../query/traces/trace-time.js';
import { seededRandom } from '../setup/random.js';
import { projectNodes, referenceTrace } from './trace-reference.js';
import type { RefSpan } from './trace-reference.js';

const MS = 1_000_000n;
const T0 = 1_780_000_000_000_000_000n;

function rec(id: bigint, parent: bigint, startMs: number, endMs: number, extra: Partial<SpanRecord> = {}): SpanRecord {
  const startNs = T0 + BigInt(startMs) * MS;
  return {
    spanId: id,
    parentId: parent,
    service: 'svc',
    name: `op${id}`,
    startNs,
    durationNs: BigInt(endMs - startMs) * MS,
    error: false,
    indicator: false,
    tags: {},
    ...extra,
  };
}

function toRef(r: SpanRecord): RefSpan {
  return { id: r.spanId, parent: r.parentId, service: r.service, name: r.name, start: r.startNs, end: r.startNs + r.durationNs, error: r.error };
}

/** [id, children] of every node: the bare tree shape. */
function shape(nodes: readonly TraceNode[]): unknown[] {
  return nodes.map((n) => (n.children.length === 0 ? n.span_id : [n.span_id, shape(n.children)]));
}

function ids(nodes: readonly TraceNode[]): string[] {
  return nodes.flatMap((n) => [n.span_id, ...ids(n.children)]);
}

describe('assembleTrace', () => {
  it('orders children by start then id, computes self time and the critical path', () => {
    const t = assembleTrace([
      rec(1n, 0n, 0, 100),
      rec(2n, 1n, 10, 60),
      rec(4n, 1n, 30, 95),
      rec(3n, 1n, 30, 40), // same start as 4: the smaller id first
      rec(5n, 4n, 35, 94),
      rec(6n, 1n, 120, 140), // fire-and-forget after the root ended: not critical although it ends last
    ]);
    expect(t).toBeDefined();
    if (!t) return;
    expect(shape(t.spans)).toEqual([['1', ['2', '3', ['4', ['5']], '6']]]);
    // Root: children cover [10, 95] (6 is outside the root) -> self 100 - 85.
    expect(t.spans[0]?.self_ms).toBe(15);
    expect(t.spans[0]?.children[2]?.self_ms).toBe(65 - 59);
    expect(t.criticalPath).toEqual(['1', '4', '5']);
    expect(t.spanCount).toBe(6);
    expect(t.endNs - t.startNs).toBe(140n * MS);
  });

  it('keeps one copy of a span id stored twice (the longer) and does not duplicate its children', () => {
    const t = assembleTrace([rec(1n, 0n, 0, 50), rec(2n, 1n, 5, 20), rec(2n, 1n, 5, 30), rec(3n, 2n, 6, 10), rec(2n, 1n, 5, 20)]);
    if (!t) throw new Error('no trace');
    expect(shape(t.spans)).toEqual([['1', [['2', ['3']]]]]);
    expect(t.duplicateRows).toBe(2);
    expect(t.spanCount).toBe(3);
    expect(t.spans[0]?.children[0]?.duration_ms).toBe(25);
  });

  it('makes orphans and self-parented spans extra roots, and cuts parent cycles', () => {
    const t = assembleTrace([
      rec(1n, 0n, 0, 50),
      rec(2n, 99n, 3, 8), // parent missing
      rec(3n, 3n, 4, 6), // its own parent
      rec(4n, 5n, 10, 20), // 4 <-> 5: a cycle, cut at 4 (earlier)
      rec(5n, 4n, 12, 18),
      rec(6n, 5n, 13, 14),
    ]);
    if (!t) throw new Error('no trace');
    expect(shape(t.spans)).toEqual(['1', '2', '3', ['4', [['5', ['6']]]]]);
    expect(t.spans.map((n) => n.orphan)).toEqual([false, true, true, true]);
    expect(t.rootSpanIds).toEqual(['1']);
    expect(ids(t.spans).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(t.criticalPath).toEqual(['1']);
  });

  it('starts the critical path at the top-level span that ends last when no root arrived', () => {
    const t = assembleTrace([rec(2n, 9n, 0, 30), rec(3n, 9n, 5, 40), rec(4n, 3n, 6, 39)]);
    if (!t) throw new Error('no trace');
    expect(t.rootSpanIds).toEqual([]);
    expect(t.criticalPath).toEqual(['3', '4']);
  });

  it('returns undefined for no spans', () => {
    expect(assembleTrace([])).toBeUndefined();
  });

  it('matches the reference on 200 random traces (orphans, duplicates, ties)', () => {
    const rng = seededRandom(20_261_121);
    const US = 1_000n;
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(rng() * 25);
      const rows: SpanRecord[] = [];
      for (let i = 0; i < n; i++) {
        const id = BigInt(Math.floor(rng() * 2 ** 31)) - 2n ** 30n || 1n;
        if (rows.some((r) => r.spanId === id)) continue;
        const parentPick = rng();
        const parent = rows.length === 0 || parentPick < 0.1 ? 0n : parentPick < 0.18 ? 424242n : (rows[Math.floor(rng() * rows.length)] as SpanRecord).spanId;
        const start = T0 + BigInt(Math.floor(rng() * 60)) * 250n * US;
        const durationNs = BigInt(Math.floor(rng() * 80)) * 250n * US;
        rows.push({
          spanId: id,
          parentId: parent,
          service: `s${Math.floor(rng() * 3)}`,
          name: 'op',
          startNs: start,
          durationNs,
          error: rng() < 0.2,
          indicator: false,
          tags: {},
        });
        if (rng() < 0.1) rows.push({ ...(rows[rows.length - 1] as SpanRecord) });
      }
      const t = assembleTrace(rows);
      const ref = referenceTrace(rows.map(toRef), 250n * US);
      if (!t) throw new Error('no trace');
      expect(projectNodes(t.spans)).toEqual(ref.spans);
      expect(t.criticalPath).toEqual(ref.criticalPath);
      expect(t.rootSpanIds).toEqual(ref.rootIds);
      expect(t.startNs).toBe(ref.start);
      expect(t.endNs).toBe(ref.end);
      expect(t.spanCount).toBe(ref.spanCount);
      expect(t.errorCount).toBe(ref.errorCount);
    }
  });
});

describe('trace times', () => {
  it('prints nanosecond RFC 3339 and floors to ten minutes', () => {
    expect(nsToRfc3339(1_780_000_123_000_000_007n)).toBe(`${new Date(1_780_000_123_000).toISOString().slice(0, 19)}.000000007Z`);
    expect(nsToRfc3339(1_780_000_123_456_789_012n)).toBe(`${new Date(1_780_000_123_456).toISOString().slice(0, 19)}.456789012Z`);
    const ns = BigInt(Date.UTC(2026, 10, 21, 10, 17, 59, 999)) * MS + 5n;
    expect(tenMinutesFloor(ns)).toBe(BigInt(Date.UTC(2026, 10, 21, 10, 10)) * MS);
  });
});
