import { hexId } from '../ids.js';
import { nsToMs, nsToRfc3339 } from './trace-time.js';

/** One row of `ssf.spans` for a trace, with exact 64-bit values. */
export interface SpanRecord {
  spanId: bigint;
  parentId: bigint;
  service: string;
  name: string;
  startNs: bigint;
  durationNs: bigint;
  error: boolean;
  indicator: boolean;
  tags: Record<string, string>;
}

/** A span in the assembled tree, as the API answers it. */
export interface TraceNode {
  span_id: string;
  span_id_hex: string;
  parent_id: string;
  service: string;
  name: string;
  /** RFC 3339, nanosecond precision. */
  start: string;
  duration_ms: number;
  /** The duration minus the union of the children's intervals (clipped to this span). */
  self_ms: number;
  /** From the trace's start. */
  offset_ms: number;
  error: boolean;
  indicator: boolean;
  tags: Record<string, string>;
  /** 0 for a top-level span (a root or an orphan). */
  depth: number;
  /** Its parent is not in the trace (not arrived, dropped, or part of a parent cycle): shown as an extra root. */
  orphan: boolean;
  on_critical_path: boolean;
  /** Ordered by start, then span id. */
  children: TraceNode[];
}

/** The tree of a trace's spans and what is computed from it. */
export interface AssembledTrace {
  startNs: bigint;
  endNs: bigint;
  /** Distinct spans (a span id stored twice counts once). */
  spanCount: number;
  errorCount: number;
  /** Rows that repeated a span id already seen (a retried emit); kept out of the tree. */
  duplicateRows: number;
  services: string[];
  /** Spans with parent 0, in start order. */
  rootSpanIds: string[];
  /** Roots and orphans, ordered by start, then span id. */
  spans: TraceNode[];
  /** Span ids from the main root down to a leaf. */
  criticalPath: string[];
}

interface Work {
  rec: SpanRecord;
  endNs: bigint;
  parent: Work | undefined;
  children: Work[];
  orphan: boolean;
}

function byStartThenId(a: Work, b: Work): number {
  if (a.rec.startNs !== b.rec.startNs) return a.rec.startNs < b.rec.startNs ? -1 : 1;
  if (a.rec.spanId !== b.rec.spanId) return a.rec.spanId < b.rec.spanId ? -1 : 1;
  return 0;
}

/**
 * Builds the span tree of one trace. Robust to what real pipelines deliver:
 * a span id stored twice (a retried emit) keeps one copy, the longer; a span
 * whose parent is missing becomes an extra root flagged `orphan`, and so does
 * the earliest span of a parent cycle, so every span appears exactly once.
 *
 * The critical path starts at the main root (the root span, parent 0, that
 * ends last; any top-level span when there is none) and repeatedly follows
 * the child that ends last among those overlapping their parent's interval:
 * work a caller waited for, not fire-and-forget work that outlived it.
 */
export function assembleTrace(records: readonly SpanRecord[]): AssembledTrace | undefined {
  const byId = new Map<bigint, Work>();
  let duplicateRows = 0;
  for (const rec of records) {
    const seen = byId.get(rec.spanId);
    if (seen) {
      duplicateRows++;
      if (rec.durationNs > seen.rec.durationNs) {
        seen.rec = rec;
        seen.endNs = rec.startNs + rec.durationNs;
      }
      continue;
    }
    byId.set(rec.spanId, { rec, endNs: rec.startNs + rec.durationNs, parent: undefined, children: [], orphan: false });
  }
  if (byId.size === 0) return undefined;
  const all = [...byId.values()].sort(byStartThenId);

  const tops: Work[] = [];
  for (const w of all) {
    const parent = w.rec.parentId === 0n ? undefined : byId.get(w.rec.parentId);
    if (w.rec.parentId === 0n) {
      tops.push(w);
    } else if (!parent || parent === w) {
      w.orphan = true;
      tops.push(w);
    } else {
      w.parent = parent;
      parent.children.push(w);
    }
  }

  // Spans not reachable from a top-level span hang in a parent cycle: cut each
  // cycle at its earliest span, which becomes an orphan root.
  const reached = new Set<Work>();
  const reach = (from: Work): void => {
    const stack = [from];
    while (stack.length > 0) {
      const w = stack.pop() as Work;
      if (reached.has(w)) continue;
      reached.add(w);
      stack.push(...w.children);
    }
  };
  for (const t of tops) reach(t);
  for (const w of all) {
    if (reached.has(w)) continue;
    if (w.parent) w.parent.children = w.parent.children.filter((c) => c !== w);
    w.parent = undefined;
    w.orphan = true;
    tops.push(w);
    reach(w);
  }

  tops.sort(byStartThenId);
  for (const w of all) w.children.sort(byStartThenId);

  const onPath = new Set<Work>();
  const roots = tops.filter((t) => !t.orphan);
  let current: Work | undefined;
  for (const t of roots.length > 0 ? roots : tops) if (!current || t.endNs > current.endNs) current = t;
  while (current) {
    onPath.add(current);
    let next: Work | undefined;
    for (const c of current.children) {
      const overlaps = c.rec.startNs <= current.endNs && c.endNs >= current.rec.startNs;
      if (overlaps && (!next || c.endNs > next.endNs)) next = c;
    }
    current = next;
  }

  const startNs = all.reduce((m, w) => (w.rec.startNs < m ? w.rec.startNs : m), (all[0] as Work).rec.startNs);
  const endNs = all.reduce((m, w) => (w.endNs > m ? w.endNs : m), (all[0] as Work).endNs);

  const node = (w: Work, depth: number): TraceNode => ({
    span_id: w.rec.spanId.toString(),
    span_id_hex: hexId(w.rec.spanId),
    parent_id: w.rec.parentId.toString(),
    service: w.rec.service,
    name: w.rec.name,
    start: nsToRfc3339(w.rec.startNs),
    duration_ms: nsToMs(w.rec.durationNs),
    self_ms: nsToMs(selfNs(w)),
    offset_ms: nsToMs(w.rec.startNs - startNs),
    error: w.rec.error,
    indicator: w.rec.indicator,
    tags: w.rec.tags,
    depth,
    orphan: w.orphan,
    on_critical_path: onPath.has(w),
    children: w.children.map((c) => node(c, depth + 1)),
  });

  return {
    startNs,
    endNs,
    spanCount: all.length,
    errorCount: all.filter((w) => w.rec.error).length,
    duplicateRows,
    services: [...new Set(all.map((w) => w.rec.service))].sort(),
    rootSpanIds: roots.map((r) => r.rec.spanId.toString()),
    spans: tops.map((t) => node(t, 0)),
    criticalPath: [...onPath].map((w) => w.rec.spanId.toString()),
  };
}

/** The span's duration minus the union of its children's intervals, each clipped to the span. */
function selfNs(w: Work): bigint {
  const s = w.rec.startNs;
  const e = w.endNs;
  const intervals = w.children
    .map((c): [bigint, bigint] => [c.rec.startNs > s ? c.rec.startNs : s, c.endNs < e ? c.endNs : e])
    .filter(([a, b]) => b > a)
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  let covered = 0n;
  let open: [bigint, bigint] | undefined;
  for (const [a, b] of intervals) {
    if (open && a <= open[1]) {
      if (b > open[1]) open[1] = b;
    } else {
      if (open) covered += open[1] - open[0];
      open = [a, b];
    }
  }
  if (open) covered += open[1] - open[0];
  return e - s - covered;
}
