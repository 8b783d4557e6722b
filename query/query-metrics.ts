import { Registry } from '../src/observability/prometheus.js';

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The query API's numbers on /metrics. */
export class QueryMetrics {
  readonly registry = new Registry();
  private readonly requests = this.registry.counter('ssf_query_requests_total', 'Query API requests by route and status.', ['route', 'status']);
  private readonly refusals = this.registry.counter('ssf_query_refused_total', 'Query API refusals by error code.', ['code']);
  private readonly seconds = this.registry.histogram('ssf_query_duration_seconds', 'Time to answer a query API request, by route.', SECONDS_BUCKETS, ['route']);
  private readonly metricMetadata = this.registry.counter(
    'ssf_query_metric_metadata_total',
    'Metadata answers of the metric query (types, first buckets): kept (hit) or read from ClickHouse (miss).',
    ['result'],
  );

  private readonly logDensities = this.registry.counter(
    'ssf_query_log_density_total',
    'Log searches whose first window was sized by the density the same search had before (hit) or not (miss).',
    ['result'],
  );

  private readonly traceSamplesChecks = this.registry.counter(
    'ssf_query_trace_samples_check_total',
    'Whether a tenant has metric samples with a trace id (GET /v1/traces/{id} leaves the samples out when not): remembered (hit), read from ClickHouse (miss), or the check failed and the samples are read (error).',
    ['result'],
  );

  private readonly killFailedTotal = this.registry.counter(
    'ssf_query_kill_failed_total',
    'KILL QUERY sent for a query given up on (deadline or client gone) that failed: the query may have run on in ClickHouse.',
  );

  killFailed(): void {
    this.killFailedTotal.inc();
  }

  /** KILL QUERY failures so far. */
  killFailures(): number {
    return this.killFailedTotal.get();
  }

  answered(route: string, status: number, seconds: number): void {
    this.requests.inc({ route, status: String(status) });
    this.seconds.observe(seconds, { route });
  }

  metadata(hit: boolean): void {
    this.metricMetadata.inc({ result: hit ? 'hit' : 'miss' });
  }

  traceSamplesCheck(result: 'hit' | 'miss' | 'error'): void {
    this.traceSamplesChecks.inc({ result });
  }

  logDensity(hit: boolean): void {
    this.logDensities.inc({ result: hit ? 'hit' : 'miss' });
  }

  refused(code: string): void {
    this.refusals.inc({ code });
  }

  get(code: string): number {
    return this.refusals.get({ code });
  }
}
