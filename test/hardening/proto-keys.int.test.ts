/**
 * A tag or attribute key named `__proto__` is an ordinary key in every input:
 * SSF protobuf and JSON, OTLP traces (the direct path), OTLP/JSON traces and
 * OTLP metrics (the general path). It is stored in the map column and read
 * back through the trace endpoint and POST /v1/sql, and it never changes an
 * object's prototype (until 2026-12-07 it was dropped with a 200).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportMetricsServiceRequest, ExportTraceServiceRequest } from '../../ingest/otlp/otlp-messages.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { setTag } from '../../src/codec/tag-map.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

const MS = 1_000_000n;
const NOW = BigInt(Date.now()) * MS;

type Json = Record<string, unknown>;
type Tags = Record<string, string>;

/** {a, __proto__, z}: the key between two ordinary ones. */
function protoTags(value: string): Tags {
  const m: Tags = { a: '1' };
  setTag(m, '__proto__', value);
  m['z'] = '2';
  return m;
}

const protoAttributes = (value: string): Json[] => [
  { key: 'a', value: { stringValue: '1' } },
  { key: '__proto__', value: { stringValue: value } },
  { key: 'z', value: { stringValue: '2' } },
];

interface TraceAnswer {
  spans: Array<{ name: string; tags: Tags }>;
  logs: Array<{ body: string; attributes: Tags }>;
  samples: Array<{ name: string; tags: Tags }>;
}

describe('a "__proto__" key is an ordinary tag, whatever the input', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_proto_keys');
  });
  afterAll(async () => aio?.close());

  async function trace(id: string): Promise<TraceAnswer> {
    const r = await fetch(`${aio.http}/v1/traces/${id}`);
    const text = await r.text();
    expect(r.status, text).toBe(200);
    return JSON.parse(text) as TraceAnswer;
  }

  async function sql<T>(query: string, params: Record<string, string>): Promise<T[]> {
    const r = await fetch(`${aio.http}/v1/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sql: query, params }),
    });
    const text = await r.text();
    expect(r.status, text).toBe(200);
    return (JSON.parse(text) as { data: T[] }).data;
  }

  /** A map read back as JSON: the key is an own entry, in place, and the prototype untouched. */
  function expectProto(m: Tags | undefined, value: string): void {
    expect(Object.entries(m ?? {})).toEqual([
      ['a', '1'],
      ['__proto__', value],
      ['z', '2'],
    ]);
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
  }

  it('SSF protobuf: span tags, sample tags and log attributes', async () => {
    const span = spanEvent({ traceId: 9101n, id: 1n, startTimestamp: NOW - MS, endTimestamp: NOW, service: 'proto', name: 'op', tags: protoTags('pb') });
    span.metrics.push({
      type: 'gauge',
      name: 'proto.pb',
      value: 1,
      timestamp: NOW,
      message: '',
      status: 'ok',
      sampleRate: 1,
      tags: protoTags('pb'),
      unit: '',
      scope: 'default',
    });
    span.logs.push({ timestamp: NOW, severity: 'info', severityNumber: 9, body: 'pb log', attributes: protoTags('pb') });
    const r = await aio.post([span]);
    expect(r.status, await r.text()).toBe(200);
    const t = await trace('9101');
    expectProto(t.spans[0]?.tags, 'pb');
    expectProto(t.logs[0]?.attributes, 'pb');
    expectProto(t.samples[0]?.tags, 'pb');
    const rows = await sql<{ v: string }>("SELECT tags['__proto__'] AS v FROM spans WHERE trace_id = {t:Int64}", { t: '9101' });
    expect(rows).toEqual([{ v: 'pb' }]);
  });

  it('SSF JSON: kept in tags and attributes; a "__proto__" field or a non-string value is refused, not dropped', async () => {
    const json = `{"spans":[
      {"traceId":"9102","id":"1","startTimestamp":"${NOW - MS}","endTimestamp":"${NOW}","service":"proto","name":"op","tags":{"a":"1","__proto__":"json","z":"2"},
       "metrics":[{"metric":"GAUGE","name":"proto.json","value":1,"timestamp":"${NOW}","tags":{"a":"1","__proto__":"json","z":"2"}}],
       "logs":[{"timestamp":"${NOW}","severity":"INFO","body":"json log","attributes":{"a":"1","__proto__":"json","z":"2"}}]},
      {"traceId":"9103","id":"1","startTimestamp":"${NOW - MS}","endTimestamp":"${NOW}","service":"proto","name":"op","tags":{"__proto__":5}},
      {"traceId":"9104","id":"1","startTimestamp":"${NOW - MS}","endTimestamp":"${NOW}","service":"proto","name":"op","__proto__":{"name":"other"}}]}`;
    const r = await fetch(`${aio.http}/v1/ssf`, { method: 'POST', body: json, headers: { 'content-type': 'application/json' } });
    const body = (await r.json()) as { accepted: number; rejected: Array<{ index: number; code: string; field: string }> };
    expect(r.status).toBe(200);
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((x) => [x.index, x.code, x.field])).toEqual([
      [1, 'SSF_JSON_INVALID', 'tags.__proto__'],
      [2, 'SSF_JSON_INVALID', ''],
    ]);
    const t = await trace('9102');
    expectProto(t.spans[0]?.tags, 'json');
    expectProto(t.logs[0]?.attributes, 'json');
    expectProto(t.samples[0]?.tags, 'json');
  });

  it('OTLP: trace attributes (protobuf, the direct path; JSON, the general path) and metric point attributes', async () => {
    const traceId = (n: number): Buffer => Buffer.from(`0000000000000000000000000000${n}`, 'hex');
    const otlpSpan = (n: number, value: string): Json => ({
      traceId: traceId(n),
      spanId: Buffer.from('00000000000000a1', 'hex'),
      name: 'op',
      startTimeUnixNano: String(NOW - MS),
      endTimeUnixNano: String(NOW),
      attributes: protoAttributes(value),
    });
    const request = (spans: Json[]): Json => ({
      resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'proto' } }] }, scopeSpans: [{ spans }] }],
    });
    const otlp = aio.where['otlp_http'] as string;
    const pb = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(request([otlpSpan(9105, 'otlp-pb')]))).finish();
    const a = await fetch(`${otlp}/v1/traces`, { method: 'POST', body: pb, headers: { 'content-type': 'application/x-protobuf' } });
    expect(a.status).toBe(200);
    const asJson = { ...otlpSpan(9106, 'otlp-json'), traceId: traceId(9106).toString('hex'), spanId: '00000000000000a1' };
    const b = await fetch(`${otlp}/v1/traces`, { method: 'POST', body: JSON.stringify(request([asJson])), headers: { 'content-type': 'application/json' } });
    expect(b.status).toBe(200);
    expectProto(protoOnly((await trace(traceId(9105).toString('hex'))).spans[0]?.tags), 'otlp-pb');
    expectProto(protoOnly((await trace(traceId(9106).toString('hex'))).spans[0]?.tags), 'otlp-json');

    const metrics = ExportMetricsServiceRequest.encode(
      ExportMetricsServiceRequest.fromObject({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  { name: 'proto.otlp', gauge: { dataPoints: [{ timeUnixNano: String(NOW), asDouble: 1, attributes: protoAttributes('otlp-metric') }] } },
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const m = await fetch(`${otlp}/v1/metrics`, { method: 'POST', body: metrics, headers: { 'content-type': 'application/x-protobuf' } });
    expect(m.status).toBe(200);
    const rows = await sql<{ v: string }>("SELECT tags['__proto__'] AS v FROM samples WHERE name = {n:String}", { n: 'proto.otlp' });
    expect(rows).toEqual([{ v: 'otlp-metric' }]);
  });
});

/** The entries not under `otel.` (the mapping's own tags). */
function protoOnly(m: Tags | undefined): Tags {
  const out: Tags = {};
  for (const [k, v] of Object.entries(m ?? {})) if (!k.startsWith('otel.')) setTag(out, k, v);
  return out;
}
