import { useEffect, useState } from 'preact/hooks';

// The URL is the state: every page reads its filters from location, and
// changing a filter is a navigation (replace for typing, push for a new view).

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

export function navigate(url: string, replace = false): void {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const l of listeners) l();
}

/** Re-renders on every navigation; returns the path and the query. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setN] = useState(0);
  useEffect(() => {
    const l = (): void => setN((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** The current query with `changes` applied (null or '' removes a key; arrays repeat it). */
export function queryWith(changes: Record<string, string | readonly string[] | null | undefined>, base = new URLSearchParams(location.search)): string {
  const q = new URLSearchParams(base);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) continue;
    q.delete(k);
    if (v === null || v === '') continue;
    if (Array.isArray(v)) for (const x of v as readonly string[]) q.append(k, x);
    else q.set(k, v as string);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Sets query keys on the current page. */
export function setQuery(changes: Record<string, string | readonly string[] | null | undefined>, replace = false): void {
  navigate(location.pathname + queryWith(changes), replace);
}

/** An in-app link click: plain left click navigates without a reload; others (new tab) go to the browser. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.currentTarget as HTMLAnchorElement | null;
  const href = a?.getAttribute('href');
  if (!href?.startsWith('/')) return;
  event.preventDefault();
  navigate(href);
}
