import { timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import type { AuthErrorCode } from './auth-errors.js';

export type Access = 'read' | 'write';

/** Who a request acts for. */
export type AuthResult = { ok: true; tenant: string } | { ok: false; status: 401 | 403; code: AuthErrorCode; reason: string };

/** Whether a request may read `/metrics`. */
export type MetricsAccess = { ok: true } | Extract<AuthResult, { ok: false }>;

interface TokenGrant {
  token: Buffer;
  tenant: string;
  access: ReadonlySet<Access>;
}

/**
 * Bearer tokens mapped to tenants (`gateway.authTokens`: `token=tenant`, or
 * `token=tenant:write` / `token=tenant:read` to limit a token to ingesting or
 * to querying). When authentication is off every request acts for
 * `gateway.defaultTenant`. Tokens are compared in constant time.
 */
export class TenantAuth {
  private readonly grants: TokenGrant[];
  readonly required: boolean;
  /** Every listener that takes a token is on loopback. */
  private readonly loopbackOnly: boolean;
  /** The tenants the tokens name. */
  readonly tenants: ReadonlySet<string>;

  /**
   * `listeners`: the addresses of this process's listeners that take a token,
   * by setting name (default: the gateway's HTTP and OTLP listeners). Throws a
   * ConfigError when `auto` requires tokens and none are configured.
   */
  constructor(
    private readonly gateway: Config['gateway'],
    listeners: Readonly<Record<string, string>> = authenticatedListeners(gateway),
  ) {
    this.grants = Object.entries(gateway.authTokens).map(([token, value]) => {
      const at = value.lastIndexOf(':');
      const scope = at === -1 ? '' : value.slice(at + 1);
      const scoped = scope === 'read' || scope === 'write';
      return {
        token: Buffer.from(token),
        tenant: scoped ? value.slice(0, at) : value,
        access: new Set<Access>(scoped ? [scope] : ['read', 'write']),
      };
    });
    this.tenants = new Set(this.grants.map((g) => g.tenant));
    this.loopbackOnly = exposed(listeners).length === 0;
    this.required = gateway.requireAuth === 'always' || (gateway.requireAuth === 'auto' && (this.grants.length > 0 || !this.loopbackOnly));
    checkTokens(gateway, listeners);
  }

  /**
   * The tenant a request acts for. `host`: an HTTP request's Host header
   * (`''` when it has none); not given for gRPC, which no web page speaks.
   *
   * With authentication off on loopback, any web page the user opens can
   * point a name of its own at 127.0.0.1 (DNS rebinding) and then read and
   * write here as its own origin: the browser sends no preflight and lets it
   * read the answers. What it cannot do is send a loopback name as Host, so
   * such a request is refused (AUTH_ERR_HOST). With tokens, a page has none
   * to send; with `requireAuth=never` off loopback the network is let in on
   * purpose, by whatever name.
   */
  authenticate(authorization: string | undefined, access: Access, host?: string): AuthResult {
    if (!this.required) {
      if (host !== undefined && this.loopbackOnly && !isLoopbackHost(host)) {
        return {
          ok: false,
          status: 403,
          code: 'AUTH_ERR_HOST',
          reason: `authentication is off, so this listener answers only requests addressed to localhost, 127.0.0.1 or [::1], not ${JSON.stringify(host.slice(0, 256))} (a web page of another site may have pointed that name here); to reach it by another name, set gateway.authTokens`,
        };
      }
      return { ok: true, tenant: this.gateway.defaultTenant };
    }
    if (!authorization)
      return { ok: false, status: 401, code: 'AUTH_ERR_MISSING_TOKEN', reason: 'this endpoint needs an Authorization: Bearer <token> header' };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return { ok: false, status: 401, code: 'AUTH_ERR_BAD_TOKEN', reason: 'the Authorization header must be "Bearer <token>"' };
    const given = Buffer.from(m[1] as string);
    const grant = this.grants.find((g) => g.token.length === given.length && timingSafeEqual(g.token, given));
    if (!grant) return { ok: false, status: 401, code: 'AUTH_ERR_BAD_TOKEN', reason: 'unknown token' };
    if (!grant.access.has(access))
      return { ok: false, status: 403, code: 'AUTH_ERR_FORBIDDEN', reason: `this token may only ${[...grant.access].join(' and ')}` };
    return { ok: true, tenant: grant.tenant };
  }

  /**
   * `GET /metrics` shows every tenant's counters (tenant names, their metric
   * names), so no tenant token opens it. With `gateway.metricsToken` set, a
   * scrape needs that token; without it, and tenant tokens required, only a
   * client on loopback may read it (a Prometheus on the same host, a health
   * script); with authentication off, anyone who reaches the listener, as
   * before. Behind a proxy on the same host every client is on loopback: set
   * the token there.
   */
  authorizeMetrics(authorization: string | undefined, peer: string | undefined): MetricsAccess {
    const want = this.gateway.metricsToken;
    if (want !== '') {
      if (!authorization)
        return { ok: false, status: 401, code: 'AUTH_ERR_MISSING_TOKEN', reason: '/metrics needs an Authorization: Bearer <gateway.metricsToken> header' };
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      const given = Buffer.from(m?.[1] ?? '');
      const expected = Buffer.from(want);
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        return { ok: false, status: 401, code: 'AUTH_ERR_BAD_TOKEN', reason: 'not the metrics token (gateway.metricsToken)' };
      return { ok: true };
    }
    if (!this.required || isLoopbackPeer(peer)) return { ok: true };
    return {
      ok: false,
      status: 403,
      code: 'AUTH_ERR_FORBIDDEN',
      reason: '/metrics names every tenant: from another host it needs gateway.metricsToken (Authorization: Bearer <token>)',
    };
  }
}

/** A connection's remote address (`socket.remoteAddress`, no port) is this host. */
export function isLoopbackPeer(ip: string | undefined): boolean {
  return ip !== undefined && (ip === '::1' || /^127\.\d+\.\d+\.\d+$/.test(ip) || /^::ffff:127\.\d+\.\d+\.\d+$/i.test(ip));
}

/**
 * An HTTP Host header (`name[:port]`) naming this host by a loopback name or
 * address. A page of another site can make its own name resolve here, never
 * make the browser send one of these for it.
 */
export function isLoopbackHost(host: string): boolean {
  return !host.startsWith('/') && isLoopback(host);
}

// Any listener that takes a token decides, not only the HTTP one: an OTLP listener on
// the network with authentication off would let anyone write as `gateway.defaultTenant`.
function exposed(listeners: Readonly<Record<string, string>>): Array<[string, string]> {
  return Object.entries(listeners).filter(([, address]) => address !== '' && !isLoopback(address));
}

/**
 * Throws a ConfigError when `gateway.requireAuth=auto` requires tokens (a
 * listener that takes one is off loopback) and none are configured: such a
 * process could take nothing there. The commands call it before they start
 * anything; TenantAuth calls it too.
 */
export function checkTokens(gateway: Config['gateway'], listeners: Readonly<Record<string, string>> = authenticatedListeners(gateway)): void {
  const open = exposed(listeners);
  if (gateway.requireAuth !== 'auto' || Object.keys(gateway.authTokens).length > 0 || open.length === 0) return;
  throw new ConfigError(
    `${open.map(([name, address]) => `${name}=${address}`).join(', ')} ${open.length === 1 ? 'is' : 'are'} not on loopback, so tokens are required (gateway.requireAuth=auto), and gateway.authTokens is empty: nothing could write or read there. Set gateway.authTokens (token=tenant), bind ${open.length === 1 ? 'it' : 'them'} to 127.0.0.1, or choose gateway.requireAuth: "always" to refuse every request without a token, "never" to take unauthenticated requests from the network as gateway.defaultTenant.`,
  );
}

/** The gateway's listeners whose requests carry a token, by setting name: its HTTP server and both OTLP receivers. */
export function authenticatedListeners(gateway: Config['gateway']): Record<string, string> {
  return { 'gateway.httpListen': gateway.httpListen, 'gateway.otlpHttpListen': gateway.otlpHttpListen, 'gateway.otlpGrpcListen': gateway.otlpGrpcListen };
}

/** Whether a `host:port` setting binds to the loopback interface only (a UNIX socket path is local too). */
export function isLoopback(address: string): boolean {
  if (address.startsWith('/')) return true;
  const host = address
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./.test(host);
}
