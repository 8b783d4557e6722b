import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { QueryContext } from '../query-context.js';
import { SQL_FORMATS } from '../query-runner.js';
import type { SqlFormat } from '../query-runner.js';
import { typedRoute } from '../typed-route.js';
import { guardSql } from './sql-guard.js';

const paramValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.union([z.string(), z.number(), z.boolean(), z.null()]))]);

export const SqlRequest = z.strictObject({
  sql: z
    .string()
    .max(256 * 1024)
    .describe('One SELECT over the public tables (docs/tables.md). Parameters are written `{name:Type}`.'),
  params: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a parameter name is an identifier'), paramValue)
    .default({})
    .describe('Values of the `{name:Type}` parameters, bound by ClickHouse (never spliced into the text).'),
  format: z
    .enum(Object.keys(SQL_FORMATS) as [SqlFormat, ...SqlFormat[]])
    .default('json')
    .describe("json: ClickHouse's JSON format (meta, data, rows), buffered. csv, tsv, ndjson, parquet: streamed."),
});

/**
 * POST /v1/sql: one read-only statement, checked by sql-guard.ts, run with
 * the tenant's filter and the configured limits (query-runner.ts).
 * A streamed format that fails after its first bytes ends the response
 * without its chunked terminator, so a client never mistakes a cut answer
 * for a whole one.
 */
export function registerSqlRoutes(app: FastifyInstance, ctx: QueryContext): void {
  typedRoute(
    app,
    ctx,
    {
      method: 'POST',
      url: '/v1/sql',
      tag: 'sql',
      summary: 'Run one read-only SQL statement over the public tables',
      description:
        "Enforced in every mode: one SELECT, no SETTINGS/FORMAT/INTO OUTFILE, no table functions but numbers/values/generateSeries, no system tables or other databases, no function that reads files, dictionaries or server settings. Every read of a public table is filtered to the token's tenant by ClickHouse (additional_table_filters). Limits: query.maxExecutionTimeS, query.maxResultRows, query.maxResultBytes, query.maxMemoryUsage.",
      body: SqlRequest,
      responses: {
        200: { description: 'The answer, in the asked format', contentTypes: Object.values(SQL_FORMATS).map((f) => f.contentType) },
      },
    },
    async ({ body, tenant, reply }) => {
      const sql = await guardSql(ctx.runner, body.sql, tenant, body.params);
      const format = SQL_FORMATS[body.format];
      if (body.format === 'json') {
        const text = await ctx.runner.text(sql, tenant, body.params, format.clickhouse);
        return reply.type(format.contentType).send(text);
      }
      const stream = await ctx.runner.stream(sql, tenant, body.params, body.format);
      if (body.format === 'parquet') reply.header('content-disposition', 'attachment; filename="result.parquet"');
      return reply.type(format.contentType).send(stream);
    },
  );
}
