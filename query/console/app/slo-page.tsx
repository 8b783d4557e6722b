import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { getJson } from './api.js';
import type { MetricAnswer, SloAnswer, SloWindow } from './api.js';
import { LineChart } from './chart.js';
import type { ChartSeries } from './chart.js';
import { fmtMs, fmtNum, fmtPct, serviceColor } from './format.js';
import { setQuery, useLocation } from './router.js';
import { Empty, ErrorBox, Link, Loading, TimeRange, useAsync, useRange } from './ui.js';

function budgetClass(w: SloWindow | undefined): string {
  const r = w?.budget_remaining;
  if (r === null || r === undefined) return '';
  return r < 0 ? 'err-text' : r < 0.25 ? 'warn-text' : 'ok-text';
}

/** Burn rate per bucket and service, from the indicator rollup: (bad / total) / (1 - objective). */
function burnSeries(answer: MetricAnswer, objective: number): ChartSeries[] {
  const per = new Map<string, Map<number, { total: number; bad: number }>>();
  for (const s of answer.series) {
    const service = s.tags['service'] ?? '';
    const m = per.get(service) ?? new Map<number, { total: number; bad: number }>();
    per.set(service, m);
    for (const [t, v] of s.points) {
      const b = m.get(t) ?? { total: 0, bad: 0 };
      b.total += v;
      if (s.tags['error'] === 'true') b.bad += v;
      m.set(t, b);
    }
  }
  return [...per]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([service, m]) => ({
      label: service,
      color: serviceColor(service),
      points: [...m].sort((a, b) => a[0] - b[0]).map(([t, b]): [number, number] => [t, b.total > 0 ? b.bad / b.total / (1 - objective) : 0]),
    }));
}

/** /slo: per service the objective, availability, budget left, burn rates and the multi-window alerts of GET /v1/slo. */
export function SloPage(): JSX.Element {
  const { query } = useLocation();
  const { from, to } = useRange('now-1h');
  const objective = query.get('objective') ?? '0.999';
  const latency = query.get('latency_ms') ?? '';
  const [form, setForm] = useState({ objective, latency });
  useEffect(() => setForm({ objective, latency }), [objective, latency]);
  const params = { objective, latency_ms: latency || undefined };
  const slo = useAsync(JSON.stringify(params), (signal) => getJson<SloAnswer>('/v1/slo', params, signal));
  const counts = useAsync(`${from}|${to}`, (signal) =>
    getJson<MetricAnswer>('/v1/metrics/query', { name: 'ssf.indicator.duration', agg: 'count', group_by: ['service', 'error'], from, to }, signal).catch(
      () => null,
    ),
  );
  const chart = useMemo(
    () => (counts.state === 'done' && counts.value ? burnSeries(counts.value, Number(objective)) : []),
    [counts.state === 'done' ? counts.value : null, objective],
  );

  return (
    <section aria-labelledby="slo-h">
      <div class="page-head">
        <h1 id="slo-h">SLOs</h1>
        <TimeRange defaultFrom="now-1h" />
      </div>
      <form
        class="filters"
        aria-label="Objective"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ objective: form.objective || null, latency_ms: form.latency || null });
        }}
      >
        <label>
          Objective <input name="objective" size={7} value={form.objective} onInput={(e) => setForm({ ...form, objective: e.currentTarget.value })} />
        </label>
        <label>
          Latency threshold (ms){' '}
          <input name="latency_ms" size={7} placeholder="none" value={form.latency} onInput={(e) => setForm({ ...form, latency: e.currentTarget.value })} />
        </label>
        <button type="submit">Apply</button>
      </form>
      {slo.state === 'loading' && <Loading what="Computing SLOs" />}
      {slo.state === 'error' && <ErrorBox error={slo.error} />}
      {slo.state === 'done' &&
        (slo.value.services.length === 0 ? (
          <Empty>
            No indicator spans: SLOs are measured on spans marked as indicators (the emitter's setIndicator(); over OTLP, SERVER and CONSUMER spans). The
            Services page has every service's error rate and latency.
          </Empty>
        ) : (
          <>
            <p class="muted">
              Objective {fmtPct(slo.value.objective, 2)} · counts from {slo.value.counts_from} · windows end {new Date(slo.value.to).toLocaleString()}
              {slo.value.latency_ms ? ` · slower than ${slo.value.latency_ms} ms is bad` : ''}
            </p>
            <table class="grid slo-table">
              <caption class="sr-only">Availability, error budget and burn rate per service and window</caption>
              <thead>
                <tr>
                  <th scope="col">Service</th>
                  <th scope="col">Objective</th>
                  {slo.value.windows.map((w) => (
                    <th scope="col" class="num">
                      Availability {w.window}
                    </th>
                  ))}
                  <th scope="col" class="num">
                    Budget left ({slo.value.windows[slo.value.windows.length - 1]?.window})
                  </th>
                  {slo.value.windows.map((w) => (
                    <th scope="col" class="num">
                      Burn {w.window}
                    </th>
                  ))}
                  <th scope="col">Alerts</th>
                </tr>
              </thead>
              <tbody>
                {slo.value.services.map((s) => {
                  const longest = s.windows[s.windows.length - 1];
                  const alerts = slo.value.alerts.filter((a) => a.service === s.service);
                  return [
                    <tr data-service={s.service}>
                      <th scope="row">
                        <Link href={`/traces?service=${encodeURIComponent(s.service)}&error=true`}>
                          <span class="svc-dot" style={{ background: serviceColor(s.service) }} />
                          {s.service}
                        </Link>
                      </th>
                      <td>{fmtPct(slo.value.objective, 2)}</td>
                      {s.windows.map((w) => (
                        <td class="num" title={`${w.good} good of ${w.total}; p50 ${fmtMs(w.p50_ms)}, p99 ${fmtMs(w.p99_ms)}`}>
                          {fmtPct(w.availability, 3)}
                        </td>
                      ))}
                      <td class={`num budget ${budgetClass(longest)}`} data-testid="budget">
                        {fmtPct(longest?.budget_remaining ?? null, 1)}
                      </td>
                      {s.windows.map((w) => (
                        <td class={`num ${w.burn_rate !== null && w.burn_rate > 1 ? 'err-text' : ''}`}>{fmtNum(w.burn_rate)}</td>
                      ))}
                      <td>
                        {alerts.map((a) => (
                          <span
                            class={a.firing ? `badge alert ${a.severity}` : 'badge quiet'}
                            title={`${a.long_window}/${a.short_window} over ${a.threshold}: burn ${fmtNum(a.long_burn_rate)} / ${fmtNum(a.short_burn_rate)}`}
                          >
                            {a.severity} {a.long_window}/{a.short_window} {a.firing ? 'FIRING' : 'ok'}
                          </span>
                        ))}
                      </td>
                    </tr>,
                    ...s.objectives.map((o) => (
                      <tr class="objective-row" data-objective={o.objective}>
                        <th scope="row" class="objective-name">
                          {o.objective}
                        </th>
                        <td />
                        {o.windows.map((w) => (
                          <td class="num" title={`${w.good} good of ${w.total}`}>
                            {fmtPct(w.availability, 3)}
                          </td>
                        ))}
                        <td class={`num ${budgetClass(o.windows[o.windows.length - 1])}`}>
                          {fmtPct(o.windows[o.windows.length - 1]?.budget_remaining ?? null, 1)}
                        </td>
                        {o.windows.map((w) => (
                          <td class="num">{fmtNum(w.burn_rate)}</td>
                        ))}
                        <td />
                      </tr>
                    )),
                  ];
                })}
              </tbody>
            </table>
            <h2>Burn rate over time</h2>
            <p class="muted">
              Bad requests over the budget's rate per bucket ({'>'} 1 spends the budget faster than the objective allows); from{' '}
              <code>ssf.indicator.duration</code>.
            </p>
            {counts.state === 'done' && chart.length > 0 ? (
              <LineChart
                series={chart}
                stepMs={counts.value?.step_ms}
                range={counts.value ? [counts.value.from, counts.value.to] : undefined}
                label="Burn rate per service"
                height={220}
                onZoom={(a, b) => setQuery({ from: String(a), to: String(b) })}
              />
            ) : counts.state === 'loading' ? (
              <Loading />
            ) : (
              <Empty>No indicator data in this range.</Empty>
            )}
          </>
        ))}
    </section>
  );
}
