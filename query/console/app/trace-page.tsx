import type { JSX } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { getJson } from './api.js';
import type { SpanNode, Trace, TraceLog } from './api.js';
import { fmtMs, fmtNum, fmtTime, serviceColor, traceIdOf } from './format.js';
import { setQuery, useLocation } from './router.js';
import { ErrorBox, Link, Loading, useAsync } from './ui.js';
import { Minimap, visibleRows, Waterfall } from './waterfall.js';

function indexSpans(roots: readonly SpanNode[]): Map<string, SpanNode> {
  const byId = new Map<string, SpanNode>();
  const stack = [...roots];
  while (stack.length > 0) {
    const s = stack.pop() as SpanNode;
    byId.set(s.span_id, s);
    stack.push(...s.children);
  }
  return byId;
}

function logsHref(t: Trace): string {
  const q = new URL(t.links.logs, location.origin).searchParams;
  const id = q.get('trace_id') ?? traceIdOf(t);
  return `/logs?trace_id=${encodeURIComponent(id)}&from=${q.get('from') ?? ''}&to=${q.get('to') ?? ''}&order=asc`;
}

function KeyValues({ values, empty }: { values: Record<string, string>; empty: string }): JSX.Element {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <p class="muted">{empty}</p>;
  return (
    <dl class="kv">
      {entries.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </>
      ))}
    </dl>
  );
}

function LogLines({ logs, onSpan }: { logs: readonly TraceLog[]; onSpan?: (spanId: string) => void }): JSX.Element {
  if (logs.length === 0) return <p class="muted">No log records.</p>;
  return (
    <ol class="trace-logs">
      {logs.map((l) => (
        <li class={`lvl-${l.severity}`}>
          <span class="ts">+{fmtMs(l.offset_ms)}</span>
          <span class={`sev sev-${l.severity}`}>{l.severity}</span>
          <span class="svc">{l.service}</span>
          {onSpan ? (
            <button type="button" class="link-button body" onClick={() => onSpan(l.span_id)}>
              {l.body}
            </button>
          ) : (
            <span class="body">{l.body}</span>
          )}
        </li>
      ))}
    </ol>
  );
}

function SpanDetail({ trace, span }: { trace: Trace; span: SpanNode }): JSX.Element {
  const logs = trace.logs.filter((l) => l.span_id === span.span_id);
  const samples = trace.samples.filter((s) => s.span_id === span.span_id);
  return (
    <div class="span-detail">
      <h2>
        <span class="svc-dot" style={{ background: serviceColor(span.service) }} />
        {span.service} <span class="op">{span.name}</span>
      </h2>
      <dl class="kv compact">
        <dt>Duration</dt>
        <dd>
          {fmtMs(span.duration_ms)} (self {fmtMs(span.self_ms)})
        </dd>
        <dt>Start</dt>
        <dd>
          +{fmtMs(span.offset_ms)} · {fmtTime(span.start)}
        </dd>
        <dt>Span id</dt>
        <dd>
          <code>{span.span_id_hex}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          {span.error ? <span class="badge err">error</span> : 'ok'}
          {span.on_critical_path ? <span class="badge crit">critical path</span> : null}
          {span.indicator ? <span class="badge">indicator</span> : null}
          {span.orphan ? <span class="badge warn">orphan</span> : null}
        </dd>
      </dl>
      <h3>Tags</h3>
      <KeyValues values={span.tags} empty="No tags." />
      <h3>Log records ({logs.length})</h3>
      <LogLines logs={logs} />
      <h3>Samples ({samples.length})</h3>
      {samples.length === 0 ? (
        <p class="muted">No samples.</p>
      ) : (
        <table class="grid compact">
          <caption class="sr-only">Samples of this span</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col" class="num">
                Value
              </th>
              <th scope="col">Tags</th>
            </tr>
          </thead>
          <tbody>
            {samples.map((s) => (
              <tr>
                <td>{s.name}</td>
                <td>{s.type}</td>
                <td class="num">
                  {fmtNum(s.value)}
                  {s.unit ? ` ${s.unit}` : ''}
                </td>
                <td class="muted">
                  {Object.entries(s.tags)
                    .map(([k, v]) => `${k}:${v}`)
                    .join(' ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** /traces/{id}: the waterfall, critical path, span details and the trace's logs. */
export function TracePage({ traceId }: { traceId: string }): JSX.Element {
  const result = useAsync(traceId, (signal) => getJson<Trace>(`/v1/traces/${encodeURIComponent(traceId)}`, {}, signal));
  if (result.state === 'loading') return <Loading what="Loading trace" />;
  if (result.state === 'error')
    return (
      <section>
        <h1>Trace {traceId}</h1>
        <ErrorBox error={result.error} />
      </section>
    );
  return <TraceView trace={result.value} />;
}

export function TraceView({ trace }: { trace: Trace }): JSX.Element {
  const { query } = useLocation();
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const [scrollTo, setScrollTo] = useState<{ row: number; n: number } | null>(null);
  const [viewport, setViewport] = useState<[number, number]>([0, 30]);
  const byId = useMemo(() => indexSpans(trace.spans), [trace]);
  const rows = useMemo(() => visibleRows(trace.spans, collapsed), [trace, collapsed]);
  const selectedId = query.get('span') ?? trace.critical_path[trace.critical_path.length - 1] ?? null;
  const selected = selectedId ? byId.get(selectedId) : undefined;
  const tab = query.get('tab') ?? 'span';
  const select = (id: string): void => setQuery({ span: id, tab: 'span' }, true);
  const toggle = (id: string): void => {
    const next = new Set(collapsed);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setCollapsed(next);
  };
  const selectFromLog = (id: string): void => {
    if (!byId.has(id)) return;
    // Unfold the ancestors so the span is in the rows.
    const next = new Set(collapsed);
    let p = byId.get(id);
    while (p && p.parent_id !== '0') {
      next.delete(p.parent_id);
      p = byId.get(p.parent_id);
    }
    setCollapsed(next);
    select(id);
    const row = visibleRows(trace.spans, next).findIndex((r) => r.span.span_id === id);
    setScrollTo({ row, n: Date.now() });
  };
  const root = trace.spans[0];
  const critMs = trace.critical_path.reduce((sum, id) => sum + (byId.get(id)?.self_ms ?? 0), 0);
  return (
    <section class="trace-page" aria-labelledby="trace-h">
      <div class="page-head">
        <h1 id="trace-h">
          {root ? (
            <>
              {root.service} <span class="op">{root.name}</span>
            </>
          ) : (
            'Trace'
          )}
        </h1>
        <div class="trace-actions">
          <Link href={logsHref(trace)} class="button">
            Logs of this trace ({trace.logs.length})
          </Link>
          <a class="button" href={`/v1/traces/${traceIdOf(trace)}`} target="_blank" rel="noopener">
            JSON
          </a>
        </div>
      </div>
      <dl class="trace-summary">
        <div>
          <dt>Trace</dt>
          <dd>
            <code>{traceIdOf(trace)}</code>
          </dd>
        </div>
        <div>
          <dt>Start</dt>
          <dd>{fmtTime(trace.start, true)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{fmtMs(trace.duration_ms)}</dd>
        </div>
        <div>
          <dt>Spans</dt>
          <dd>{trace.span_count}</dd>
        </div>
        <div>
          <dt>Errors</dt>
          <dd>{trace.error_count > 0 ? <span class="badge err">{trace.error_count}</span> : 0}</dd>
        </div>
        <div>
          <dt>Critical path</dt>
          <dd>
            {trace.critical_path.length} spans, {fmtMs(critMs)} self time
          </dd>
        </div>
        <div>
          <dt>Services</dt>
          <dd>
            {trace.services.map((s) => (
              <span class="chip" style={{ borderLeftColor: serviceColor(s) }}>
                {s}
              </span>
            ))}
          </dd>
        </div>
      </dl>
      <p class="legend muted">
        <span class="crit-mark" /> critical path <span class="err-mark" /> error · click a span for its tags, logs and samples; ↑↓ move, ←→ fold
      </p>
      {rows.length > 40 && (
        <Minimap rows={rows} totalMs={trace.duration_ms} first={viewport[0]} visible={viewport[1]} onJump={(row) => setScrollTo({ row, n: Date.now() })} />
      )}
      <div class="trace-body">
        <Waterfall
          rows={rows}
          totalMs={trace.duration_ms}
          selected={selectedId}
          onSelect={select}
          onToggle={toggle}
          scrollTo={scrollTo}
          onViewport={(a, b) => setViewport([a, b])}
        />
        <aside class="side-panel" aria-label="Details">
          <div class="tabs" role="tablist">
            <button
              type="button"
              role="tab"
              aria-selected={tab === 'span'}
              class={tab === 'span' ? 'tab active' : 'tab'}
              onClick={() => setQuery({ tab: 'span' }, true)}
            >
              Span
            </button>
            <button
              type="button"
              role="tab"
              aria-selected={tab === 'logs'}
              class={tab === 'logs' ? 'tab active' : 'tab'}
              onClick={() => setQuery({ tab: 'logs' }, true)}
            >
              Trace logs ({trace.logs.length})
            </button>
          </div>
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the panel scrolls and must take focus to scroll by keyboard (axe: scrollable-region-focusable). */}
          <div class="panel-body" role="tabpanel" tabIndex={0}>
            {tab === 'logs' ? (
              <LogLines logs={trace.logs} onSpan={selectFromLog} />
            ) : selected ? (
              <SpanDetail trace={trace} span={selected} />
            ) : (
              <p class="muted">Select a span.</p>
            )}
            {trace.truncated.logs && <p class="muted">More than 10,000 logs: the rest are in the logs page.</p>}
          </div>
        </aside>
      </div>
    </section>
  );
}
