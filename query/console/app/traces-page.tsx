import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';
import type { TraceSummary } from './api.js';
import { fmtMs, fmtTime, serviceColor, traceIdOf, tracePath } from './format.js';
import { setQuery, useLocation } from './router.js';
import { Empty, ErrorBox, Link, Loading, SortableTable, TimeRange, useAsync, useRange } from './ui.js';

const FIELDS = ['service', 'name', 'min_duration', 'max_duration', 'tag', 'error', 'limit'] as const;

/** /traces: search by service, operation, duration, errors, tag and time; sortable results. */
export function TracesPage(): JSX.Element {
  const { query } = useLocation();
  const { from, to } = useRange();
  const values = Object.fromEntries(FIELDS.map((f) => [f, query.get(f) ?? ''])) as Record<(typeof FIELDS)[number], string>;
  const [form, setForm] = useState(values);
  useEffect(() => setForm(values), [query.toString()]);
  const params = { ...values, limit: values.limit || '50', tag: query.getAll('tag'), from, to };
  const key = JSON.stringify(params);
  const result = useAsync(key, (signal) => getJson<{ traces: TraceSummary[] }>('/v1/traces', params, signal));

  const submit = (e: Event): void => {
    e.preventDefault();
    setQuery({ ...form, tag: form.tag ? [form.tag] : null, error: form.error || null });
  };
  const input = (f: (typeof FIELDS)[number], label: string, placeholder: string, size = 14): JSX.Element => (
    <label>
      {label}
      <input name={f} size={size} placeholder={placeholder} value={form[f]} onInput={(e) => setForm({ ...form, [f]: e.currentTarget.value })} />
    </label>
  );
  return (
    <section aria-labelledby="traces-h">
      <div class="page-head">
        <h1 id="traces-h">Traces</h1>
        <TimeRange />
      </div>
      <form class="filters" onSubmit={submit} aria-label="Trace search">
        {input('service', 'Service', 'any')}
        {input('name', 'Operation', 'any', 18)}
        {input('min_duration', 'Min duration', '250ms', 8)}
        {input('max_duration', 'Max duration', '5s', 8)}
        {input('tag', 'Tag', 'key:value', 14)}
        <label>
          Status
          <select name="error" value={form.error} onChange={(e) => setForm({ ...form, error: e.currentTarget.value })}>
            <option value="">all</option>
            <option value="true">errors only</option>
            <option value="false">no errors</option>
          </select>
        </label>
        {input('limit', 'Limit', '50', 4)}
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      {result.state === 'loading' && <Loading what="Searching traces" />}
      {result.state === 'error' && <ErrorBox error={result.error} />}
      {result.state === 'done' &&
        (result.value.traces.length === 0 ? (
          <Empty>No trace matches in this range.</Empty>
        ) : (
          <SortableTable
            caption="Traces found"
            rows={result.value.traces}
            defaultSort="-start"
            rowClass={(t) => (t.error_count > 0 ? 'has-error' : '')}
            columns={[
              { key: 'start', label: 'Start', value: (t) => t.start, render: (t) => fmtTime(t.start) },
              {
                key: 'root',
                label: 'Root',
                value: (t) => `${t.root_service} ${t.root_name}`,
                render: (t) => (
                  <Link href={tracePath(traceIdOf(t))} class="trace-link">
                    <span class="svc-dot" style={{ background: serviceColor(t.root_service) }} />
                    {t.root_service} <b>{t.root_name}</b>
                  </Link>
                ),
              },
              { key: 'duration', label: 'Duration', numeric: true, value: (t) => t.duration_ms, render: (t) => fmtMs(t.duration_ms) },
              { key: 'spans', label: 'Spans', numeric: true, value: (t) => t.span_count },
              {
                key: 'errors',
                label: 'Errors',
                numeric: true,
                value: (t) => t.error_count,
                render: (t) => (t.error_count > 0 ? <span class="badge err">{t.error_count}</span> : '0'),
              },
              {
                key: 'services',
                label: 'Services',
                value: (t) => t.services.join(' '),
                render: (t) =>
                  t.services.map((s) => (
                    <span class="chip" style={{ borderLeftColor: serviceColor(s) }}>
                      {s}
                    </span>
                  )),
              },
              {
                key: 'match',
                label: 'Matched span',
                value: (t) => t.matched_span.duration_ms,
                render: (t) => (
                  <span class="muted">
                    {t.matched_span.service} {t.matched_span.name} {fmtMs(t.matched_span.duration_ms)}
                  </span>
                ),
              },
              { key: 'id', label: 'Trace id', value: (t) => traceIdOf(t), render: (t) => <code>{traceIdOf(t)}</code> },
            ]}
          />
        ))}
    </section>
  );
}
