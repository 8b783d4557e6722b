import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { queryError } from '../query-errors.js';
import type { QueryContext } from '../query-context.js';
import { timeRangeShape } from '../time-range.js';
import { typedRoute } from '../typed-route.js';
import { sloReport, sloReportText } from './slo-report.js';
import { sloReportHtml } from './slo-report-html.js';

export const SloReportQuery = z.strictObject({
  ...timeRangeShape,
  objective: z.coerce.number().gt(0).lt(1).default(0.999).describe('Availability target in (0, 1) (default 0.999).'),
  worst: z.coerce.number().int().min(1).max(100).default(5).describe('Endpoints in each worst-of list (default 5).'),
  format: z
    .enum(['json', 'text', 'html'])
    .default('json')
    .describe('json (the numbers), text (a terminal table) or html (one self-contained page with charts).'),
});

/**
 * The HTML report is a page of the console's origin, where the console keeps
 * its token for the tab, and it shows names from the tenant's data (escaped).
 * It has no script: its policy allows its inline style alone, and it is
 * never framed nor read as another type, as the console's pages.
 */
export const REPORT_HTML_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

/**
 * GET /v1/reports/slo: the SLO report of `ssf analytics slo-report`, from a
 * running pipeline. This is how the report is made while `ssf serve` holds
 * the embedded engine (one process at a time may open its data).
 */
export function registerReportRoutes(app: FastifyInstance, ctx: QueryContext): void {
  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/reports/slo',
      tag: 'reports',
      summary: 'SLO report: availability, latency, error budget and worst endpoints per service',
      description: 'The report of `ssf analytics slo-report` over [from, to) (whole minutes), as JSON, text or a self-contained HTML page with charts.',
      query: SloReportQuery,
      responses: { 200: { description: 'The report', contentTypes: ['application/json', 'text/plain', 'text/html'] } },
    },
    async ({ query, tenant, reply }) => {
      if (query.from >= query.to) throw queryError('QUERY_ERR_BAD_REQUEST', 'query parameter from: must be before to');
      const report = await sloReport(ctx.runner, { tenant, fromMs: query.from, toMs: query.to, objective: query.objective, worst: query.worst });
      if (query.format === 'text') return reply.type('text/plain; charset=utf-8').send(sloReportText(report));
      if (query.format === 'html') return reply.type('text/html; charset=utf-8').headers(REPORT_HTML_HEADERS).send(sloReportHtml(report));
      return report;
    },
  );
}
