import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { TenantAuth } from '../src/auth/tenants.js';
import { AuthErrors } from '../src/auth/auth-errors.js';
import { queryError } from './query-errors.js';
import { queryScope } from './query-scope.js';
import type { QueryScope } from './query-scope.js';
import type { TenantSlots } from './tenant-slots.js';

/** One route as the OpenAPI document describes it. */
export interface RouteDoc {
  method: 'GET' | 'POST';
  /** fastify's form: `/v1/traces/:traceId`. */
  url: string;
  summary: string;
  description?: string;
  tag: string;
  query?: z.ZodObject;
  params?: z.ZodObject;
  body?: z.ZodType;
  /** Status -> what it means; the error statuses are added from the catalog. */
  responses: Record<number, { description: string; contentTypes?: string[] }>;
}

export interface RouteInput<Q, P, B> {
  query: Q;
  params: P;
  body: B;
  /** The tenant the request acts for (from its token, or the default tenant). */
  tenant: string;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** Every route of the query API, for `/openapi.json`. */
export class ApiDocs {
  readonly routes: RouteDoc[] = [];

  add(doc: RouteDoc): void {
    this.routes.push(doc);
  }

  /** The OpenAPI 3.1 document. */
  document(info: { title: string; version: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of this.routes) {
      const path = r.url.replace(/:(\w+)/g, '{$1}');
      const parameters = [...parametersOf(r.params, 'path'), ...parametersOf(r.query, 'query')];
      const responses: Record<string, unknown> = {};
      for (const [status, res] of Object.entries(r.responses)) {
        responses[status] = {
          description: res.description,
          content: Object.fromEntries((res.contentTypes ?? ['application/json']).map((t) => [t, {}])),
        };
      }
      for (const [status, description] of [
        ['400', 'a bad parameter or SQL: { error: { code, reason } }'],
        ['401', 'a token is needed or unknown'],
        ['403', 'refused (forbidden statement, table or function; token without read access)'],
        ['422', 'a limit was hit (time, result size, memory)'],
        ['503', 'ClickHouse cannot be reached'],
      ] as const) {
        responses[status] ??= { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      }
      (paths[path] ??= {})[r.method.toLowerCase()] = {
        summary: r.summary,
        ...(r.description ? { description: r.description } : {}),
        tags: [r.tag],
        ...(parameters.length ? { parameters } : {}),
        ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } } : {}),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info,
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'A token of `gateway.authTokens` with read access; not needed when authentication is off (loopback, no tokens).',
          },
        },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'reason'],
                properties: { code: { type: 'string', description: 'A stable code from docs/errors.md' }, reason: { type: 'string' } },
              },
            },
          },
        },
      },
      security: [{ bearer: [] }, {}],
      paths,
    };
  }
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete s['$schema'];
  return s;
}

function parametersOf(schema: z.ZodObject | undefined, where: 'path' | 'query'): Array<Record<string, unknown>> {
  if (!schema) return [];
  const whole = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(whole.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: where, required: where === 'path' || (whole.required ?? []).includes(name), ...(description ? { description } : {}), schema: rest };
  });
}

/** The JSON body (all-in-one mode: the gateway's parser hands application/json over as bytes). */
function jsonBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body)) return body;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw queryError('QUERY_ERR_BAD_REQUEST', `body: not JSON (${(err as Error).message})`);
  }
}

function parseInput<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue && issue.path.length > 0 ? `${where} ${issue.path.join('.')}` : where;
  throw queryError('QUERY_ERR_BAD_REQUEST', `${field}: ${issue?.message ?? 'invalid'}`);
}

/**
 * Adds a read route: the token is checked for read access, then the path,
 * query string and body are parsed with their zod schemas (a mismatch is a
 * coded 400 naming the field), and the route is listed in /openapi.json.
 * The request takes one of its tenant's slots (429 past
 * query.maxConcurrentPerTenant) and gives it back when its connection is
 * done and ClickHouse has let every query of it go; a client that leaves
 * early aborts its queries (query-scope.ts).
 */
export function typedRoute<Q extends z.ZodObject | undefined, P extends z.ZodObject | undefined, B extends z.ZodType | undefined>(
  app: FastifyInstance,
  deps: { auth: TenantAuth; docs: ApiDocs; slots: TenantSlots },
  doc: RouteDoc & { query?: Q; params?: P; body?: B },
  handler: (
    input: RouteInput<
      Q extends z.ZodType ? z.output<Q> : undefined,
      P extends z.ZodType ? z.output<P> : undefined,
      B extends z.ZodType ? z.output<B> : undefined
    >,
  ) => Promise<unknown>,
): void {
  deps.docs.add(doc);
  app.route({
    method: doc.method,
    url: doc.url,
    handler: async (request, reply) => {
      const auth = deps.auth.authenticate(request.headers.authorization, 'read', request.headers.host ?? '');
      if (!auth.ok) throw AuthErrors.error(auth.code, auth.reason);
      const input = {
        query: parseInput(doc.query, request.query, 'query parameter'),
        params: parseInput(doc.params, request.params, 'path parameter'),
        body: parseInput(doc.body, doc.body ? jsonBody(request.body) : undefined, 'body'),
        tenant: auth.tenant,
        request,
        reply,
      };
      const release = deps.slots.acquire(auth.tenant);
      const gone = new AbortController();
      const scope: QueryScope = { signal: gone.signal, queries: new Set() };
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
        void Promise.allSettled([...scope.queries]).then(release);
      });
      return queryScope.run(scope, () => handler(input as Parameters<typeof handler>[0]));
    },
  });
}
