// The query API as the console reads it: same origin, the token (when
// authentication is on) kept in sessionStorage for this tab only.

const TOKEN_KEY = 'ssf.console.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    reason: string,
  ) {
    super(reason);
  }
}

type Listener = () => void;
const tokenListeners = new Set<Listener>();
let tokenWanted = false;

export function token(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(value: string | null): void {
  if (value === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
  tokenWanted = false;
  for (const l of tokenListeners) l();
}

/** True after an answer asked for a token (401, or 403 for a token without read access). */
export function isTokenWanted(): boolean {
  return tokenWanted;
}

export function onTokenChange(listener: Listener): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return { ...(t ? { authorization: `Bearer ${t}` } : {}), ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let reason = res.statusText;
  try {
    const body = (await res.json()) as { error?: { code?: string; reason?: string } };
    code = body.error?.code ?? code;
    reason = body.error?.reason ?? reason;
  } catch {
    // not JSON: keep the status line
  }
  // AUTH_ERR_HOST is no token's fault (authentication is off): its reason is shown, not the token form.
  if (res.status === 401 || (res.status === 403 && code.startsWith('AUTH_') && code !== 'AUTH_ERR_HOST')) {
    tokenWanted = true;
    for (const l of tokenListeners) l();
  }
  return new ApiError(res.status, code, reason);
}

export type Params = Record<string, string | number | boolean | readonly string[] | undefined | null>;

/** `path?k=v&k=v2`: arrays repeat the key; undefined, null and '' are left out. */
export function withQuery(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const x of v as readonly string[]) q.append(k, x);
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// Requests in flight, for the progress bar (a page keeps its last answer on screen while the next loads).
let inFlight = 0;
const busyListeners = new Set<(busy: boolean) => void>();

export function onBusyChange(listener: (busy: boolean) => void): () => void {
  busyListeners.add(listener);
  return () => busyListeners.delete(listener);
}

async function tracked<T>(work: Promise<T>): Promise<T> {
  if (inFlight++ === 0) for (const l of busyListeners) l(true);
  try {
    return await work;
  } finally {
    if (--inFlight === 0) for (const l of busyListeners) l(false);
  }
}

// The API runs at most query.maxConcurrentPerTenant (default 4) queries per
// tenant at once and answers 429 past it: a page that asks for many answers
// together (the SQL page's columns, the overview) queues its requests here
// instead, leaving a slot for other tabs and tools of the same tenant.
const MAX_IN_FLIGHT = 3;
let running = 0;
const waiting: Array<() => void> = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** GET a JSON answer; `quiet` leaves the progress bar alone (live tail polling). */
export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal, quiet = false): Promise<T> {
  const load = async (): Promise<T> => {
    const res = await limited(() => fetch(withQuery(path, params), { headers: headers({ accept: 'application/json' }), ...(signal ? { signal } : {}) }));
    if (!res.ok) throw await failure(res);
    return (await res.json()) as T;
  };
  return quiet ? load() : tracked(load());
}

export async function postSql(sql: string, format: 'json' | 'csv' | 'parquet', signal?: AbortSignal): Promise<Response> {
  const res = await tracked(
    limited(() =>
      fetch('/v1/sql', {
        method: 'POST',
        headers: headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ sql, format }),
        ...(signal ? { signal } : {}),
      }),
    ),
  );
  if (!res.ok) throw await failure(res);
  return res;
}

// --- answers (docs/query/*.md) ------------------------------------------------

// The answers' types are the server modules' own (type-only imports, erased by
// esbuild: the bundle takes no server code); the console's names are aliases.
export type { TraceNode as SpanNode } from '../../traces/assemble-trace.js';
export type { TraceAnswer as Trace, TraceLog, TraceSample } from '../../traces/fetch-trace.js';
export type { TraceSummary } from '../../traces/search-traces.js';
export type { LogAnswerRow as LogRow, LogsAnswer } from '../../logs/search-logs.js';
export type { LogHistogram } from '../../logs/log-histogram.js';

export interface MetricSeries {
  tags: Record<string, string>;
  points: Array<[number, number]>;
}

export interface MetricAnswer {
  name: string;
  read_as: string;
  agg: string;
  step_ms: number;
  from: number;
  to: number;
  source: string;
  series: MetricSeries[];
}

export interface MetricList {
  metrics: Array<{ name: string; types: string[]; series: number; last_seen: number }>;
  truncated: boolean;
  source: string;
}

export interface MetricTags {
  series: number;
  keys: Array<{ key: string; series: number; values_count: number; values: Array<{ value: string; series: number }> }>;
}

export type { ServiceStats } from '../../services/service-stats.js';
export type { ServiceEdge, ServiceGraph } from '../../services/service-graph.js';
export type { SloNumbers as SloWindow, SloReport as SloAnswer } from '../../services/slo.js';
export type { BurnAlert as SloAlert } from '../../services/burn-alerts.js';

export interface SqlJson {
  meta: Array<{ name: string; type: string }>;
  data: Array<Record<string, unknown>>;
  rows: number;
}
