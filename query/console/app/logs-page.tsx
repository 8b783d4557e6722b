import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson } from './api.js';
import type { LogHistogram, LogRow, LogsAnswer } from './api.js';
import { fmtNum, fmtTime, resolveTime, traceIdOf, tracePath } from './format.js';
import { setQuery, useLocation } from './router.js';
import { Empty, ErrorBox, Highlighted, Link, Loading, TimeRange, useAsync, useRange, useSize } from './ui.js';

const SEVERITIES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const PAGE = 200;
const TAIL_MS = 2000;
const TAIL_KEEP = 1000;

const rowKey = (l: LogRow): string => `${l.timestamp}|${l.service}|${l.span_id}|${l.body}`;

/** Matches over time as bars; drag across it to narrow the range to the part dragged. */
function Histogram({ data, fromMs, toMs }: { data: LogHistogram; fromMs: number; toMs: number }): JSX.Element {
  const [ref, width] = useSize<HTMLDivElement>();
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const H = 90;
  const max = Math.max(1, ...data.buckets.map((b) => b[1]));
  const span = Math.max(1, toMs - fromMs);
  const x = (ms: number): number => ((ms - fromMs) / span) * width;
  const bw = Math.max(1, (data.step_ms / span) * width - 1);
  const at = (e: MouseEvent): number => {
    const rect = (e.currentTarget as SVGElement).getBoundingClientRect();
    return Math.min(width, Math.max(0, e.clientX - rect.left));
  };
  const finish = (): void => {
    if (drag && Math.abs(drag[1] - drag[0]) > 3) {
      const a = fromMs + (Math.min(...drag) / width) * span;
      const b = fromMs + (Math.max(...drag) / width) * span;
      setQuery({ from: String(Math.floor(a)), to: String(Math.ceil(b)) });
    }
    setDrag(null);
  };
  const labels = [0, 0.25, 0.5, 0.75, 1].map((f) => fromMs + f * span);
  return (
    <figure class="histogram" ref={ref}>
      <figcaption class="sr-only">Log matches over time: {data.total} in total</figcaption>
      <svg
        width={width}
        height={H + 16}
        role="img"
        aria-label={`Histogram of ${data.total} matching logs; drag to zoom`}
        onMouseDown={(e) => setDrag([at(e), at(e)])}
        onMouseMove={(e) => drag && setDrag([drag[0], at(e)])}
        onMouseUp={finish}
        onMouseLeave={() => setDrag(null)}
      >
        {data.buckets.map(([t, n, errors]) => {
          const h = (n / max) * H;
          const he = (errors / max) * H;
          return (
            <g>
              <rect class="bar" x={x(t)} y={H - h} width={bw} height={h}>
                <title>{`${fmtTime(t)}: ${n} logs, ${errors} error`}</title>
              </rect>
              {errors > 0 && <rect class="bar-err" x={x(t)} y={H - he} width={bw} height={he} />}
            </g>
          );
        })}
        {labels.map((t, i) => (
          <text class="axis" x={Math.min(width - 60, Math.max(0, x(t) - (i === 0 ? 0 : 30)))} y={H + 13}>
            {fmtTime(t).slice(0, 8)}
          </text>
        ))}
        {drag && <rect class="drag" x={Math.min(...drag)} y={0} width={Math.abs(drag[1] - drag[0])} height={H} />}
      </svg>
    </figure>
  );
}

function LogLine({ log }: { log: LogRow }): JSX.Element {
  const [open, setOpen] = useState(false);
  const attrs = Object.entries(log.attributes);
  return (
    <li class={`log-line lvl-${log.severity}`}>
      <button type="button" class="expand" aria-expanded={open} aria-label={open ? 'Hide attributes' : 'Show attributes'} onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'}
      </button>
      <time class="ts" dateTime={log.timestamp}>
        {fmtTime(log.timestamp)}
      </time>
      <span class={`sev sev-${log.severity}`}>{log.severity}</span>
      <span class="svc">{log.service}</span>
      <span class="body">
        <Highlighted text={log.body} ranges={log.highlights} />
      </span>
      {log.links.trace ? (
        <Link href={tracePath(traceIdOf(log))} class="trace-link small" title="Open the trace of this log">
          trace {traceIdOf(log).slice(0, 8)}…
        </Link>
      ) : (
        <span />
      )}
      {open && (
        <dl class="kv compact log-attrs">
          <dt>timestamp</dt>
          <dd>{log.timestamp}</dd>
          <dt>trace</dt>
          <dd>{traceIdOf(log)}</dd>
          <dt>span</dt>
          <dd>{log.span_id_hex}</dd>
          {attrs.map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </>
          ))}
        </dl>
      )}
    </li>
  );
}

/** /logs: the search language of /v1/logs, a histogram, facets, live tail and cursor paging. */
export function LogsPage(): JSX.Element {
  const { query } = useLocation();
  const { from, to } = useRange();
  const q = query.get('q') ?? '';
  const services = query.getAll('service');
  const severity = query.get('severity') ?? '';
  const traceId = query.get('trace_id') ?? '';
  const order = query.get('order') === 'asc' ? 'asc' : 'desc';
  const live = query.get('live') === '1';
  const limit = Math.min(1000, Math.max(1, Number(query.get('limit') ?? PAGE) || PAGE));
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]);

  const filters = { q: q || undefined, service: services, severity: severity || undefined, trace_id: traceId || undefined, from, to };
  const key = JSON.stringify({ ...filters, order, limit });
  const page = useAsync(key, (signal) => getJson<LogsAnswer>('/v1/logs', { ...filters, order, limit }, signal));
  const histogram = useAsync(`${JSON.stringify(filters)}`, (signal) => getJson<LogHistogram>('/v1/logs/histogram', filters, signal));
  const [more, setMore] = useState<{ key: string; logs: LogRow[]; cursor: string | null; loading: boolean }>({
    key: '',
    logs: [],
    cursor: null,
    loading: false,
  });
  const [tail, setTail] = useState<{ key: string; logs: LogRow[] }>({ key: '', logs: [] });
  const seen = useRef(new Set<string>());

  // Live tail: every 2 s, the logs since the newest one shown, oldest first, added on top.
  useEffect(() => {
    if (!live) return;
    seen.current = new Set();
    let since = Date.now() - 10_000;
    let stopped = false;
    const tick = async (): Promise<void> => {
      try {
        const a = await getJson<LogsAnswer>('/v1/logs', { ...filters, from: String(since), to: 'now', order: 'asc', limit: 1000 }, undefined, true);
        if (stopped) return;
        const fresh = a.logs.filter((l) => !seen.current.has(rowKey(l)));
        for (const l of fresh) seen.current.add(rowKey(l));
        const last = a.logs[a.logs.length - 1];
        if (last) since = Math.floor(Date.parse(last.timestamp));
        if (fresh.length > 0) setTail((t) => ({ key, logs: [...fresh.reverse(), ...(t.key === key ? t.logs : [])].slice(0, TAIL_KEEP) }));
      } catch {
        // shown by the main search; the tail retries
      }
    };
    void tick();
    const timer = setInterval(() => void tick(), TAIL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [live, key]);

  const loadMore = async (cursor: string): Promise<void> => {
    setMore((m) => ({ ...m, loading: true }));
    const a = await getJson<LogsAnswer>('/v1/logs', { ...filters, order, limit, cursor });
    setMore((m) => ({ key, logs: [...(m.key === key ? m.logs : []), ...a.logs], cursor: a.next_cursor, loading: false }));
  };

  const toggleService = (s: string): void => setQuery({ service: services.includes(s) ? services.filter((x) => x !== s) : [...services, s] });
  const fromMs = histogram.state === 'done' ? histogram.value.from : resolveTime(from);
  const toMs = histogram.state === 'done' ? histogram.value.to : resolveTime(to);

  return (
    <section class="logs-page" aria-labelledby="logs-h">
      <div class="page-head">
        <h1 id="logs-h">Logs</h1>
        <TimeRange />
      </div>
      <form
        class="search-bar"
        aria-label="Search logs"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ q: text.trim() || null });
        }}
      >
        <label class="grow">
          <span class="sr-only">Log search</span>
          <input
            name="q"
            class="mono"
            placeholder='timeout "connection reset" -retry service:api severity:>=warn attr.region:eu'
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary">
          Search
        </button>
        <label class="check">
          <input type="checkbox" checked={live} onChange={() => setQuery({ live: live ? null : '1' })} /> Live tail
        </label>
        <label>
          Order
          <select value={order} onChange={(e) => setQuery({ order: e.currentTarget.value === 'asc' ? 'asc' : null })}>
            <option value="desc">newest first</option>
            <option value="asc">oldest first</option>
          </select>
        </label>
      </form>
      {traceId && (
        <p class="filter-note">
          Logs of trace{' '}
          <Link href={tracePath(traceId.replace(/^0x/, ''))}>
            <code>{traceId}</code>
          </Link>{' '}
          ·{' '}
          <button type="button" class="link-button" onClick={() => setQuery({ trace_id: null })}>
            show all logs
          </button>
        </p>
      )}
      <div class="logs-layout">
        <aside class="facets" aria-label="Facets">
          <h2>Severity</h2>
          <ul>
            <li>
              <label class="check">
                <input type="radio" name="sev" checked={severity === ''} onChange={() => setQuery({ severity: null })} /> any
              </label>
            </li>
            {SEVERITIES.map((s) => {
              const n = histogram.state === 'done' ? (histogram.value.severities.find((x) => x.severity === s)?.count ?? 0) : null;
              return (
                <li>
                  <label class="check">
                    <input type="radio" name="sev" checked={severity === s} onChange={() => setQuery({ severity: s })} />{' '}
                    <span class={`sev sev-${s}`}>≥ {s}</span> <span class="count">{n === null ? '' : fmtNum(n)}</span>
                  </label>
                </li>
              );
            })}
          </ul>
          <h2>Service</h2>
          <ul>
            {histogram.state === 'done' &&
              [...new Set([...histogram.value.services.map((s) => s.service), ...services])].map((s) => {
                const n = histogram.state === 'done' ? (histogram.value.services.find((x) => x.service === s)?.count ?? 0) : 0;
                return (
                  <li>
                    <label class="check">
                      <input type="checkbox" checked={services.includes(s)} onChange={() => toggleService(s)} /> {s} <span class="count">{fmtNum(n)}</span>
                    </label>
                  </li>
                );
              })}
          </ul>
        </aside>
        <div class="logs-main">
          {histogram.state === 'error' && <ErrorBox error={histogram.error} />}
          {histogram.state === 'done' && (
            <>
              <p class="muted result-count">
                {fmtNum(histogram.value.total)} matching logs · {Math.round(histogram.value.step_ms / 1000)} s per bar · drag across the chart to zoom
              </p>
              <Histogram data={histogram.value} fromMs={fromMs} toMs={toMs} />
            </>
          )}
          {page.state === 'loading' && <Loading what="Searching logs" />}
          {page.state === 'error' && <ErrorBox error={page.error} />}
          {page.state === 'done' &&
            (page.value.logs.length === 0 && (tail.key !== key || tail.logs.length === 0) ? (
              <Empty>No log matches in this range.</Empty>
            ) : (
              <>
                <ol class="log-list" aria-label="Log lines">
                  {live && tail.key === key && tail.logs.map((l) => <LogLine log={l} />)}
                  {page.value.logs.map((l) => (
                    <LogLine log={l} />
                  ))}
                  {more.key === key && more.logs.map((l) => <LogLine log={l} />)}
                </ol>
                {(() => {
                  const cursor = more.key === key ? more.cursor : page.value.next_cursor;
                  return cursor ? (
                    <button type="button" class="more" disabled={more.loading} onClick={() => void loadMore(cursor)}>
                      {more.loading ? 'Loading…' : order === 'desc' ? 'Older logs' : 'Newer logs'}
                    </button>
                  ) : (
                    <p class="muted end">End of results.</p>
                  );
                })()}
              </>
            ))}
        </div>
      </div>
    </section>
  );
}
