import type { JSX } from 'preact';
import { getJson } from './api.js';
import type { ServiceEdge, ServiceGraph, ServiceStats } from './api.js';
import { fmtMs, fmtNum, fmtPct, serviceColor } from './format.js';
import { navigate } from './router.js';
import { Empty, ErrorBox, Link, Loading, SortableTable, TimeRange, useAsync, useRange, useSize } from './ui.js';

/** Columns by call depth (longest path from a service nobody calls), cycle-safe. */
function layers(services: readonly string[], edges: readonly ServiceEdge[]): Map<string, number> {
  const layer = new Map(services.map((s) => [s, 0]));
  for (let pass = 0; pass < services.length; pass++) {
    let changed = false;
    for (const e of edges) {
      const want = (layer.get(e.from) ?? 0) + 1;
      if (want > (layer.get(e.to) ?? 0) && want < services.length) {
        layer.set(e.to, want);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return layer;
}

const NODE_W = 190;
const NODE_H = 54;

export function DependencyGraph({ graph }: { graph: ServiceGraph }): JSX.Element {
  const [ref, width] = useSize<HTMLDivElement>();
  const names = [...new Set([...graph.services.map((s) => s.service), ...graph.edges.flatMap((e) => [e.from, e.to])])].sort();
  const stats = new Map(graph.services.map((s) => [s.service, s]));
  const layer = layers(names, graph.edges);
  const columns = Math.max(...layer.values(), 0) + 1;
  const byColumn: string[][] = Array.from({ length: columns }, () => []);
  for (const n of names) byColumn[layer.get(n) ?? 0]?.push(n);
  // Each column ordered by the mean row of its callers (fewer crossings); services nobody calls last.
  const row = new Map<string, number>();
  byColumn.forEach((col, c) => {
    if (c > 0) {
      const score = (n: string): number => {
        const callers = graph.edges.filter((e) => e.to === n && row.has(e.from)).map((e) => row.get(e.from) as number);
        return callers.length ? callers.reduce((a, b) => a + b, 0) / callers.length : Number.MAX_SAFE_INTEGER;
      };
      col.sort((a, b) => score(a) - score(b) || a.localeCompare(b));
    } else {
      col.sort((a, b) => Number(graph.edges.some((e) => e.from === b)) - Number(graph.edges.some((e) => e.from === a)) || a.localeCompare(b));
    }
    for (const [i, n] of col.entries()) row.set(n, i / Math.max(1, col.length - 1));
  });
  const tallest = Math.max(...byColumn.map((c) => c.length), 1);
  const height = Math.max(160, tallest * (NODE_H + 36) + 20);
  const w = Math.max(width, columns * (NODE_W + 60));
  const pos = new Map<string, { x: number; y: number }>();
  for (const [c, col] of byColumn.entries()) {
    for (const [i, n] of col.entries()) {
      const x = columns === 1 ? w / 2 - NODE_W / 2 : 10 + (c * (w - NODE_W - 20)) / (columns - 1);
      const y = ((i + 0.5) * height) / col.length - NODE_H / 2;
      pos.set(n, { x, y });
    }
  }
  const seconds = Math.max(1, (Date.parse(graph.to) - Date.parse(graph.from)) / 1000);
  return (
    <figure class="graph" ref={ref}>
      <figcaption class="sr-only">Service dependency graph: {graph.edges.map((e) => `${e.from} calls ${e.to}`).join('; ')}</figcaption>
      {/* biome-ignore lint/a11y/useSemanticElements: an SVG drawing, whose boxes are links, is named as one group; a fieldset cannot hold SVG. */}
      <svg width={w} height={height} role="group" aria-label={`Service graph with ${names.length} services and ${graph.edges.length} edges`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
          </marker>
        </defs>
        {graph.edges.map((e) => {
          const a = pos.get(e.from);
          const b = pos.get(e.to);
          if (!a || !b) return null;
          const x1 = a.x + NODE_W;
          const y1 = a.y + NODE_H / 2;
          const x2 = b.x;
          const y2 = b.y + NODE_H / 2;
          const back = x2 <= x1;
          const d = back
            ? `M${a.x + NODE_W / 2},${a.y + NODE_H} C${a.x + NODE_W / 2},${a.y + NODE_H + 60} ${b.x + NODE_W / 2},${b.y + NODE_H + 60} ${b.x + NODE_W / 2},${b.y + NODE_H}`
            : `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2},${y2}`;
          const bad = e.error_rate > 0.01;
          return (
            <g class={bad ? 'edge bad' : 'edge'} data-edge={`${e.from}->${e.to}`}>
              <path d={d} marker-end="url(#arrow)" />
              <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 6} text-anchor="middle">{`${fmtNum(e.calls / seconds)}/s · ${fmtPct(e.error_rate, 1)}`}</text>
              <title>{`${e.from} → ${e.to}: ${e.calls} calls, ${e.errors} errors, p50 ${fmtMs(e.p50_ms)}, p99 ${fmtMs(e.p99_ms)}`}</title>
            </g>
          );
        })}
        {names.map((n) => {
          const p = pos.get(n) as { x: number; y: number };
          const s = stats.get(n);
          return (
            <a
              href={`/traces?service=${encodeURIComponent(n)}`}
              class="node"
              onClick={(e) => {
                e.preventDefault();
                navigate(`/traces?service=${encodeURIComponent(n)}`);
              }}
            >
              <rect x={p.x} y={p.y} width={NODE_W} height={NODE_H} rx={6} class={s && s.error_rate > 0.01 ? 'bad' : ''} />
              <rect x={p.x} y={p.y} width={5} height={NODE_H} rx={2} style={{ fill: serviceColor(n) }} />
              <text x={p.x + 14} y={p.y + 21} class="node-name">
                {n}
              </text>
              <text x={p.x + 14} y={p.y + 40} class="node-stats">
                {s ? `${fmtNum(s.rate_per_s)}/s · ${fmtPct(s.error_rate, 1)} · p99 ${fmtMs(s.p99_ms)}` : 'no spans'}
              </text>
            </a>
          );
        })}
      </svg>
    </figure>
  );
}

interface Endpoint {
  service: string;
  name: string;
  count: number;
  errors: number;
  p99_ms: number | null;
  rate: number;
}

export function RedTables({ graph }: { graph: ServiceGraph }): JSX.Element {
  const seconds = Math.max(1, (Date.parse(graph.to) - Date.parse(graph.from)) / 1000);
  const endpoints: Endpoint[] = graph.services.flatMap((s) => s.operations.map((o) => ({ service: s.service, ...o, rate: o.count / seconds })));
  return (
    <>
      <h2>Services</h2>
      <SortableTable<ServiceStats>
        caption="Rate, errors and duration per service"
        rows={graph.services}
        defaultSort="-rate"
        rowClass={(s) => (s.error_rate > 0.01 ? 'has-error' : '')}
        columns={[
          {
            key: 'service',
            label: 'Service',
            value: (s) => s.service,
            render: (s) => (
              <Link href={`/traces?service=${encodeURIComponent(s.service)}`}>
                <span class="svc-dot" style={{ background: serviceColor(s.service) }} />
                {s.service}
              </Link>
            ),
          },
          { key: 'rate', label: 'Rate/s', numeric: true, value: (s) => s.rate_per_s, render: (s) => fmtNum(s.rate_per_s) },
          {
            key: 'err',
            label: 'Err%',
            numeric: true,
            value: (s) => s.error_rate,
            render: (s) => (
              <Link href={`/traces?service=${encodeURIComponent(s.service)}&error=true`} class={s.error_rate > 0.01 ? 'err-text' : ''}>
                {fmtPct(s.error_rate)}
              </Link>
            ),
          },
          { key: 'p50', label: 'P50', numeric: true, value: (s) => s.p50_ms ?? 0, render: (s) => fmtMs(s.p50_ms) },
          { key: 'p90', label: 'P90', numeric: true, value: (s) => s.p90_ms ?? 0, render: (s) => fmtMs(s.p90_ms) },
          { key: 'p99', label: 'P99', numeric: true, value: (s) => s.p99_ms ?? 0, render: (s) => fmtMs(s.p99_ms) },
          { key: 'spans', label: 'Spans', numeric: true, value: (s) => s.spans },
        ]}
      />
      <h2>Endpoints</h2>
      <SortableTable<Endpoint>
        caption="Rate, errors and p99 per endpoint"
        rows={endpoints}
        defaultSort="-rate"
        rowClass={(e) => (e.errors / Math.max(1, e.count) > 0.01 ? 'has-error' : '')}
        columns={[
          { key: 'service', label: 'Service', value: (e) => e.service },
          {
            key: 'endpoint',
            label: 'Endpoint',
            value: (e) => e.name,
            render: (e) => <Link href={`/traces?service=${encodeURIComponent(e.service)}&name=${encodeURIComponent(e.name)}`}>{e.name}</Link>,
          },
          { key: 'rate', label: 'Rate/s', numeric: true, value: (e) => e.rate, render: (e) => fmtNum(e.rate) },
          {
            key: 'err',
            label: 'Err%',
            numeric: true,
            value: (e) => e.errors / Math.max(1, e.count),
            render: (e) => (
              <Link href={`/traces?service=${encodeURIComponent(e.service)}&name=${encodeURIComponent(e.name)}&error=true`}>
                {fmtPct(e.errors / Math.max(1, e.count))}
              </Link>
            ),
          },
          { key: 'p99', label: 'P99', numeric: true, value: (e) => e.p99_ms ?? 0, render: (e) => fmtMs(e.p99_ms) },
          { key: 'count', label: 'Spans', numeric: true, value: (e) => e.count },
        ]}
      />
    </>
  );
}

/** /services: the dependency graph of /v1/services and RED tables like `ssf top`. */
export function ServicesPage(): JSX.Element {
  const { from, to } = useRange();
  const result = useAsync(`${from}|${to}`, (signal) => getJson<ServiceGraph>('/v1/services', { from, to, operations: 20 }, signal));
  return (
    <section aria-labelledby="services-h">
      <div class="page-head">
        <h1 id="services-h">Services</h1>
        <TimeRange />
      </div>
      {result.state === 'loading' && <Loading what="Reading the service graph" />}
      {result.state === 'error' && <ErrorBox error={result.error} />}
      {result.state === 'done' &&
        (result.value.services.length === 0 && result.value.edges.length === 0 ? (
          <Empty>No spans in this range.</Empty>
        ) : (
          <>
            <h2>Dependencies</h2>
            <DependencyGraph graph={result.value} />
            <RedTables graph={result.value} />
          </>
        ))}
    </section>
  );
}
