import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one API request's queries share: `signal` aborts when the client has
 * gone (its connection closed before the answer was sent), and `queries`
 * holds one promise per query, settled once ClickHouse has let the query go
 * (at once when it ended; after KILL QUERY when it was given up on), so the
 * tenant's slot is held until every query of the request is gone.
 * typed-route.ts opens one per request; query-runner.ts reads it.
 */
export interface QueryScope {
  readonly signal: AbortSignal;
  readonly queries: Set<Promise<void>>;
}

export const queryScope = new AsyncLocalStorage<QueryScope>();
