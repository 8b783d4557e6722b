import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { SpanNode } from './api.js';
import { fmtMs, serviceColor } from './format.js';

export const ROW_HEIGHT = 22;
const OVERSCAN = 12;

export interface Row {
  span: SpanNode;
  depth: number;
  hasChildren: boolean;
  collapsed: boolean;
  /** Spans under it, all levels (shown when it is collapsed). */
  hidden: number;
}

function countBelow(s: SpanNode): number {
  let n = 0;
  const stack = [...s.children];
  while (stack.length > 0) {
    const x = stack.pop() as SpanNode;
    n++;
    stack.push(...x.children);
  }
  return n;
}

/** The tree as the rows shown: depth first, children of collapsed spans left out. Iterative (a deep trace must not overflow the stack). */
export function visibleRows(roots: readonly SpanNode[], collapsed: ReadonlySet<string>): Row[] {
  const rows: Row[] = [];
  const stack: Array<[SpanNode, number]> = roots.map((r): [SpanNode, number] => [r, 0]).reverse();
  while (stack.length > 0) {
    const [span, depth] = stack.pop() as [SpanNode, number];
    const isCollapsed = collapsed.has(span.span_id) && span.children.length > 0;
    rows.push({ span, depth, hasChildren: span.children.length > 0, collapsed: isCollapsed, hidden: isCollapsed ? countBelow(span) : 0 });
    if (!isCollapsed) for (let i = span.children.length - 1; i >= 0; i--) stack.push([span.children[i] as SpanNode, depth + 1]);
  }
  return rows;
}

function ticks(totalMs: number): number[] {
  if (totalMs <= 0) return [0];
  const raw = totalMs / 6;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = 0; t <= totalMs + 1e-9; t += step) out.push(t);
  return out;
}

interface Props {
  rows: Row[];
  totalMs: number;
  selected: string | null;
  onSelect: (spanId: string) => void;
  onToggle: (spanId: string) => void;
  /** Scroll requests from outside (the minimap): a row index. */
  scrollTo: { row: number; n: number } | null;
  onViewport: (firstRow: number, visibleRows: number) => void;
}

/**
 * The span rows: a name column and a bar on the trace's time axis. Only the
 * rows in view (plus a margin) are in the DOM, so a 10,000-span trace
 * scrolls like a short one.
 */
export function Waterfall({ rows, totalMs, selected, onSelect, onToggle, scrollTo, onViewport }: Props): JSX.Element {
  const box = useRef<HTMLDivElement | null>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    if (scrollTo && box.current) box.current.scrollTop = Math.max(0, scrollTo.row * ROW_HEIGHT - height / 3);
  }, [scrollTo]);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => onViewport(Math.floor(scrollTop / ROW_HEIGHT), Math.ceil(height / ROW_HEIGHT)), [scrollTop, height, rows.length]);
  const axis = useMemo(() => ticks(totalMs), [totalMs]);
  const pct = (ms: number): string => `${totalMs > 0 ? (ms / totalMs) * 100 : 0}%`;

  const onKeyDown = (e: KeyboardEvent): void => {
    const at = rows.findIndex((r) => r.span.span_id === selected);
    let next = at;
    if (e.key === 'ArrowDown') next = Math.min(rows.length - 1, at + 1);
    else if (e.key === 'ArrowUp') next = Math.max(0, at - 1);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      const r = rows[at];
      if (r?.hasChildren && (e.key === 'ArrowLeft') !== r.collapsed) onToggle(r.span.span_id);
      e.preventDefault();
      return;
    } else return;
    e.preventDefault();
    const r = rows[next];
    if (!r) return;
    onSelect(r.span.span_id);
    const el = box.current;
    if (el) {
      const top = next * ROW_HEIGHT;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + ROW_HEIGHT * 2 > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT * 2 - el.clientHeight;
    }
  };

  return (
    <div class="waterfall">
      <div class="wf-axis" aria-hidden="true">
        <div class="wf-name-col">Service / operation</div>
        <div class="wf-time-col">
          {axis.map((t) => (
            <span class="tick" style={{ left: pct(t) }}>
              {fmtMs(t)}
            </span>
          ))}
        </div>
      </div>
      <div
        class="wf-scroll"
        ref={box}
        tabIndex={0}
        role="tree"
        aria-label={`Spans (${rows.length} shown); arrow keys move, left and right fold`}
        aria-activedescendant={selected ? `span-${selected}` : undefined}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        onKeyDown={onKeyDown}
      >
        <div class="wf-inner" style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
          {axis.map((t) => (
            <div class="wf-gridline" style={{ left: `calc(var(--name-col) + (100% - var(--name-col) - 70px) * ${totalMs > 0 ? t / totalMs : 0})` }} />
          ))}
          {rows.slice(first, last).map((r, i) => {
            const s = r.span;
            const idx = first + i;
            const cls = ['wf-row', s.error ? 'error' : '', s.on_critical_path ? 'crit' : '', s.span_id === selected ? 'selected' : ''].join(' ');
            return (
              // biome-ignore lint/a11y/useKeyWithClickEvents lint/a11y/useFocusableInteractive: the tree (the scrolling box) takes the focus and the keys; rows are its items (aria-activedescendant).
              <div
                id={`span-${s.span_id}`}
                class={cls}
                role="treeitem"
                aria-level={r.depth + 1}
                aria-selected={s.span_id === selected}
                aria-expanded={r.hasChildren ? !r.collapsed : undefined}
                data-span-id={s.span_id_hex}
                style={{ top: `${idx * ROW_HEIGHT}px` }}
                onClick={() => onSelect(s.span_id)}
              >
                <div class="wf-name" style={{ paddingLeft: `${4 + r.depth * 14}px` }}>
                  {r.hasChildren ? (
                    <button
                      type="button"
                      tabIndex={-1}
                      class="fold"
                      aria-label={r.collapsed ? 'Expand' : 'Collapse'}
                      onClick={(e) => {
                        e.stopPropagation();
                        onToggle(s.span_id);
                      }}
                    >
                      {r.collapsed ? '▸' : '▾'}
                    </button>
                  ) : (
                    <span class="fold-space" />
                  )}
                  <span class="svc-dot" style={{ background: serviceColor(s.service) }} />
                  <span class="svc">{s.service}</span>
                  <span class="op">{s.name}</span>
                  {r.collapsed && <span class="hidden-count">+{r.hidden}</span>}
                  {s.error && (
                    <span class="badge err" title="error">
                      error
                    </span>
                  )}
                  {s.orphan && (
                    <span class="badge warn" title="parent not in the trace">
                      orphan
                    </span>
                  )}
                </div>
                <div class="wf-track">
                  <div
                    class="wf-bar"
                    title={`${s.service} ${s.name}: ${fmtMs(s.duration_ms)} at +${fmtMs(s.offset_ms)}${s.on_critical_path ? ' (critical path)' : ''}`}
                    style={{ left: pct(s.offset_ms), width: `max(2px, ${pct(s.duration_ms)})`, background: s.error ? 'var(--err)' : serviceColor(s.service) }}
                  />
                  <span class="wf-dur" style={{ left: `calc(${pct(s.offset_ms + s.duration_ms)} + 4px)` }}>
                    {fmtMs(s.duration_ms)}
                  </span>
                </div>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

/**
 * The whole trace at a glance: one line per row (in the current order) on
 * the time axis, and the part in view. A click scrolls there.
 */
export function Minimap({
  rows,
  totalMs,
  first,
  visible,
  onJump,
}: {
  rows: Row[];
  totalMs: number;
  first: number;
  visible: number;
  onJump: (row: number) => void;
}): JSX.Element {
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const H = 56;
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const w = c.clientWidth || 800;
    const dpr = window.devicePixelRatio || 1;
    c.width = w * dpr;
    c.height = H * dpr;
    const g = c.getContext('2d');
    if (!g) return;
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, H);
    const rowH = H / Math.max(rows.length, 1);
    for (let i = 0; i < rows.length; i++) {
      const s = (rows[i] as Row).span;
      g.fillStyle = s.error ? '#e5484d' : serviceColor(s.service);
      const x = totalMs > 0 ? (s.offset_ms / totalMs) * w : 0;
      const bw = Math.max(1, totalMs > 0 ? (s.duration_ms / totalMs) * w : w);
      g.fillRect(x, i * rowH, bw, Math.max(rowH, 0.6));
    }
  }, [rows, totalMs]);
  const top = rows.length > 0 ? (first / rows.length) * 100 : 0;
  const height = rows.length > 0 ? Math.min(100, (visible / rows.length) * 100) : 100;
  const jump = (e: MouseEvent): void => {
    const rect = (e.currentTarget as HTMLElement).getBoundingClientRect();
    onJump(Math.floor(((e.clientY - rect.top) / rect.height) * rows.length));
  };
  return (
    <div class="minimap" onClick={jump} title="Click to scroll there" aria-hidden="true">
      <canvas ref={canvas} />
      <div class="minimap-view" style={{ top: `${top}%`, height: `${height}%` }} />
    </div>
  );
}
