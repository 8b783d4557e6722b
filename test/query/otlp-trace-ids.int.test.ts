/**
 * A trace sent over OTLP has a 128-bit id, and that id is what its sender
 * shows (the SDK, Jaeger, a `traceparent` header): every read of the query
 * API that names a trace gives it whole, and a lookup by it that finds
 * nothing says which id it looked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

let aio: AllInOne;

const TRACE = 'da499902d62e912b6ca8a6c1644215bd';
const LOW = '6ca8a6c1644215bd';
const ROOT = 'c2cfac4099b6c651';
const CHILD = '20756651199eacbb';

async function postOtlp(path: string, body: unknown): Promise<void> {
  const r = await fetch(`${aio.where['otlp_http'] as string}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(r.status, await r.clone().text()).toBe(200);
}

async function get(path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${aio.http}${path}`);
  return { status: r.status, text: await r.text() };
}

beforeAll(async () => {
  aio = await startAllInOne('otlp_trace_ids', {}, 10);
  const now = BigInt(Date.now()) * 1_000_000n;
  const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] };
  await postOtlp('/v1/traces', {
    resourceSpans: [
      {
        resource,
        scopeSpans: [
          {
            scope: { name: 'test' },
            spans: [
              { traceId: TRACE, spanId: ROOT, name: 'GET /pay', kind: 2, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 30_000_000n) },
              {
                traceId: TRACE,
                spanId: CHILD,
                parentSpanId: ROOT,
                name: 'charge',
                kind: 3,
                startTimeUnixNano: String(now + 1_000_000n),
                endTimeUnixNano: String(now + 20_000_000n),
                status: { code: 2, message: 'declined' },
              },
            ],
          },
        ],
      },
    ],
  });
  await postOtlp('/v1/logs', {
    resourceLogs: [
      {
        resource,
        scopeLogs: [
          {
            scope: { name: 'test' },
            logRecords: [
              {
                timeUnixNano: String(now + 2_000_000n),
                severityNumber: 17,
                severityText: 'ERROR',
                body: { stringValue: 'card declined' },
                traceId: TRACE,
                spanId: CHILD,
              },
            ],
          },
        ],
      },
    ],
  });
}, 180_000);

afterAll(async () => {
  await aio?.close();
});

describe('a 128-bit OTLP trace id in the query API', () => {
  it('is in every trace of GET /v1/traces (trace_id_128), and the trace it names is the one sent', async () => {
    const r = await get('/v1/traces?service=checkout&from=now-1h');
    expect(r.status).toBe(200);
    const found = (JSON.parse(r.text) as { traces: Array<{ trace_id_hex: string; trace_id_128: string; span_count: number }> }).traces;
    expect(found.map((t) => [t.trace_id_hex, t.trace_id_128, t.span_count])).toEqual([[LOW, TRACE, 2]]);
    const trace = await get(`/v1/traces/${found[0]?.trace_id_128}`);
    expect(trace.status).toBe(200);
    expect((JSON.parse(trace.text) as { trace_id_128: string }).trace_id_128).toBe(TRACE);
  });

  it('heads the text timeline (`ssf trace`) with the 128-bit id too', async () => {
    const r = await get(`/v1/traces/${TRACE}?format=text`);
    expect(r.status).toBe(200);
    const first = r.text.split('\n')[0];
    expect(first).toBe(`trace ${BigInt.asIntN(64, BigInt(`0x${LOW}`))} (${LOW}, 128-bit ${TRACE})`);
    expect(r.text).toContain('ERROR card declined');
  });

  it('names the 128-bit id it looked for when no trace has those high bits (one with the same low 64 bits exists)', async () => {
    const other = `ffffffffffffffff${LOW}`;
    const r = await get(`/v1/traces/${other}`);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text)).toEqual({ error: { code: 'QUERY_ERR_NOT_FOUND', reason: `no trace ${other} for this tenant` } });
  });

  it('links a log of the trace to it by the 128-bit id, and gives the id whole', async () => {
    const r = await get('/v1/logs?q=declined&from=now-1h');
    expect(r.status).toBe(200);
    const [log] = (JSON.parse(r.text) as { logs: Array<{ trace_id_128: string; links: { trace?: string } }> }).logs;
    expect(log?.trace_id_128).toBe(TRACE);
    expect(log?.links.trace).toBe(`/v1/traces/${TRACE}`);
  });

  it('is what `ssf logs` prints as trace=<id>, and `ssf trace` opens it', async () => {
    const logs = await runCli(['logs', 'declined', '--since', '1h', '--address', aio.http]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(new RegExp(`ERROR\\s+card declined  trace=${TRACE}\\n$`));
    const trace = await runCli(['trace', TRACE, '--address', aio.http]);
    expect(trace.code, trace.stderr).toBe(0);
    expect(trace.stdout).toContain(`128-bit ${TRACE}`);
  });
});
