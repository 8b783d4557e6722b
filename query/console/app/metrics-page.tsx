import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { getJson } from './api.js';
import type { MetricAnswer, MetricList, MetricTags } from './api.js';
import { LineChart } from './chart.js';
import type { ChartSeries } from './chart.js';
import { fmtNum } from './format.js';
import { setQuery, useLocation } from './router.js';
import { Empty, ErrorBox, Loading, TimeRange, useAsync, useRange } from './ui.js';

const AGGS = ['', 'sum', 'count', 'rate', 'avg', 'min', 'max', 'p50', 'p90', 'p99', 'uniq', 'last'] as const;
const STEPS = ['', '10s', '30s', '1m', '5m', '15m', '1h', '1d'] as const;

function seriesLabel(tags: Record<string, string>, name: string): string {
  const entries = Object.entries(tags);
  return entries.length === 0 ? name : entries.map(([k, v]) => `${k}=${v || '""'}`).join(', ');
}

/** /metrics: pick a metric, filter and group by tags, choose aggregation and step; line charts. */
export function MetricsPage(): JSX.Element {
  const { query } = useLocation();
  const { from, to } = useRange();
  const name = query.get('name') ?? '';
  const agg = query.get('agg') ?? '';
  const step = query.get('step') ?? '';
  const tags = query.getAll('tag');
  const groupBy = query.getAll('group_by');
  const [filter, setFilter] = useState('');
  const [tagText, setTagText] = useState('');

  const list = useAsync(`${from}|${to}`, (signal) => getJson<MetricList>('/v1/metrics', { from, to }, signal));
  const tagInfo = useAsync(`${name}|${from}|${to}`, (signal) =>
    name ? getJson<MetricTags>('/v1/metrics/tags', { name, from, to, limit: 20 }, signal) : Promise.resolve(null),
  );
  const params = { name, agg: agg || undefined, step: step || undefined, tag: tags, group_by: groupBy, from, to };
  const data = useAsync(JSON.stringify(params), (signal) => (name ? getJson<MetricAnswer>('/v1/metrics/query', params, signal) : Promise.resolve(null)));

  // The first metric when none is chosen, so the page shows something at once.
  useEffect(() => {
    if (!name && list.state === 'done' && list.value.metrics[0]) {
      const preferred = list.value.metrics.find((m) => !m.name.startsWith('ssf.')) ?? list.value.metrics[0];
      setQuery({ name: preferred.name }, true);
    }
  }, [name, list.state]);

  const names = list.state === 'done' ? list.value.metrics.filter((m) => m.name.toLowerCase().includes(filter.toLowerCase())) : [];
  const chartSeries = useMemo<ChartSeries[]>(
    () => (data.state === 'done' && data.value ? data.value.series.map((s) => ({ label: seriesLabel(s.tags, data.value?.name ?? ''), points: s.points })) : []),
    [data.state === 'done' ? data.value : null],
  );

  return (
    <section class="metrics-page" aria-labelledby="metrics-h">
      <div class="page-head">
        <h1 id="metrics-h">Metrics</h1>
        <TimeRange />
      </div>
      <div class="metrics-layout">
        <aside class="metric-picker" aria-label="Metric names">
          <label>
            <span class="sr-only">Find a metric</span>
            <input type="search" placeholder="Find a metric…" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
          </label>
          {list.state === 'loading' && <Loading what="Listing metrics" />}
          {list.state === 'error' && <ErrorBox error={list.error} />}
          <ul>
            {names.map((m) => (
              <li>
                <button
                  type="button"
                  class={m.name === name ? 'metric active' : 'metric'}
                  aria-pressed={m.name === name}
                  onClick={() => setQuery({ name: m.name, tag: null, group_by: null, agg: null })}
                >
                  <span class="mname">{m.name}</span>{' '}
                  <span class="muted">
                    {m.types.join(',')} · {m.series}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </aside>
        <div class="metric-main">
          {!name ? (
            <Empty>Pick a metric.</Empty>
          ) : (
            <>
              <h2 class="metric-title">{name}</h2>
              <form
                class="filters"
                aria-label="Metric query"
                onSubmit={(e) => {
                  e.preventDefault();
                  if (tagText.trim()) setQuery({ tag: [...tags, tagText.trim()] });
                  setTagText('');
                }}
              >
                <label>
                  Aggregation
                  <select name="agg" value={agg} onChange={(e) => setQuery({ agg: e.currentTarget.value || null })}>
                    {AGGS.map((a) => (
                      <option value={a}>{a || 'by type'}</option>
                    ))}
                  </select>
                </label>
                <label>
                  Step
                  <select name="step" value={step} onChange={(e) => setQuery({ step: e.currentTarget.value || null })}>
                    {STEPS.map((s) => (
                      <option value={s}>{s || 'auto'}</option>
                    ))}
                  </select>
                </label>
                <label>
                  Tag filter{' '}
                  <input name="tag" size={18} placeholder="key:value or key!=value" value={tagText} onInput={(e) => setTagText(e.currentTarget.value)} />
                </label>
                <button type="submit">Add filter</button>
                <span class="chips">
                  {tags.map((t) => (
                    <button
                      type="button"
                      class="chip removable"
                      aria-label={`Remove filter ${t}`}
                      onClick={() => setQuery({ tag: tags.filter((x) => x !== t) })}
                    >
                      {t} ✕
                    </button>
                  ))}
                </span>
              </form>
              {tagInfo.state === 'done' && tagInfo.value && (
                <fieldset class="group-by">
                  <legend class="muted">Group by:</legend>
                  {tagInfo.value.keys.map((k) => {
                    const on = groupBy.includes(k.key);
                    return (
                      <button
                        type="button"
                        class={on ? 'chip active' : 'chip'}
                        aria-pressed={on}
                        title={k.values.map((v) => v.value).join(', ')}
                        onClick={() => setQuery({ group_by: on ? groupBy.filter((g) => g !== k.key) : [...groupBy, k.key] })}
                      >
                        {k.key} <span class="muted">{k.values_count}</span>
                      </button>
                    );
                  })}
                </fieldset>
              )}
              {data.state === 'loading' && <Loading what="Querying" />}
              {data.state === 'error' && <ErrorBox error={data.error} />}
              {data.state === 'done' && data.value && (
                <>
                  <p class="muted query-info" data-testid="metric-info">
                    {data.value.agg} per {fmtNum(data.value.step_ms / 1000)} s · source <code>{data.value.source}</code>
                    {data.value.read_as !== data.value.name ? (
                      <>
                        {' '}
                        · read as <code>{data.value.read_as}</code>
                      </>
                    ) : null}{' '}
                    · {data.value.series.length} series · {data.value.series.reduce((n, s) => n + s.points.length, 0)} points
                  </p>
                  {data.value.series.length === 0 ? (
                    <Empty>No data for this metric in the range.</Empty>
                  ) : (
                    <LineChart
                      series={chartSeries}
                      stepMs={data.value.step_ms}
                      range={[data.value.from, data.value.to]}
                      label={`${name} ${data.value.agg}`}
                      onZoom={(a, b) => setQuery({ from: String(a), to: String(b) })}
                    />
                  )}
                </>
              )}
            </>
          )}
        </div>
      </div>
    </section>
  );
}
