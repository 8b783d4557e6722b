import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLoopback, isLoopbackHost, isLoopbackPeer, TenantAuth } from '../../src/auth/tenants.js';
import { loadConfig } from '../../src/config/load-config.js';
import { runCli } from '../cli/run-cli.js';

const gateway = (env: Record<string, string>) => loadConfig({ env }).gateway;

describe('when tokens are required (gateway.requireAuth=auto)', () => {
  it('on loopback with no tokens: not required', () => {
    expect(new TenantAuth(gateway({})).required).toBe(false);
    expect(new TenantAuth(gateway({ SSF_GATEWAY_OTLP_GRPC_LISTEN: '[::1]:4317', SSF_GATEWAY_OTLP_HTTP_LISTEN: 'localhost:4318' })).required).toBe(false);
  });

  it('an OTLP listener off loopback without tokens: the gateway does not start, and says which listener and what to do', () => {
    for (const [env, setting] of [
      ['SSF_GATEWAY_OTLP_GRPC_LISTEN', 'gateway.otlpGrpcListen'],
      ['SSF_GATEWAY_OTLP_HTTP_LISTEN', 'gateway.otlpHttpListen'],
      ['SSF_GATEWAY_HTTP_LISTEN', 'gateway.httpListen'],
    ] as const) {
      let thrown: unknown;
      try {
        new TenantAuth(gateway({ [env]: '0.0.0.0:4317' }));
      } catch (err) {
        thrown = err;
      }
      expect(thrown, env).toMatchObject({ code: 'CFG_INVALID' });
      expect((thrown as Error).message).toContain(`${setting}=0.0.0.0:4317 is not on loopback`);
      expect((thrown as Error).message).toMatch(/gateway\.authTokens/);
    }
  });

  it('an OTLP listener off loopback with tokens: required, on every listener', () => {
    const auth = new TenantAuth(gateway({ SSF_GATEWAY_OTLP_GRPC_LISTEN: '10.0.0.5:4317', SSF_GATEWAY_AUTH_TOKENS: 'tok=acme' }));
    expect(auth.required).toBe(true);
    expect(auth.authenticate(undefined, 'write')).toMatchObject({ ok: false, code: 'AUTH_ERR_MISSING_TOKEN' });
    expect(auth.authenticate('Bearer tok', 'write')).toEqual({ ok: true, tenant: 'acme' });
  });

  it('an explicit choice is kept: always refuses without a token, never takes the network as the default tenant', () => {
    expect(new TenantAuth(gateway({ SSF_GATEWAY_OTLP_HTTP_LISTEN: '0.0.0.0:4318', SSF_GATEWAY_REQUIRE_AUTH: 'always' })).required).toBe(true);
    expect(new TenantAuth(gateway({ SSF_GATEWAY_OTLP_HTTP_LISTEN: '0.0.0.0:4318', SSF_GATEWAY_REQUIRE_AUTH: 'never' })).required).toBe(false);
  });

  it('tells loopback addresses apart', () => {
    for (const a of ['127.0.0.1:1', '127.1.2.3:1', 'localhost:1', 'LOCALHOST:1', '[::1]:1', '/tmp/ssf.sock']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['0.0.0.0:1', '[::]:1', '10.0.0.1:1', 'gateway:1', '127.example.com:1', '[::ffff:10.0.0.1]:1']) expect(isLoopback(a), a).toBe(false);
  });
});

describe('authentication off: only a loopback Host is answered (DNS rebinding)', () => {
  it('refuses another name with AUTH_ERR_HOST on loopback; lets it in with tokens, or when the network is let in on purpose', () => {
    const off = new TenantAuth(gateway({}));
    for (const host of ['127.0.0.1:8127', 'localhost:8127', 'LOCALHOST', '[::1]:8127', '127.3.2.1']) {
      expect(off.authenticate(undefined, 'read', host), host).toEqual({ ok: true, tenant: 'default' });
    }
    for (const host of ['rebind.example:8127', '127.0.0.1.nip.io:8127', 'localhost.example', '10.0.0.1:8127', '', '/tmp/x']) {
      expect(off.authenticate(undefined, 'read', host), host).toMatchObject({ ok: false, status: 403, code: 'AUTH_ERR_HOST' });
    }
    // gRPC (no Host to check: no web page speaks it).
    expect(off.authenticate(undefined, 'write')).toEqual({ ok: true, tenant: 'default' });
    const tokens = new TenantAuth(gateway({ SSF_GATEWAY_AUTH_TOKENS: 'tok=acme' }));
    expect(tokens.authenticate('Bearer tok', 'read', 'ssf.example.com')).toEqual({ ok: true, tenant: 'acme' });
    const never = new TenantAuth(gateway({ SSF_GATEWAY_HTTP_LISTEN: '0.0.0.0:8127', SSF_GATEWAY_REQUIRE_AUTH: 'never' }));
    expect(never.authenticate(undefined, 'read', 'ssf.example.com:8127')).toEqual({ ok: true, tenant: 'default' });
    expect(isLoopbackHost('[::1]')).toBe(true);
  });
});

describe('ssf serve with an OTLP listener on the network and no tokens', () => {
  it('stops before it starts anything, with the message, and a non-zero exit', async () => {
    const data = join(mkdtempSync(join(tmpdir(), 'ssf-auth-')), 'ch');
    const r = await runCli(['serve', '--data', data], { SSF_GATEWAY_OTLP_GRPC_LISTEN: '0.0.0.0:4317', SSF_CLICKHOUSE_URL: '' });
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('gateway.otlpGrpcListen=0.0.0.0:4317 is not on loopback');
    // Nothing was started: the engine never made its data directory.
    expect(() => readdirSync(data)).toThrow();
  }, 60_000);
});

describe('the query API run on its own', () => {
  it('decides by its own listener: off loopback without tokens it does not start; with tokens, reads need one', async () => {
    const { createHttpServer } = await import('../../src/http/create-http-server.js');
    const { createClickHouse } = await import('../../src/clickhouse/create-client.js');
    const { registerQueryApi } = await import('../../query/query-api.js');
    // A client that never connects: nothing here sends a query.
    const start = async (env: Record<string, string>) => {
      const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: 'http://127.0.0.1:1', ...env } });
      const ch = await createClickHouse(config.clickhouse);
      const app = createHttpServer({ logLevel: false, bodyLimit: 1_048_576 });
      try {
        registerQueryApi(app, config, ch, { standalone: true });
        await app.ready();
        return (await app.inject({ method: 'GET', url: '/v1/metrics' })).statusCode;
      } finally {
        await app.close();
        await ch.close();
      }
    };
    await expect(start({ SSF_QUERY_LISTEN: '0.0.0.0:8130' })).rejects.toMatchObject({ code: 'CFG_INVALID' });
    expect(await start({ SSF_QUERY_LISTEN: '0.0.0.0:8130', SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme' })).toBe(401);
  });

  it("its /metrics (every tenant's counters): this host only, or gateway.metricsToken", async () => {
    const { createHttpServer } = await import('../../src/http/create-http-server.js');
    const { createClickHouse } = await import('../../src/clickhouse/create-client.js');
    const { registerQueryApi } = await import('../../query/query-api.js');
    const scrape = async (env: Record<string, string>, remoteAddress: string, token?: string) => {
      const config = loadConfig({
        env: { SSF_CLICKHOUSE_URL: 'http://127.0.0.1:1', SSF_QUERY_LISTEN: '0.0.0.0:8130', SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme', ...env },
      });
      const ch = await createClickHouse(config.clickhouse);
      const app = createHttpServer({ logLevel: false, bodyLimit: 1_048_576 });
      try {
        registerQueryApi(app, config, ch, { standalone: true });
        await app.ready();
        const headers = token ? { authorization: `Bearer ${token}` } : {};
        return (await app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers })).statusCode;
      } finally {
        await app.close();
        await ch.close();
      }
    };
    expect(await scrape({}, '127.0.0.1')).toBe(200);
    expect(await scrape({}, '192.0.2.7', 'tokA')).toBe(403);
    expect(await scrape({ SSF_GATEWAY_METRICS_TOKEN: 'm' }, '127.0.0.1')).toBe(401);
    expect(await scrape({ SSF_GATEWAY_METRICS_TOKEN: 'm' }, '192.0.2.7', 'tokA')).toBe(401);
    expect(await scrape({ SSF_GATEWAY_METRICS_TOKEN: 'm' }, '192.0.2.7', 'm')).toBe(200);
  });
});

describe("isLoopbackPeer (a socket's remote address)", () => {
  it('is true for this host only', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopbackPeer(ip), ip).toBe(true);
    for (const ip of [undefined, '', '192.0.2.7', '::', '::ffff:10.0.0.1', 'fd00::2', '1127.0.0.1']) expect(isLoopbackPeer(ip), String(ip)).toBe(false);
  });
});
