import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanEvent } from '../../src/codec/span-event.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

/*
 * GET /metrics names every tenant (per-tenant counters, the metric names of a
 * tenant over its series budget), so a tenant's token must not open it from
 * another host. Requests are injected into the gateway's server with the
 * remote address a client elsewhere would have.
 */

const ELSEWHERE = '192.0.2.7';
const SECRET_TENANT = 'beta-secret-tenant';

async function scrape(aio: AllInOne, remoteAddress: string, token?: string): Promise<{ status: number; body: string }> {
  const res = await aio.gateway.app.inject({
    method: 'GET',
    url: '/metrics',
    remoteAddress,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.statusCode, body: res.body };
}

const NOW = BigInt(Date.now()) * 1_000_000n;
const sample = (name: string) => ({
  type: 'counter' as const,
  name,
  value: 1,
  timestamp: 0n,
  message: '',
  status: 'ok' as const,
  sampleRate: 1,
  tags: {},
  unit: '',
  scope: 'default' as const,
});
// Two metric names where the tenant may have one: the refusal is counted by tenant on /metrics.
const span = spanEvent({
  traceId: 7n,
  id: 7n,
  startTimestamp: NOW,
  endTimestamp: NOW + 1_000_000n,
  service: 'svc',
  name: 'op',
  isTrace: true,
  metrics: [sample('first.name'), sample('second.name')],
});
const LIMITS = { SSF_GATEWAY_MAX_METRIC_NAMES_PER_TENANT: '1' };

describe('GET /metrics with tenant tokens and no metrics token', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_metrics_access', { ...LIMITS, SSF_GATEWAY_AUTH_TOKENS: `tok-a=alpha,tok-b=${SECRET_TENANT}` });
    expect((await aio.post([span], 'tok-b')).status).toBe(200);
  });
  afterAll(async () => aio?.close());

  it('answers a client on this host, with every tenant in it', async () => {
    const local = await scrape(aio, '127.0.0.1');
    expect(local.status).toBe(200);
    expect(local.body).toContain(SECRET_TENANT);
    expect((await scrape(aio, '::1')).status).toBe(200);
    expect((await scrape(aio, '::ffff:127.0.0.1')).status).toBe(200);
  });

  it("refuses another host, even with a tenant's token, in the one error shape", async () => {
    for (const token of [undefined, 'tok-a']) {
      const far = await scrape(aio, ELSEWHERE, token);
      expect(far.status).toBe(403);
      expect(far.body).not.toContain(SECRET_TENANT);
      expect(JSON.parse(far.body)).toMatchObject({ error: { code: 'AUTH_ERR_FORBIDDEN', reason: expect.stringContaining('gateway.metricsToken') } });
    }
  });
});

describe('GET /metrics with gateway.metricsToken', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_metrics_token', {
      ...LIMITS,
      SSF_GATEWAY_AUTH_TOKENS: `tok-a=alpha,tok-b=${SECRET_TENANT}`,
      SSF_GATEWAY_METRICS_TOKEN: 'scrape-me',
    });
    expect((await aio.post([span], 'tok-b')).status).toBe(200);
  });
  afterAll(async () => aio?.close());

  it('needs that token from anywhere, this host included; a tenant token is not it', async () => {
    for (const from of ['127.0.0.1', ELSEWHERE]) {
      expect(JSON.parse((await scrape(aio, from)).body), from).toMatchObject({ error: { code: 'AUTH_ERR_MISSING_TOKEN' } });
      const tenant = await scrape(aio, from, 'tok-b');
      expect(tenant.status, from).toBe(401);
      expect(JSON.parse(tenant.body)).toMatchObject({ error: { code: 'AUTH_ERR_BAD_TOKEN' } });
      const scraper = await scrape(aio, from, 'scrape-me');
      expect(scraper.status, from).toBe(200);
      expect(scraper.body).toContain(SECRET_TENANT);
    }
  });
});

describe('GET /metrics with authentication off', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_metrics_open');
  });
  afterAll(async () => aio?.close());

  it('answers whoever reaches the listener (one tenant, on loopback), as before', async () => {
    expect((await scrape(aio, ELSEWHERE)).status).toBe(200);
  });
});
