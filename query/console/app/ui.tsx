import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { navigate, onLinkClick, queryWith, setQuery, useLocation } from './router.js';

export function Link(props: { href: string; class?: string; title?: string; children: ComponentChildren; 'aria-label'?: string }): JSX.Element {
  return (
    <a href={props.href} class={props.class} title={props.title} aria-label={props['aria-label']} onClick={onLinkClick}>
      {props.children}
    </a>
  );
}

export type Async<T> = { state: 'loading' } | { state: 'done'; value: T } | { state: 'error'; error: Error };

/** Runs `load` whenever `key` changes; the previous run is aborted. Keeps the last value while reloading when `keep`. */
export function useAsync<T>(key: string, load: (signal: AbortSignal) => Promise<T>): Async<T> & { reload: () => void } {
  const [result, setResult] = useState<Async<T>>({ state: 'loading' });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setResult((r) => (r.state === 'done' ? r : { state: 'loading' }));
    load(ctl.signal).then(
      (value) => {
        if (!ctl.signal.aborted) setResult({ state: 'done', value });
      },
      (error: unknown) => {
        if (!ctl.signal.aborted) setResult({ state: 'error', error: error instanceof Error ? error : new Error(String(error)) });
      },
    );
    return () => ctl.abort();
  }, [key, nonce]);
  return { ...result, reload: () => setNonce((n) => n + 1) };
}

export function ErrorBox({ error }: { error: Error }): JSX.Element {
  const code = error instanceof ApiError ? error.code : 'ERROR';
  return (
    <div class="error-box" role="alert">
      <strong>{code}</strong> {error.message}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }): JSX.Element {
  return (
    <div class="loading" role="status">
      {what}…
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }): JSX.Element {
  return <div class="empty">{children}</div>;
}

const PRESETS = [
  ['5m', 'now-5m'],
  ['15m', 'now-15m'],
  ['1h', 'now-1h'],
  ['6h', 'now-6h'],
  ['24h', 'now-24h'],
  ['7d', 'now-7d'],
] as const;

/** The time range of the page, in the URL (`from`, `to`: the API's forms). */
export function useRange(defaultFrom = 'now-1h'): { from: string; to: string } {
  const { query } = useLocation();
  return { from: query.get('from') ?? defaultFrom, to: query.get('to') ?? 'now' };
}

function shown(t: string): string {
  return /^\d{10,16}$/.test(t) ? new Date(Number(t)).toISOString().replace('.000Z', 'Z') : t;
}

export function TimeRange({ defaultFrom = 'now-1h' }: { defaultFrom?: string }): JSX.Element {
  const { from, to } = useRange(defaultFrom);
  const [f, setF] = useState(shown(from));
  const [t, setT] = useState(shown(to));
  useEffect(() => {
    setF(shown(from));
    setT(shown(to));
  }, [from, to]);
  const apply = (e: Event): void => {
    e.preventDefault();
    setQuery({ from: f.trim() || null, to: t.trim() === 'now' ? null : t.trim() || null, cursor: null });
  };
  return (
    <form class="time-range" onSubmit={apply} aria-label="Time range">
      <fieldset class="presets">
        <legend class="sr-only">Quick ranges</legend>
        {PRESETS.map(([label, value]) => (
          <button
            type="button"
            class={from === value && to === 'now' ? 'preset active' : 'preset'}
            aria-pressed={from === value && to === 'now'}
            onClick={() => setQuery({ from: value, to: null, cursor: null })}
          >
            {label}
          </button>
        ))}
      </fieldset>
      <label>
        From <input name="from" size={14} value={f} onInput={(e) => setF(e.currentTarget.value)} />
      </label>
      <label>
        To <input name="to" size={14} value={t} onInput={(e) => setT(e.currentTarget.value)} />
      </label>
      <button type="submit">Apply</button>
    </form>
  );
}

/** A table with clickable column headers that sort (state in the URL as `sort=key` / `sort=-key`). */
export interface Column<T> {
  key: string;
  label: string;
  value: (row: T) => number | string;
  render?: (row: T) => ComponentChildren;
  numeric?: boolean;
}

export function SortableTable<T>({
  rows,
  columns,
  defaultSort,
  caption,
  rowClass,
}: {
  rows: readonly T[];
  columns: Array<Column<T>>;
  defaultSort: string;
  caption: string;
  rowClass?: (row: T) => string;
}): JSX.Element {
  const { query } = useLocation();
  const sort = query.get('sort') ?? defaultSort;
  const desc = sort.startsWith('-');
  const key = desc ? sort.slice(1) : sort;
  const col = columns.find((c) => c.key === key) ?? columns[0];
  const sorted = col
    ? [...rows].sort((a, b) => {
        const x = col.value(a);
        const y = col.value(b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return desc ? -c : c;
      })
    : rows;
  return (
    <table class="grid">
      <caption class="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => {
            const active = c.key === key;
            const next = active && !desc ? `-${c.key}` : c.key;
            return (
              <th scope="col" class={c.numeric ? 'num' : ''} aria-sort={active ? (desc ? 'descending' : 'ascending') : 'none'}>
                <button type="button" class="sort" onClick={() => navigate(location.pathname + queryWith({ sort: next }), true)}>
                  {c.label}
                  {active ? (desc ? ' ▾' : ' ▴') : ''}
                </button>
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>
        {sorted.map((r) => (
          <tr class={rowClass?.(r)}>
            {columns.map((c) => (
              <td class={c.numeric ? 'num' : ''}>{c.render ? c.render(r) : c.value(r)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Text with `[start, end)` ranges marked (UTF-16 offsets, as the log API gives them). Text nodes only. */
export function Highlighted({ text, ranges }: { text: string; ranges: ReadonlyArray<readonly [number, number]> }): JSX.Element {
  const parts: ComponentChildren[] = [];
  let at = 0;
  for (const [s, e] of ranges) {
    if (s < at || e > text.length) continue;
    if (s > at) parts.push(text.slice(at, s));
    parts.push(<mark>{text.slice(s, e)}</mark>);
    at = e;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}

/** Keeps an element's size in state (for charts and virtual lists). */
export function useSize<E extends HTMLElement>(): [preactRef: { current: E | null }, width: number, height: number] {
  const ref = useRef<E | null>(null);
  const [size, setSize] = useState<[number, number]>([0, 0]);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setSize([el.clientWidth, el.clientHeight]));
    ro.observe(el);
    setSize([el.clientWidth, el.clientHeight]);
    return () => ro.disconnect();
  }, []);
  return [ref, size[0], size[1]];
}
