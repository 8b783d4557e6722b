import { timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/config-schema.js';
import type { AuthErrorCode } from './auth-errors.js';

export type Access = 'read' | 'write';

/** Who a request acts for. */
export type AuthResult = { ok: true; tenant: string } | { ok: false; status: 401 | 403; code: AuthErrorCode; reason: string };

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
  /** The tenants the tokens name. */
  readonly tenants: ReadonlySet<string>;

  constructor(private readonly gateway: Config['gateway']) {
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
    const host = gateway.httpListen.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
    this.required = gateway.requireAuth === 'always' || (gateway.requireAuth === 'auto' && (this.grants.length > 0 || !loopback));
  }

  authenticate(authorization: string | undefined, access: Access): AuthResult {
    if (!this.required) return { ok: true, tenant: this.gateway.defaultTenant };
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
}
