import type { TenantAuth } from '../src/auth/tenants.js';
import type { Config } from '../src/config/config-schema.js';
import type { QueryMetrics } from './query-metrics.js';
import type { QueryRunner } from './query-runner.js';
import type { TenantSlots } from './tenant-slots.js';
import type { ApiDocs } from './typed-route.js';

/** What every group of query routes is given (query/query-api.ts builds it). */
export interface QueryContext {
  runner: QueryRunner;
  auth: TenantAuth;
  /** query.maxConcurrentPerTenant, taken by every request of a typed route. */
  slots: TenantSlots;
  docs: ApiDocs;
  config: Readonly<Config>;
  /** The query API's numbers on /metrics. */
  metrics: QueryMetrics;
}
