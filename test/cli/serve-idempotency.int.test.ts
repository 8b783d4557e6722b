import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net/free-port.js';
import { encodeBatch, spanEvent } from '../../src/codec/index.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

// All-in-one mode (`ssf serve`, a child process) with an Idempotency-Key: a
// retried request is stored once, also after a kill -9 of the server.

const MAIN = join(import.meta.dirname, '..', '..', 'cli', 'main.ts');
const NOW = BigInt(Date.now()) * 1_000_000n;
const PER_REQUEST = 25;

/** The body of request `name`: `spans` trace spans of its own (ids from `base`), named `name`. */
function body(name: string, base: number, spans = PER_REQUEST): Buffer {
  const events = Array.from({ length: spans }, (_, i) =>
    spanEvent({
      id: BigInt(base + i + 1),
      traceId: BigInt(base + (i % 5) + 1),
      service: 'idem',
      name,
      startTimestamp: NOW + BigInt(i) * 1_000n,
      endTimestamp: NOW + BigInt(i) * 1_000n + 1_000_000n,
      isTrace: true,
    }),
  );
  return Buffer.from(encodeBatch(events));
}

interface Serve {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

async function startServe(database: string): Promise<Serve> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SSF_CLICKHOUSE_URL: clickhouseUrl(),
    SSF_CLICKHOUSE_DATABASE: database,
    SSF_GATEWAY_HTTP_LISTEN: `127.0.0.1:${port}`,
    SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
    SSF_GATEWAY_STATSD_LISTEN: '127.0.0.1:0',
    SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
    SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
    SSF_LOG_LEVEL: 'warn',
  };
  delete env['SSF_ADDRESS'];
  const child = spawn(process.execPath, [...TSX_IMPORT, MAIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const until = Date.now() + 90_000;
  while (!out.includes('ssf serve: the pipeline is running')) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`ssf serve did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url: `http://127.0.0.1:${port}`, exited };
}

function post(url: string, payload: Buffer, key?: string): Promise<Response> {
  return fetch(`${url}/v1/ssf`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: payload,
  });
}

async function countByName(ch: ClickHouse, prefix: string): Promise<Map<string, { rows: number; uniq: number }>> {
  const r = await ch.client.query({
    query: `SELECT name, count() AS rows, uniqExact(span_id) AS uniq FROM ${ch.database}.spans WHERE startsWith(name, {p:String}) GROUP BY name`,
    query_params: { p: prefix },
    format: 'JSONEachRow',
  });
  const out = new Map<string, { rows: number; uniq: number }>();
  for (const row of await r.json<{ name: string; rows: string; uniq: string }>()) out.set(row.name, { rows: Number(row.rows), uniq: Number(row.uniq) });
  return out;
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Whether ClickHouse is running an INSERT into `database` now. */
async function insertRunning(ch: ClickHouse, database: string): Promise<boolean> {
  const r = await ch.client.query({
    query: `SELECT count() AS n FROM system.processes WHERE query_kind = 'Insert' AND position(query, {db:String}) > 0`,
    query_params: { db: database },
    format: 'JSONEachRow',
  });
  return Number((await r.json<{ n: string }>())[0]?.n ?? 0) > 0;
}

describe('ssf serve: Idempotency-Key', () => {
  const database = uniqueDatabase('serve_idem');
  let serve: Serve | undefined;
  let ch: ClickHouse;

  beforeAll(async () => {
    serve = await startServe(database);
    ch = await createClickHouse(loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } }).clickhouse);
  }, 120_000);

  afterAll(async () => {
    if (serve !== undefined && serve.child.exitCode === null) {
      serve.child.kill('SIGKILL');
      await serve.exited;
    }
    await ch?.client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await ch?.close();
  });

  it('stores a batch sent twice with one key once; with two keys or none, twice', async () => {
    const s = serve as Serve;
    const same = body('a-same', 10_000);
    const first = await post(s.url, same, 'key-same');
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotency-key')).toBe('key-same');
    expect((await post(s.url, same, 'key-same')).status).toBe(200);

    const two = body('a-two', 20_000);
    expect((await post(s.url, two, 'key-two-1')).status).toBe(200);
    expect((await post(s.url, two, 'key-two-2')).status).toBe(200);

    const none = body('a-none', 30_000);
    expect((await post(s.url, none)).status).toBe(200);
    expect((await post(s.url, none)).status).toBe(200);

    const got = await countByName(ch, 'a-');
    expect(got.get('a-same')).toEqual({ rows: PER_REQUEST, uniq: PER_REQUEST });
    expect(got.get('a-two')).toEqual({ rows: 2 * PER_REQUEST, uniq: PER_REQUEST });
    expect(got.get('a-none')).toEqual({ rows: 2 * PER_REQUEST, uniq: PER_REQUEST });

    // The same key for another tenant would be another request; a bad key is refused.
    const bad = await post(s.url, same, 'x'.repeat(257));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('GW_ERR_IDEMPOTENCY_KEY');
    expect((await post(s.url, same, '')).status).toBe(400);

    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssf_gateway_idempotent_requests_total\{repeat="true"\} 1$/m);
    expect(metrics).toMatch(/^ssf_gateway_idempotent_requests_total\{repeat="false"\} 3$/m);
  }, 60_000);

  it('after a kill -9 mid-stream, retrying the unacknowledged requests with their keys stores every request exactly once', async () => {
    const REQUESTS = 160;
    const acked = new Set<number>();
    let next = 0;
    let killed = false;
    const s = serve as Serve;
    // Twelve clients in parallel; the server is killed once 50 requests were acknowledged.
    const client = async (): Promise<void> => {
      while (next < REQUESTS && !killed) {
        const i = next++;
        try {
          const r = await post(s.url, body(`b-${i}`, 100_000 + i * 1_000), `run-${i}`);
          if (r.status === 200) acked.add(i);
        } catch {
          // connection reset by the kill: not acknowledged
        }
      }
    };
    // The worst moment: ClickHouse is running one of the server's inserts, whose clients have no answer yet.
    // The server is frozen (SIGSTOP) while an insert of its database is seen running, the insert is left to
    // finish, then the server is killed (SIGKILL) before it could answer.
    const running = Promise.all(Array.from({ length: 12 }, () => client()));
    await waitUntil(() => acked.size >= 50, 60_000);
    let caught = false;
    for (let attempt = 0; attempt < 300 && !caught; attempt++) {
      s.child.kill('SIGSTOP');
      caught = await insertRunning(ch, database);
      if (!caught) {
        s.child.kill('SIGCONT');
        await new Promise((r) => setTimeout(r, 3 + (attempt % 7)));
      }
    }
    if (caught) await waitUntil(async () => !(await insertRunning(ch, database)), 10_000);
    killed = true;
    s.child.kill('SIGKILL');
    await running;
    await s.exited;
    const sent = next;
    const before = await countByName(ch, 'b-');
    let storedUnacked = 0;
    for (let i = 0; i < sent; i++) if (!acked.has(i) && (before.get(`b-${i}`)?.rows ?? 0) > 0) storedUnacked++;
    // The insert caught running was finished by ClickHouse: its requests are stored, and their clients have no answer.
    if (caught) expect(storedUnacked).toBeGreaterThan(0);
    // Every acknowledged request is there, once.
    for (const i of acked) expect(before.get(`b-${i}`), `request ${i}`).toEqual({ rows: PER_REQUEST, uniq: PER_REQUEST });

    // A new server on the same database; the client retries what was not acknowledged, then sends the rest.
    serve = await startServe(database);
    for (let i = 0; i < REQUESTS; i++) {
      if (acked.has(i)) continue;
      const r = await post(serve.url, body(`b-${i}`, 100_000 + i * 1_000), `run-${i}`);
      expect(r.status).toBe(200);
    }
    const after = await countByName(ch, 'b-');
    let rows = 0;
    for (let i = 0; i < REQUESTS; i++) {
      expect(after.get(`b-${i}`), `request ${i}`).toEqual({ rows: PER_REQUEST, uniq: PER_REQUEST });
      rows += after.get(`b-${i}`)?.rows ?? 0;
    }
    expect(rows).toBe(REQUESTS * PER_REQUEST);
    console.log(
      `all-in-one kill -9 (${caught ? 'during an insert' : 'no insert caught running'}): ${sent} requests sent, ${acked.size} acknowledged, ${storedUnacked} stored but unacknowledged at the kill (their retries were dropped), ${rows} rows for ${REQUESTS * PER_REQUEST} spans`,
    );
  }, 240_000);

  it('refuses a key reused with another body (422, the key not in the reason); after a restart, stores that body in full', async () => {
    const s = serve as Serve;
    const key = 'sk_live_reused-key-0123456789';
    const a = body('c-a', 400_000);
    // Body b: other spans, the same shape (the same traces per request, the same split).
    const b = body('c-b', 500_000);
    expect((await post(s.url, a, key)).status).toBe(200);
    const received = async (): Promise<string> =>
      /^ssf_gateway_received_total\{protocol="http"\} (\d+)$/m.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1] ?? '';
    const before = await received();
    expect(before).toMatch(/^\d+$/);
    const reused = await post(s.url, b, key);
    expect(reused.status).toBe(422);
    const error = ((await reused.json()) as { error: { code: string; reason: string } }).error;
    expect(error.code).toBe('GW_ERR_IDEMPOTENCY_KEY_REUSED');
    expect(error.reason).not.toContain(key);
    // Refused before its body was read: none of its spans counted as received (nor taken).
    expect(await received()).toBe(before);
    // The first body is still the key's: its retry is taken (and stored once).
    expect((await post(s.url, a, key)).status).toBe(200);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssf_gateway_refused_total\{protocol="http",code="GW_ERR_IDEMPOTENCY_KEY_REUSED"\} 1$/m);
    expect(metrics).not.toContain(key);

    // A new server remembers no key: body b is a new request (its id includes the body's digest), stored in full.
    s.child.kill('SIGKILL');
    await s.exited;
    serve = await startServe(database);
    expect((await post(serve.url, b, key)).status).toBe(200);
    // Now this server knows the key with body b: a retry of it is taken (and stored once), body a refused.
    expect((await post(serve.url, b, key)).status).toBe(200);
    expect((await post(serve.url, a, key)).status).toBe(422);
    const got = await countByName(ch, 'c-');
    expect(got.get('c-a')).toEqual({ rows: PER_REQUEST, uniq: PER_REQUEST });
    expect(got.get('c-b')).toEqual({ rows: PER_REQUEST, uniq: PER_REQUEST });
  }, 180_000);

  it('binds a key to its body as the body is read: the key with another body at the same time is refused before it is counted; a request refused before it is published leaves the key free', async () => {
    const s = serve as Serve;
    const received = async (): Promise<number> =>
      Number(/^ssf_gateway_received_total\{protocol="http"\} (\d+)$/m.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1] ?? 0);
    // Two bodies under one key at once, each read in several slices (INTAKE_SLICE spans between turns of the
    // event loop): one is taken, the other refused 422 before its spans are counted.
    const before = await received();
    const answers = await Promise.all([post(s.url, body('d-a', 600_000, 40_000), 'same-time'), post(s.url, body('d-b', 700_000, 40_000), 'same-time')]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 422]);
    expect((await received()) - before).toBe(40_000);
    const got = await countByName(ch, 'd-');
    expect([...got.values()]).toEqual([{ rows: 40_000, uniq: 40_000 }]);

    // Every span out of the accepted times: refused (422 GW_ERR_NO_VALID_SPANS), nothing published: the key stays free.
    const stale = Buffer.from(
      encodeBatch([spanEvent({ id: 1n, traceId: 1n, service: 'idem', name: 'e-stale', startTimestamp: 1_000n, endTimestamp: 2_000n, isTrace: true })]),
    );
    const refused = await post(s.url, stale, 'refused-first');
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('GW_ERR_NO_VALID_SPANS');
    expect((await post(s.url, body('e-good', 800_000), 'refused-first')).status).toBe(200);
    expect((await countByName(ch, 'e-')).get('e-good')).toEqual({ rows: PER_REQUEST, uniq: PER_REQUEST });
  });
});
