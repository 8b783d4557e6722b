import type { FastifyInstance } from 'fastify';
import { AuthErrors } from '../src/auth/auth-errors.js';
import { TenantAuth } from '../src/auth/tenants.js';
import type { ClickHouse } from '../src/clickhouse/create-client.js';
import { probeClickHouse } from '../src/clickhouse/probe.js';
import type { Config } from '../src/config/config-schema.js';
import { refusalOf } from '../src/http/create-http-server.js';
import type { Registry } from '../src/observability/prometheus.js';
import type { QueryContext } from './query-context.js';
import { QueryMetrics } from './query-metrics.js';
import { QueryRunner } from './query-runner.js';
import { TenantSlots } from './tenant-slots.js';
import { registerReportRoutes } from './analytics/report-routes.js';
import { registerConsoleRoutes } from './console/console-routes.js';
import { registerLogHistogramRoutes } from './logs/log-histogram.js';
import { registerLogRoutes } from './logs/log-routes.js';
import { registerMetricRoutes } from './metrics/metric-routes.js';
import { registerServiceRoutes } from './services/service-routes.js';
import { registerSqlRoutes } from './sql/sql-routes.js';
import { registerTraceRoutes } from './traces/trace-routes.js';
import { ApiDocs } from './typed-route.js';
import { processMetrics } from '../src/observability/process-metrics.js';

export interface QueryApiOptions {
  /** Shared with the gateway in all-in-one mode (same tokens). Default: built from the configuration. */
  auth?: TenantAuth;
  /**
   * Distributed mode: this process owns the server, so the query API adds
   * `/-/ready` (ClickHouse reachable) and `/metrics`. In all-in-one mode the
   * gateway has both, and `registry` receives the query API's numbers.
   */
  standalone: boolean;
  registry?: Registry;
  /** Where the web console's built files are (default: dist/console of this package). */
  consoleDir?: string;
  /**
   * The client that stops queries given up on (`KILL QUERY`): the writer's,
   * whose user may see and stop the read-only user's queries. Default: `ch`.
   */
  killer?: ClickHouse;
}

export interface QueryApi {
  context: QueryContext;
  metrics: QueryMetrics;
}

// Every group of routes: one line each.
const ROUTE_GROUPS: Array<(app: FastifyInstance, ctx: QueryContext) => void> = [
  registerSqlRoutes,
  registerLogRoutes,
  registerLogHistogramRoutes,
  registerMetricRoutes,
  registerTraceRoutes,
  registerServiceRoutes,
  registerReportRoutes,
];

/**
 * The query API on `app`: POST /v1/sql, the typed endpoints (traces, logs,
 * metrics, services, SLOs) and /openapi.json. `ch` is the reading client
 * (the read-only user in server mode; the shared engine when embedded).
 */
export function registerQueryApi(app: FastifyInstance, config: Readonly<Config>, ch: ClickHouse, options: QueryApiOptions): QueryApi {
  const metrics = new QueryMetrics();
  options.registry?.adopt(metrics.registry);
  const context: QueryContext = {
    runner: new QueryRunner(ch, config.query, {
      ...(options.killer ? { killer: options.killer } : {}),
      onKillFailed: (queryId, err) => {
        metrics.killFailed();
        app.log.warn({ queryId, err }, 'KILL QUERY failed: the query may still run in ClickHouse');
      },
    }),
    slots: new TenantSlots(config.query.maxConcurrentPerTenant),
    // Standalone, the API's own listener decides whether tokens are required (off loopback: yes);
    // in all-in-one mode it shares the gateway's server and its TenantAuth.
    auth: options.auth ?? new TenantAuth(config.gateway, options.standalone ? { 'query.listen': config.query.listen } : undefined),
    docs: new ApiDocs(),
    config,
    metrics,
  };

  app.register(async (scope) => {
    scope.addHook('onResponse', async (request, reply) => {
      metrics.answered(request.routeOptions.url ?? 'unknown', reply.statusCode, reply.elapsedTime / 1000);
    });
    scope.addHook('onError', async (_request, _reply, err) => {
      metrics.refused(refusalOf(err).code);
    });
    for (const group of ROUTE_GROUPS) group(scope, context);
    scope.get('/openapi.json', async () => context.docs.document({ title: 'SSF pipeline query API', version: '1' }));
  });
  registerConsoleRoutes(app, options.consoleDir);

  if (options.standalone) {
    app.get('/-/ready', async (_request, reply) => {
      const probe = await probeClickHouse(ch);
      return reply.status(probe.ok ? 200 : 503).send({ ready: probe.ok, clickhouse: probe });
    });
    app.get('/metrics', async (request, reply) => {
      const access = context.auth.authorizeMetrics(request.headers.authorization, request.socket.remoteAddress);
      if (!access.ok) throw AuthErrors.error(access.code, access.reason);
      return reply.type('text/plain; version=0.0.4').send(metrics.registry.render() + processMetrics().render());
    });
  }
  return { context, metrics };
}
