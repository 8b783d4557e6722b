import type { FastifyInstance } from 'fastify';
import type { Materializer } from './materializer.js';
import { processMetrics } from '../../src/observability/process-metrics.js';

export interface MaterializerRoutesOptions {
  /** Default `/metrics`. */
  metricsPath?: string;
  /** Default `/-/ready`. */
  readyPath?: string;
}

/**
 * `/metrics` (Prometheus text), `/-/ready` (200 when joined and the last
 * insert succeeded, else 503, with the status as JSON) and `/-/healthy` (if
 * the server has none yet). Paths can be moved to share a server.
 */
export function registerMaterializerRoutes(app: FastifyInstance, materializer: Materializer, options: MaterializerRoutesOptions = {}): void {
  app.get(options.metricsPath ?? '/metrics', async (request, reply) => {
    await Promise.race([
      materializer.refreshLag().catch((err: unknown) => request.log.warn({ err }, 'could not refresh the consumer lag')),
      new Promise((r) => setTimeout(r, 2_000)),
    ]);
    return reply.type('text/plain; version=0.0.4').send(materializer.metrics.registry.render() + processMetrics().render());
  });
  app.get(options.readyPath ?? '/-/ready', async (_request, reply) => {
    const status = materializer.status();
    return reply.status(status.ready ? 200 : 503).send(status);
  });
  if (!app.hasRoute({ method: 'GET', url: '/-/healthy' })) app.get('/-/healthy', async () => ({ status: 'ok' }));
}
