/*
 * The one way to define an error catalog (fastify's `FST_ERR_*`, undici's
 * `UND_ERR_*`): per area, stable prefixed codes, each with its HTTP status
 * (0 when it is never an HTTP answer: counted, logged or a dead-letter
 * header), whether a retry can fix it, and its text. Every error thrown from
 * a catalog is an SsfError; callers match `err.code`, never the class or the
 * message. docs/errors.md lists every entry of every catalog, with its
 * status (test/docs/error-codes.test.ts iterates the catalogs).
 */

export interface ErrorEntry {
  /** HTTP status of the answer; 0 when the code is never answered over HTTP. */
  readonly status: number;
  /** True when the same request or step, tried again later, can succeed. */
  readonly retriable: boolean;
  /** What the code means; the default reason. */
  readonly text: string;
  /** Seconds a client should wait before retrying (the Retry-After header), when the error is answered over HTTP. */
  readonly retryAfterSeconds?: number;
}

export interface SsfErrorOptions {
  /** Overrides the entry's retryAfterSeconds. */
  retryAfterSeconds?: number | undefined;
  /** Extra fields of the HTTP answer's body (e.g. the rejected spans of a batch). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** An error of a catalog: its code, HTTP status, retriable flag and reason (an HttpRefusal for the HTTP layer). */
export class SsfError<C extends string = string> extends Error {
  readonly code: C;
  readonly status: number;
  readonly retriable: boolean;
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;
  details?: Record<string, unknown>;

  constructor(code: C, entry: ErrorEntry, reason: string = entry.text, options: SsfErrorOptions = {}) {
    super(`${code}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SsfError';
    this.code = code;
    this.status = entry.status;
    this.retriable = entry.retriable;
    this.reason = reason;
    this.retryAfterSeconds = options.retryAfterSeconds ?? entry.retryAfterSeconds;
    if (options.details !== undefined) this.details = options.details;
  }
}

export interface ErrorCatalog<C extends string> {
  /** The prefix every code starts with, e.g. `GW` for `GW_ERR_*`. */
  readonly area: string;
  readonly entries: Readonly<Record<C, ErrorEntry>>;
  /** The codes, in definition order. */
  readonly codes: readonly C[];
  /** A new error of this catalog; `reason` defaults to the entry's text. */
  error(code: C, reason?: string, options?: SsfErrorOptions): SsfError<C>;
  /** True for an error carrying one of this catalog's codes. */
  has(err: unknown): err is SsfError<C>;
}

/**
 * Defines the catalog of one area. Codes must start with `<area>_`; a code is
 * never renamed or reused (clients and dashboards match it).
 */
export function defineErrors<const E extends Record<string, ErrorEntry>>(area: string, entries: E): ErrorCatalog<keyof E & string> {
  type C = keyof E & string;
  const codes = Object.keys(entries) as C[];
  for (const code of codes) {
    if (!code.startsWith(`${area}_`)) throw new Error(`error code ${code} does not start with ${area}_`);
  }
  const known = new Set<string>(codes);
  return Object.freeze({
    area,
    entries,
    codes,
    error: (code: C, reason?: string, options?: SsfErrorOptions) => new SsfError(code, entries[code] as ErrorEntry, reason, options),
    has: (err: unknown): err is SsfError<C> => err instanceof SsfError && known.has(err.code),
  });
}

/** The code of any error (a catalog's, a Node system error's, a library's), or '' when it has none. */
export function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}
