/**
 * docs/query/traces.md and docs/query/logs.md describe the answers field by
 * field: every field a real answer has is named there (in a table as
 * `field`, or in the example as "field":), so a field added to an answer
 * cannot go undocumented.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

const doc = (name: string): string => readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'query', name), 'utf8');

let aio: AllInOne;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

type Json = { [key: string]: unknown };

/** The keys of an object and of the first element of each of its arrays and objects, as `where.key` paths' last parts. */
function fieldNames(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    if (value.length > 0) fieldNames(value[0], into);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value as Json)) {
      // attributes and tags are the data's own maps, not fields of the answer.
      if (k === 'attributes' || k === 'tags' || k === 'params') {
        into.add(k);
        continue;
      }
      into.add(k);
      fieldNames(v, into);
    }
  }
  return into;
}

function undocumented(answer: unknown, text: string): string[] {
  return [...fieldNames(answer)].filter(
    (k) => !text.includes(`\`${k}\``) && !text.includes(`"${k}":`) && !text.includes(`\`${k}.`) && !text.includes(`.${k}\``),
  );
}

async function getJson(path: string): Promise<unknown> {
  const r = await fetch(`${aio.http}${path}`);
  expect(r.status, path).toBe(200);
  return r.json();
}

beforeAll(async () => {
  aio = await startAllInOne('query_answer_fields', {}, 10);
  const now = BigInt(Date.now()) * 1_000_000n;
  const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'web' } }] };
  const post = (path: string, body: unknown): Promise<Response> =>
    fetch(`${aio.where['otlp_http'] as string}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const spans = [
    { traceId: TRACE, spanId: '00f067aa0ba902b7', name: 'GET /', startTimeUnixNano: String(now), endTimeUnixNano: String(now + 5_000_000n) },
    {
      traceId: TRACE,
      spanId: '00f067aa0ba902b8',
      parentSpanId: '00f067aa0ba902b7',
      name: 'db',
      startTimeUnixNano: String(now + 1_000_000n),
      endTimeUnixNano: String(now + 2_000_000n),
    },
  ];
  expect((await post('/v1/traces', { resourceSpans: [{ resource, scopeSpans: [{ spans }] }] })).status).toBe(200);
  const logRecords = [
    { timeUnixNano: String(now + 1_500_000n), severityNumber: 9, body: { stringValue: 'hello docs' }, traceId: TRACE, spanId: '00f067aa0ba902b8' },
  ];
  expect((await post('/v1/logs', { resourceLogs: [{ resource, scopeLogs: [{ logRecords }] }] })).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await aio?.close();
});

describe('the query answers, field by field, against their docs', () => {
  it('GET /v1/traces/:id and GET /v1/traces: every field is in docs/query/traces.md', async () => {
    const text = doc('traces.md');
    expect(undocumented(await getJson(`/v1/traces/${TRACE}`), text)).toEqual([]);
    expect(undocumented(await getJson('/v1/traces?from=now-1h'), text)).toEqual([]);
  });

  it('GET /v1/logs: every field is in docs/query/logs.md', async () => {
    expect(undocumented(await getJson('/v1/logs?q=hello&from=now-1h'), doc('logs.md'))).toEqual([]);
  });
});
