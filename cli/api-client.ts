import { UsageError } from './command.js';

/** The pipeline's HTTP address when nothing else is given: `ssf serve`'s listener. */
export const DEFAULT_ADDRESS = 'http://127.0.0.1:8127';

/** The options every command that talks to the query API takes (merged into its parseArgs options). */
export const API_OPTIONS = {
  address: { type: 'string' },
  token: { type: 'string' },
} as const;

/** The `--address` / `--token` lines of a command's --help. */
export const API_HELP = `  --address URL        the pipeline's HTTP address (default $SSF_ADDRESS when it is
                       http(s)://, else ${DEFAULT_ADDRESS}: ssf serve)
  --token TOKEN        bearer token (default $SSF_TOKEN)`;

/** Where the commands send their requests. */
export interface ApiTarget {
  address: string;
  token: string | undefined;
}

/**
 * `--address` or `$SSF_ADDRESS` or the default, and `--token` or `$SSF_TOKEN`.
 * `$SSF_ADDRESS` is shared with the emitter, where it may be a udp:// address:
 * only an http(s) one is used here.
 */
export function apiTarget(values: { address?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv = process.env): ApiTarget {
  const fromEnv = env['SSF_ADDRESS'];
  const address = values.address ?? (fromEnv && /^https?:\/\//i.test(fromEnv) ? fromEnv : DEFAULT_ADDRESS);
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new UsageError(`--address "${address}" is not a URL: give http://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--address must be http:// or https:// (got "${address}")`);
  const token = values.token ?? env['SSF_TOKEN'];
  return { address: url.origin + url.pathname.replace(/\/+$/, ''), token: token === '' ? undefined : token };
}

/** A failed request: the API's coded refusal (`{error:{code,reason}}`), or the address cannot be reached. main.ts prints it and exits 1. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly code: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

export type QueryValue = string | number | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue> | undefined;
  body?: unknown;
  timeoutMs?: number | undefined;
}

/** The small HTTP client the operator commands share: the address, the token, and errors worth reading. */
export class ApiClient {
  constructor(readonly target: ApiTarget) {}

  /** `path` with the query parameters that have a value. */
  url(path: string, query: Record<string, QueryValue> = {}): string {
    const url = new URL(this.target.address + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** The response of a successful request (2xx); anything else throws an ApiError. */
  async request(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {};
    if (this.target.token) headers['authorization'] = `Bearer ${this.target.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
      });
    } catch (err) {
      throw unreachable(this.target.address, err);
    }
    if (res.ok) return res;
    throw await refusal(res, this.target);
  }

  async json<T>(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, options);
    return (await res.json()) as T;
  }

  async text(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<string> {
    const res = await this.request(method, path, options);
    return res.text();
  }
}

function unreachable(address: string, err: unknown): ApiError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return new ApiError(`${address} did not answer in time`, 'TIMEOUT', undefined);
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  return new ApiError(
    `cannot reach the pipeline at ${address} (${why}). Is \`ssf serve\` running there? Give --address or set $SSF_ADDRESS.`,
    e.cause?.code ?? 'UNREACHABLE',
    undefined,
  );
}

async function refusal(res: Response, target: ApiTarget): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let code = `HTTP_${res.status}`;
  let reason = text.trim().slice(0, 2000) || res.statusText;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; reason?: unknown; message?: unknown } | string; message?: unknown };
    if (typeof body.error === 'object' && body.error !== null) {
      if (typeof body.error.code === 'string') code = body.error.code;
      if (typeof body.error.reason === 'string') reason = body.error.reason;
      else if (typeof body.error.message === 'string') reason = body.error.message;
    } else if (typeof body.message === 'string') reason = body.message;
  } catch {
    // Not JSON: keep the text.
  }
  if (res.status === 404 && code === `HTTP_404`)
    reason = `${res.url.replace(target.address, '').replace(/\?.*$/, '')} is not served at ${target.address} (${reason})`;
  if (res.status === 401 && !target.token) reason += ' (give --token or set $SSF_TOKEN)';
  return new ApiError(reason, code, res.status);
}
