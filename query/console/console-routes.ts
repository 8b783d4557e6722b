import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The console's pages: every one is index.html, the app reads the path.
 * `/metrics` is not listed: it stays Prometheus' exposition; a browser
 * navigating there (Accept: text/html) gets the console (the hook below).
 */
export const CONSOLE_PAGES = ['/', '/traces', '/traces/:traceId', '/logs', '/services', '/slo', '/sql'] as const;

/**
 * No inline script or style, nothing from elsewhere: the console's own
 * bundle, and fetches of this origin only. Values from the data are set as
 * text by the app, so even a missing escape could not run a script.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

interface StaticFile {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
}

/** dist/console of this package, found from this file (dist/query/console when built, query/console from sources). */
export function defaultConsoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'console');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'console');
}

function load(dir: string): Map<string, StaticFile> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const files = new Map<string, StaticFile>();
  const add = (name: string, path: string): void => {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type) return;
    files.set(name, { body: readFileSync(path), gzip: existsSync(`${path}.gz`) ? readFileSync(`${path}.gz`) : undefined, type });
  };
  add('index.html', join(dir, 'index.html'));
  const assets = join(dir, 'assets');
  if (existsSync(assets)) for (const name of readdirSync(assets)) if (!name.endsWith('.gz')) add(`assets/${name}`, join(assets, name));
  return files;
}

function securityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CONSOLE_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  reply.header('cross-origin-opener-policy', 'same-origin');
}

/**
 * The web console (docs/console.md) on `app`: its pages (index.html for
 * every deep link) and its hashed assets, from the files `npm run build`
 * wrote to `dir`. API routes keep their paths; the console adds none under
 * /v1, /-/ or /openapi.json.
 */
export function registerConsoleRoutes(app: FastifyInstance, dir = defaultConsoleDir()): void {
  // Loaded on first use, so a console built after the server started is served too.
  let files: Map<string, StaticFile> | undefined;
  const file = (name: string): StaticFile | undefined => {
    files ??= load(dir);
    return files?.get(name);
  };

  const send = (request: FastifyRequest, reply: FastifyReply, f: StaticFile, cache: string): FastifyReply => {
    securityHeaders(reply);
    reply.header('cache-control', cache).header('vary', 'accept-encoding').type(f.type);
    const accepts = String(request.headers['accept-encoding'] ?? '');
    if (f.gzip && /\bgzip\b/.test(accepts)) return reply.header('content-encoding', 'gzip').send(f.gzip);
    return reply.send(f.body);
  };

  const page = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const index = file('index.html');
    if (!index) {
      securityHeaders(reply);
      return reply.status(503).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build` (it writes dist/console).\n');
    }
    return send(request, reply, index, 'no-cache');
  };

  for (const url of CONSOLE_PAGES) app.get(url, page);
  app.get('/assets/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const f = /^[\w.-]+$/.test(name) ? file(`assets/${name}`) : undefined;
    if (!f) return reply.status(404).send({ error: { code: 'HTTP_ERR_NOT_FOUND', reason: `no console asset ${name}` } });
    return send(request, reply, f, 'public, max-age=31536000, immutable');
  });
  // A person's browser opening /metrics gets the metrics page; scrapers (no text/html in Accept) get Prometheus' text.
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' || !/^\/metrics(\?|$)/.test(request.url)) return;
    if (!/\btext\/html\b/.test(String(request.headers.accept ?? ''))) return;
    await page(request, reply);
    return reply;
  });
}
