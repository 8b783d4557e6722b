import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, postSql } from './api.js';
import type { SqlJson } from './api.js';
import { fmtNum } from './format.js';
import { setQuery, useLocation } from './router.js';
import { ErrorBox, Loading } from './ui.js';

const TABLES = ['spans', 'trace_index', 'logs', 'samples', 'metrics_1m', 'metrics_1h'] as const;
const EXAMPLE =
  'SELECT service, count() AS spans, countIf(error) AS errors\nFROM spans\nWHERE start > now() - INTERVAL 1 HOUR\nGROUP BY service\nORDER BY spans DESC';
const MAX_ROWS_SHOWN = 2000;

type Columns = Record<string, Array<{ name: string; type: string }>>;

async function loadColumns(): Promise<Columns> {
  const out: Columns = {};
  await Promise.all(
    TABLES.map(async (t) => {
      const res = await postSql(`SELECT * FROM ${t} LIMIT 0`, 'json');
      out[t] = ((await res.json()) as SqlJson).meta;
    }),
  );
  return out;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** /sql: an editor with the public tables at hand, a result grid, CSV and Parquet downloads; the sandbox of POST /v1/sql. */
export function SqlPage(): JSX.Element {
  const { query } = useLocation();
  const sql = query.get('q') ?? EXAMPLE;
  const [text, setText] = useState(sql);
  const [columns, setColumns] = useState<Columns | null>(null);
  const [result, setResult] = useState<
    { state: 'idle' } | { state: 'running' } | { state: 'done'; value: SqlJson; ms: number } | { state: 'error'; error: Error }
  >({ state: 'idle' });
  const [open, setOpen] = useState<string>('spans');

  useEffect(() => {
    loadColumns().then(setColumns, () => setColumns({}));
  }, []);
  useEffect(() => setText(sql), [sql]);

  const run = async (statement: string): Promise<void> => {
    setResult({ state: 'running' });
    const t0 = performance.now();
    try {
      const res = await postSql(statement, 'json');
      setResult({ state: 'done', value: (await res.json()) as SqlJson, ms: performance.now() - t0 });
    } catch (error) {
      setResult({ state: 'error', error: error instanceof Error ? error : new ApiError(0, 'ERROR', String(error)) });
    }
  };
  useEffect(() => {
    if (query.has('q')) void run(sql);
  }, [sql]);
  const submit = (): void => {
    if (text === sql) void run(text);
    else setQuery({ q: text });
  };
  const download = async (format: 'csv' | 'parquet'): Promise<void> => {
    try {
      const res = await postSql(text, format);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `ssf-query.${format}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      setResult({ state: 'error', error: error instanceof Error ? error : new Error(String(error)) });
    }
  };
  const insert = (word: string): void => setText((t) => `${t}${/\s$/.test(t) || t === '' ? '' : ' '}${word}`);

  return (
    <section class="sql-page" aria-labelledby="sql-h">
      <div class="page-head">
        <h1 id="sql-h">SQL</h1>
      </div>
      <div class="sql-layout">
        <aside class="schema" aria-label="Tables and columns">
          <h2>Tables</h2>
          {columns === null ? (
            <Loading what="Reading tables" />
          ) : (
            TABLES.map((t) => (
              <div class="schema-table">
                <button type="button" class="table-name" aria-expanded={open === t} onClick={() => setOpen(open === t ? '' : t)}>
                  {open === t ? '▾' : '▸'} {t}
                </button>
                <button type="button" class="insert" aria-label={`Insert ${t}`} onClick={() => insert(t)}>
                  +
                </button>
                {open === t && (
                  <ul>
                    {(columns[t] ?? []).map((c) => (
                      <li>
                        <button type="button" class="column" title="Insert into the query" onClick={() => insert(c.name)}>
                          {c.name}
                        </button>{' '}
                        <span class="muted type">{c.type}</span>
                      </li>
                    ))}
                  </ul>
                )}
              </div>
            ))
          )}
        </aside>
        <div class="sql-main">
          <label for="sql-editor" class="sr-only">
            SQL query
          </label>
          <textarea
            id="sql-editor"
            class="editor mono"
            spellcheck={false}
            rows={9}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
                e.preventDefault();
                submit();
              }
            }}
          />
          <div class="sql-actions">
            <button type="button" class="primary" onClick={submit}>
              Run <span class="muted kbd">Ctrl+Enter</span>
            </button>
            <button type="button" onClick={() => void download('csv')}>
              Download CSV
            </button>
            <button type="button" onClick={() => void download('parquet')}>
              Download Parquet
            </button>
            <span class="muted">One SELECT over the public tables, in the sandbox of POST /v1/sql.</span>
          </div>
          {result.state === 'running' && <Loading what="Running" />}
          {result.state === 'error' && <ErrorBox error={result.error} />}
          {result.state === 'done' && (
            <>
              <p class="muted">
                {fmtNum(result.value.rows)} rows in {Math.round(result.ms)} ms
                {result.value.rows > MAX_ROWS_SHOWN ? ` · first ${MAX_ROWS_SHOWN} shown` : ''}
              </p>
              {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling grid must take focus to scroll by keyboard (axe: scrollable-region-focusable). */}
              <section class="result-grid" tabIndex={0} aria-label="Result rows">
                <table class="grid compact">
                  <caption class="sr-only">Query result</caption>
                  <thead>
                    <tr>
                      {result.value.meta.map((m) => (
                        <th scope="col" title={m.type} class={/^(U?Int|Float|Decimal)/.test(m.type) ? 'num' : ''}>
                          {m.name}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {result.value.data.slice(0, MAX_ROWS_SHOWN).map((row) => (
                      <tr>
                        {result.value.meta.map((m) => (
                          <td class={/^(U?Int|Float|Decimal)/.test(m.type) ? 'num' : ''}>{cell(row[m.name])}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            </>
          )}
        </div>
      </div>
    </section>
  );
}
