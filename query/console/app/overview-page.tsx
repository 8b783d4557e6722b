import type { JSX } from 'preact';
import { getJson } from './api.js';
import type { ServiceGraph, SloAnswer, TraceSummary } from './api.js';
import { fmtMs, fmtNum, fmtPct, fmtTime, serviceColor, traceIdOf, tracePath } from './format.js';
import { DependencyGraph } from './services-page.js';
import { Empty, ErrorBox, Link, Loading, TimeRange, useAsync, useRange } from './ui.js';

/** `/`: what is wrong now: firing burn alerts, services by error rate, the latest failed traces. */
export function OverviewPage(): JSX.Element {
  const { from, to } = useRange('now-1h');
  const key = `${from}|${to}`;
  const graph = useAsync(key, (signal) => getJson<ServiceGraph>('/v1/services', { from, to }, signal));
  const slo = useAsync('slo', (signal) => getJson<SloAnswer>('/v1/slo', {}, signal));
  const failed = useAsync(key, (signal) => getJson<{ traces: TraceSummary[] }>('/v1/traces', { error: 'true', from, to, limit: 10 }, signal));
  const slow = useAsync(key, (signal) => getJson<{ traces: TraceSummary[] }>('/v1/traces', { from, to, limit: 200 }, signal));
  const firing = slo.state === 'done' ? slo.value.alerts.filter((a) => a.firing) : [];
  return (
    <section aria-labelledby="overview-h">
      <div class="page-head">
        <h1 id="overview-h">Overview</h1>
        <TimeRange />
      </div>
      <div class="cards">
        <div class="card">
          <h2>Burn-rate alerts</h2>
          {slo.state === 'loading' && <Loading />}
          {slo.state === 'error' && <ErrorBox error={slo.error} />}
          {slo.state === 'done' &&
            (firing.length === 0 ? (
              <p class="ok-text">No alert firing ({slo.value.services.length} services with indicators).</p>
            ) : (
              <ul class="plain">
                {firing.map((a) => (
                  <li>
                    <span class={`badge alert ${a.severity}`}>{a.severity}</span> <Link href="/slo">{a.service}</Link> burning {fmtNum(a.long_burn_rate)}× over{' '}
                    {a.long_window} ({fmtNum(a.short_burn_rate)}× over {a.short_window})
                  </li>
                ))}
              </ul>
            ))}
        </div>
        <div class="card">
          <h2>Error rate by service</h2>
          {graph.state === 'done' && (
            <ul class="plain bars">
              {[...graph.value.services]
                .sort((a, b) => b.error_rate - a.error_rate)
                .map((s) => (
                  <li>
                    <Link href={`/traces?service=${encodeURIComponent(s.service)}&error=true&from=${encodeURIComponent(from)}`}>
                      <span class="svc-dot" style={{ background: serviceColor(s.service) }} />
                      {s.service}
                    </Link>
                    <span class={s.error_rate > 0.01 ? 'err-text num' : 'num'}>{fmtPct(s.error_rate)}</span>
                    <span class="muted num">p99 {fmtMs(s.p99_ms)}</span>
                  </li>
                ))}
            </ul>
          )}
          {graph.state === 'error' && <ErrorBox error={graph.error} />}
        </div>
        <div class="card">
          <h2>Latest failed traces</h2>
          {failed.state === 'done' &&
            (failed.value.traces.length === 0 ? (
              <p class="ok-text">None in this range.</p>
            ) : (
              <ul class="plain">
                {failed.value.traces.map((t) => (
                  <li>
                    <Link href={tracePath(traceIdOf(t))}>
                      {t.root_service} {t.root_name}
                    </Link>{' '}
                    <span class="muted">
                      {fmtTime(t.start)} · {fmtMs(t.duration_ms)} · {t.matched_span.service} {t.matched_span.name}
                    </span>
                  </li>
                ))}
              </ul>
            ))}
          {failed.state === 'error' && <ErrorBox error={failed.error} />}
        </div>
        <div class="card">
          <h2>Slowest recent traces</h2>
          {slow.state === 'done' && (
            <ul class="plain">
              {[...slow.value.traces]
                .sort((a, b) => b.duration_ms - a.duration_ms)
                .slice(0, 8)
                .map((t) => (
                  <li>
                    <Link href={tracePath(traceIdOf(t))}>
                      {t.root_service} {t.root_name}
                    </Link>{' '}
                    <span class="muted">
                      {fmtMs(t.duration_ms)} · {t.span_count} spans · {fmtTime(t.start)}
                    </span>
                  </li>
                ))}
            </ul>
          )}
        </div>
      </div>
      <h2>Dependencies</h2>
      {graph.state === 'loading' && <Loading />}
      {graph.state === 'done' &&
        (graph.value.services.length === 0 ? (
          <Empty>
            No spans in this range yet: run <code>npx ssf demo</code>.
          </Empty>
        ) : (
          <DependencyGraph graph={graph.value} />
        ))}
    </section>
  );
}
