/**
 * An independent reference for trace assembly, used by the trace tests to
 * compute what the API must answer. Written differently from
 * query/traces/assemble-trace.ts on purpose: self time is counted cell by
 * cell on a grid (`unitNs` from the trace's start; every time in a test is on it), and
 * the tree and critical path are built recursively from parent links.
 * Inputs must not contain parent cycles (the unit test covers those by hand).
 */

import type { TraceNode } from '../../query/traces/assemble-trace.js';

export interface RefSpan {
  id: bigint;
  parent: bigint;
  service: string;
  name: string;
  start: bigint;
  end: bigint;
  error: boolean;
}

/** The fields of an answer's tree node that the reference predicts. */
export interface RefNode {
  span_id: string;
  parent_id: string;
  service: string;
  name: string;
  duration_ms: number;
  self_ms: number;
  offset_ms: number;
  error: boolean;
  depth: number;
  orphan: boolean;
  on_critical_path: boolean;
  children: RefNode[];
}

export interface RefTrace {
  start: bigint;
  end: bigint;
  spans: RefNode[];
  criticalPath: string[];
  rootIds: string[];
  spanCount: number;
  errorCount: number;
}

const order = (a: RefSpan, b: RefSpan): number => (a.start === b.start ? (a.id === b.id ? 0 : a.id < b.id ? -1 : 1) : a.start < b.start ? -1 : 1);

export function referenceTrace(rows: readonly RefSpan[], unitNs = 1_000n): RefTrace {
  // A repeated id keeps its longest copy.
  const byId = new Map<bigint, RefSpan>();
  for (const r of rows) {
    const had = byId.get(r.id);
    if (!had || r.end - r.start > had.end - had.start) byId.set(r.id, r);
  }
  const spans = [...byId.values()];
  const start = spans.map((s) => s.start).reduce((a, b) => (b < a ? b : a));
  const end = spans.map((s) => s.end).reduce((a, b) => (b > a ? b : a));
  for (const s of spans) {
    if ((s.start - start) % unitNs !== 0n || (s.end - start) % unitNs !== 0n)
      throw new Error('reference: times must be on a grid of unitNs from the trace start');
  }
  const childrenOf = (s: RefSpan): RefSpan[] => spans.filter((c) => c.parent === s.id && c.id !== s.id).sort(order);
  const isOrphan = (s: RefSpan): boolean => s.parent !== 0n && (s.parent === s.id || !byId.has(s.parent));
  const tops = spans.filter((s) => s.parent === 0n || isOrphan(s)).sort(order);

  const selfNs = (s: RefSpan): bigint => {
    const kids = childrenOf(s);
    let free = 0n;
    for (let t = s.start; t < s.end; t += unitNs) {
      if (!kids.some((c) => c.start <= t && t + unitNs <= c.end)) free += unitNs;
    }
    return free;
  };

  const mainCandidates = tops.filter((t) => t.parent === 0n).length > 0 ? tops.filter((t) => t.parent === 0n) : tops;
  const latest = (list: RefSpan[]): RefSpan | undefined => list.reduce<RefSpan | undefined>((best, s) => (!best || s.end > best.end ? s : best), undefined);
  const path: RefSpan[] = [];
  const walk = (s: RefSpan | undefined): void => {
    if (!s) return;
    path.push(s);
    walk(latest(childrenOf(s).filter((c) => c.start <= s.end && c.end >= s.start)));
  };
  walk(latest(mainCandidates));

  const node = (s: RefSpan, depth: number): RefNode => ({
    span_id: s.id.toString(),
    parent_id: s.parent.toString(),
    service: s.service,
    name: s.name,
    duration_ms: Number(s.end - s.start) / 1e6,
    self_ms: Number(selfNs(s)) / 1e6,
    offset_ms: Number(s.start - start) / 1e6,
    error: s.error,
    depth,
    orphan: isOrphan(s),
    on_critical_path: path.includes(s),
    children: childrenOf(s).map((c) => node(c, depth + 1)),
  });
  return {
    start,
    end,
    spans: tops.map((t) => node(t, 0)),
    criticalPath: path.map((s) => s.id.toString()),
    rootIds: tops.filter((t) => t.parent === 0n).map((t) => t.id.toString()),
    spanCount: spans.length,
    errorCount: spans.filter((s) => s.error).length,
  };
}

/** An answer's tree cut down to the fields the reference predicts. */
export function projectNodes(nodes: readonly TraceNode[]): RefNode[] {
  return nodes.map((n) => ({
    span_id: n.span_id,
    parent_id: n.parent_id,
    service: n.service,
    name: n.name,
    duration_ms: n.duration_ms,
    self_ms: n.self_ms,
    offset_ms: n.offset_ms,
    error: n.error,
    depth: n.depth,
    orphan: n.orphan,
    on_critical_path: n.on_critical_path,
    children: projectNodes(n.children),
  }));
}
