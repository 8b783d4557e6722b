import type { JSX } from 'preact';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { isTokenWanted, onBusyChange, onTokenChange, setToken, token } from './api.js';
import { LogsPage } from './logs-page.js';
import { MetricsPage } from './metrics-page.js';
import { OverviewPage } from './overview-page.js';
import { useLocation } from './router.js';
import { ServicesPage } from './services-page.js';
import { SloPage } from './slo-page.js';
import { SqlPage } from './sql-page.js';
import { TracePage } from './trace-page.js';
import { TracesPage } from './traces-page.js';
import { Link } from './ui.js';
import './styles.css';

const NAV = [
  ['/', 'Overview'],
  ['/traces', 'Traces'],
  ['/logs', 'Logs'],
  ['/metrics', 'Metrics'],
  ['/services', 'Services'],
  ['/slo', 'SLOs'],
  ['/sql', 'SQL'],
] as const;

/** Carries the time range across pages (the URL is the state; other filters stay with their page). */
function navHref(path: string, query: URLSearchParams): string {
  const keep = new URLSearchParams();
  for (const k of ['from', 'to']) {
    const v = query.get(k);
    if (v) keep.set(k, v);
  }
  const s = keep.toString();
  return s ? `${path}?${s}` : path;
}

function TokenForm(): JSX.Element {
  const [value, setValue] = useState('');
  const input = useRef<HTMLInputElement | null>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <div class="token-overlay" role="dialog" aria-modal="true" aria-labelledby="token-h">
      <form
        class="token-form"
        onSubmit={(e) => {
          e.preventDefault();
          setToken(value.trim() || null);
        }}
      >
        <h2 id="token-h">A token is needed</h2>
        <p>This pipeline checks tokens. Give one with read access; it is kept for this tab only.</p>
        <label>
          Token <input ref={input} type="password" autoComplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">
          Use token
        </button>
      </form>
    </div>
  );
}

function Page({ path }: { path: string }): JSX.Element {
  const trace = /^\/traces\/([^/]+)$/.exec(path);
  if (trace) return <TracePage traceId={decodeURIComponent(trace[1] as string)} />;
  switch (path) {
    case '/traces':
      return <TracesPage />;
    case '/logs':
      return <LogsPage />;
    case '/metrics':
      return <MetricsPage />;
    case '/services':
      return <ServicesPage />;
    case '/slo':
      return <SloPage />;
    case '/sql':
      return <SqlPage />;
    case '/':
      return <OverviewPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>No page at {path}.</p>
        </section>
      );
  }
}

function App(): JSX.Element {
  const { path, query } = useLocation();
  const [tokenState, setTokenState] = useState(0);
  const [busy, setBusy] = useState(false);
  useEffect(() => onTokenChange(() => setTokenState((n) => n + 1)), []);
  useEffect(() => onBusyChange(setBusy), []);
  useEffect(() => {
    const title = NAV.find(([p]) => p !== '/' && path.startsWith(p))?.[1] ?? 'Overview';
    document.title = `${title} · SSF console`;
  }, [path]);
  const section = NAV.find(([p]) => (p === '/' ? path === '/' : path === p || path.startsWith(`${p}/`)))?.[0];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          ssf<span>console</span>
        </Link>
        <nav aria-label="Sections">
          {NAV.map(([p, label]) => (
            <a
              href={navHref(p, query)}
              class={section === p ? 'active' : ''}
              aria-current={section === p ? 'page' : undefined}
              onClick={(e) => {
                if (!e.ctrlKey && !e.metaKey && !e.shiftKey && e.button === 0) {
                  e.preventDefault();
                  history.pushState(null, '', navHref(p, query));
                  dispatchEvent(new PopStateEvent('popstate'));
                }
              }}
            >
              {label}
            </a>
          ))}
        </nav>
        <div class={busy ? 'progress on' : 'progress'} aria-hidden="true" />
        {token() ? (
          <button type="button" class="link-button token-out" onClick={() => setToken(null)}>
            Forget token
          </button>
        ) : null}
      </header>
      <main id="main" key={tokenState}>
        <Page path={path} />
      </main>
      {isTokenWanted() && <TokenForm />}
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
