/**
 * Every class of bad OTLP input, over HTTP and gRPC: answered as the OTLP
 * specification says, counted on /metrics, and the good data beside it kept.
 */
import { connect } from 'node:http2';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportTraceServiceRequest, RpcStatus } from '../../ingest/otlp/otlp-messages.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

let aio: AllInOne;
let otlp: string;

beforeAll(async () => {
  aio = await startAllInOne('otlp_bad', { SSF_GATEWAY_MAX_BODY_BYTES: '65536', SSF_GATEWAY_MAX_DECOMPRESSED_BYTES: '1048576' }, 100);
  otlp = aio.where['otlp_http'] as string;
}, 120_000);

afterAll(async () => {
  await aio?.close();
});

const NOW = BigInt(Date.now()) * 1_000_000n;
const TRACE = '5b8efff798038103d269b633813fc60c';

function span(name: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: TRACE,
    spanId: 'eee19b7ec3c1b174',
    name,
    kind: 2,
    startTimeUnixNano: String(NOW - 1_000_000n),
    endTimeUnixNano: String(NOW),
    ...fields,
  };
}

function traces(service: string, spans: Array<Record<string, unknown>>): Record<string, unknown> {
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ spans }] }] };
}

async function post(path: string, body: Uint8Array | string, headers: Record<string, string>): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const r = await fetch(`${otlp}${path}`, { method: 'POST', body, headers });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), headers: r.headers };
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

async function metricsText(): Promise<string> {
  return (await fetch(`${aio.http}/metrics`)).text();
}

async function stored(service: string): Promise<Array<{ name: string; tags: Record<string, string> }>> {
  const r = await aio.ch.client.query({
    query: `SELECT toString(name) AS name, tags FROM ${aio.ch.database}.spans WHERE service = {s:String} ORDER BY name`,
    query_params: { s: service },
    format: 'JSONEachRow',
  });
  return r.json();
}

describe('OTLP/HTTP bad input', () => {
  it('a malformed protobuf body: 400 with a google.rpc.Status, counted', async () => {
    const r = await post('/v1/traces', Buffer.from([0x0a, 0xff, 0xff, 0x01]), { 'content-type': 'application/x-protobuf' });
    expect(r.status).toBe(400);
    const status = RpcStatus.decode(r.body);
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^OTLP_ERR_BODY_MALFORMED: not a valid OTLP traces export request/);
    expect(await metricsText()).toMatch(/ssf_gateway_refused_total\{protocol="otlp_http",code="OTLP_ERR_BODY_MALFORMED"\} [1-9]/);
  });

  it('malformed JSON: 400 with a JSON Status', async () => {
    const r = await post('/v1/logs', '{"resourceLogs": [', { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: 3, message: expect.stringMatching(/^OTLP_ERR_BODY_MALFORMED/) });
  });

  it('JSON integers outside their field’s type: 400 naming the field, nothing kept; the extremes inside it are kept exactly', async () => {
    const service = 'otlp-bad-ints';
    const refused: Array<[string, string, Record<string, unknown>]> = [
      // Past int64: protobufjs wrapped it to 200376420520689663 and answered 200.
      ['intValue', '"99999999999999999999999"', span('wraps', { attributes: [{ key: 'n', value: { intValue: '99999999999999999999999' } }] })],
      // Not a number: protobufjs read it as 0.
      ['intValue', '"abc"', span('letters', { attributes: [{ key: 'n', value: { intValue: 'abc' } }] })],
      ['intValue', '1.5', span('fraction', { attributes: [{ key: 'n', value: { intValue: 1.5 } }] })],
      // A time 2^64 past now: wrapped, it was now, and stored as now.
      ['startTimeUnixNano', `"${NOW + 2n ** 64n}"`, span('wrapped time', { startTimeUnixNano: String(NOW + 2n ** 64n) })],
      ['endTimeUnixNano', '"-1"', span('negative time', { endTimeUnixNano: '-1' })],
    ];
    for (const [field, shown, s] of refused) {
      const r = await post('/v1/traces', JSON.stringify(traces(service, [span('good beside it'), s])), { 'content-type': 'application/json' });
      expect(r.status, field).toBe(400);
      expect(JSON.parse(r.body.toString())).toEqual({
        code: 3,
        message: expect.stringMatching(
          new RegExp(`^OTLP_ERR_BODY_MALFORMED: .*${field} must be an integer of (u?int64) .*, not ${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
        ),
      });
    }
    // A severity of 2^32 + 1 read as 1 (TRACE), a temporality of 2^32 + 1 as DELTA.
    const logs = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 2 ** 32 + 1, body: { stringValue: 'x' } }] }] }] };
    const l = await post('/v1/logs', JSON.stringify(logs), { 'content-type': 'application/json' });
    expect(l.status).toBe(400);
    expect(JSON.parse(l.body.toString()).message).toMatch(/^OTLP_ERR_BODY_MALFORMED: .*severityNumber must be an integer of int32/);
    const metrics = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'otlp.bad.h',
                  histogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: String(NOW), count: '1', bucketCounts: ['1', '-1'] }] },
                },
              ],
            },
          ],
        },
      ],
    };
    const m = await post('/v1/metrics', JSON.stringify(metrics), { 'content-type': 'application/json' });
    expect(m.status).toBe(400);
    expect(JSON.parse(m.body.toString()).message).toMatch(/^OTLP_ERR_BODY_MALFORMED: .*bucketCounts must be an integer of uint64 .*, not "-1"$/);
    expect(await metricsText()).toMatch(/ssf_gateway_refused_total\{protocol="otlp_http",code="OTLP_ERR_BODY_MALFORMED"\} ([7-9]|\d\d)/);
    expect(await stored(service)).toEqual([]);
    // The extremes of each type, and times as JSON numbers (older exporters write them so), are taken as sent.
    const edges = [
      span('edges', {
        startTimeUnixNano: Number(NOW - 1_000_000n),
        endTimeUnixNano: Number(NOW),
        attributes: [
          { key: 'min', value: { intValue: '-9223372036854775808' } },
          { key: 'max', value: { intValue: '9223372036854775807' } },
          { key: 'num', value: { intValue: 42 } },
        ],
        droppedAttributesCount: 4294967295,
      }),
    ];
    const ok = await post('/v1/traces', JSON.stringify(traces(service, edges)), { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    const [edge] = await stored(service);
    expect(edge?.tags).toMatchObject({ min: '-9223372036854775808', max: '9223372036854775807', num: '42', 'otel.dropped_attributes_count': '4294967295' });
  });

  it('attribute values nested past the bound: 400 OTLP_ERR_TOO_DEEP, counted (JSON and protobuf)', async () => {
    let value: Record<string, unknown> = { stringValue: 'x' };
    for (let i = 0; i < 60; i++) value = { kvlistValue: { values: [{ key: 'k', value }] } };
    const body = traces('otlp-bad-deep', [span('deep', { attributes: [{ key: 'deep', value }] })]);
    const r = await post('/v1/traces', JSON.stringify(body), { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString())).toMatchObject({
      code: 3,
      message: expect.stringMatching(/^OTLP_ERR_TOO_DEEP: the traces export request nests messages more than 100 deep/),
    });
    // The same depth in protobuf (the direct path declines it; protobufjs's limit is the same bound).
    let bytes: Buffer = Buffer.from([0x0a, 0x01, 0x78]);
    const ld = (field: number, b: Buffer): Buffer => Buffer.concat([Buffer.from([(field << 3) | 2]), varint(b.length), b]);
    for (let i = 0; i < 60; i++) bytes = ld(6, ld(1, Buffer.concat([ld(1, Buffer.from('k')), ld(2, bytes)])));
    const spanBytes = Buffer.concat([
      ld(1, Buffer.from(TRACE, 'hex')),
      ld(2, Buffer.from('eee19b7ec3c1b174', 'hex')),
      ld(5, Buffer.from('deep')),
      ld(9, Buffer.concat([ld(1, Buffer.from('deep')), ld(2, bytes)])),
    ]);
    const p = await post('/v1/traces', ld(1, ld(2, ld(2, spanBytes))), { 'content-type': 'application/x-protobuf' });
    expect(p.status).toBe(400);
    expect(RpcStatus.decode(p.body).message).toMatch(/^OTLP_ERR_TOO_DEEP/);
    const text = await metricsText();
    expect(text).toMatch(/ssf_gateway_refused_total\{protocol="otlp_http",code="OTLP_ERR_TOO_DEEP"\} [2-9]/);
    expect(text).toMatch(/ssf_gateway_otlp_requests_total\{transport="http",signal="traces",code="OTLP_ERR_TOO_DEEP"\} [2-9]/);
  });

  it('a wrong content type: 415', async () => {
    const r = await post('/v1/traces', 'hello', { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(JSON.parse(r.body.toString()).message).toMatch(/^OTLP_ERR_CONTENT_TYPE/);
  });

  it('an oversize body: 413, as sent and as decompressed', async () => {
    const big = JSON.stringify(traces('otlp-bad-big', [span('x'.repeat(70_000))]));
    expect((await post('/v1/traces', big, { 'content-type': 'application/json' })).status).toBe(413);
    // A bomb: small as sent, past gateway.maxDecompressedBytes (1 MiB here) once decompressed.
    const zipped = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    expect(zipped.length).toBeLessThan(65536);
    const r = await post('/v1/traces', zipped, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
  });

  it('a batch that is partly bad: 200 with partial success, the good spans kept', async () => {
    const service = 'otlp-bad-partial';
    const body = traces(service, [
      span('good'),
      span('bad trace id', { traceId: 'abc' }),
      span('zero span id', { spanId: '0000000000000000' }),
      span('ends before it starts', { endTimeUnixNano: String(NOW - 5_000_000n) }),
      span('unknown kind', { kind: 9, status: { code: 7 } }),
    ]);
    const r = await post('/v1/traces', gzipSync(JSON.stringify(body)), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
    const answer = JSON.parse(r.body.toString()) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe(3);
    expect(answer.partialSuccess.errorMessage).toContain('OTLP_ERR_BAD_TRACE_ID');
    expect(answer.partialSuccess.errorMessage).toContain('OTLP_ERR_BAD_SPAN_ID');
    expect(answer.partialSuccess.errorMessage).toContain('SSF_SPAN_NEGATIVE_DURATION');
    expect(answer.partialSuccess.errorMessage).toContain('undefined enum value');
    const rows = await stored(service);
    expect(rows.map((x) => x.name)).toEqual(['good', 'unknown kind']);
    expect(rows[1]?.tags).toMatchObject({ 'otel.span_kind': '9', 'otel.status_code': '7' });
    const text = await metricsText();
    expect(text).toMatch(/ssf_gateway_otlp_items_total\{transport="http",signal="traces",outcome="rejected"\} 3/);
    expect(text).toMatch(/ssf_gateway_otlp_unknown_enum_total\{signal="traces"\} 2/);
  });

  it('logs and metrics refused item by item: a bad severity, a bad temporality, inconsistent histogram buckets', async () => {
    const logs = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otlp-bad-logs' } }] },
          scopeLogs: [
            {
              logRecords: [
                { severityNumber: 9, body: { stringValue: 'kept' } },
                { severityNumber: 99, body: { stringValue: 'refused' } },
              ],
            },
          ],
        },
      ],
    };
    const l = await post('/v1/logs', JSON.stringify(logs), { 'content-type': 'application/json' });
    expect(l.status).toBe(200);
    expect(JSON.parse(l.body.toString()).partialSuccess.rejectedLogRecords).toBe(1);
    const metrics = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'otlp.bad.ok', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: '5', timeUnixNano: String(NOW) }] } },
                { name: 'otlp.bad.temporality', sum: { aggregationTemporality: 0, dataPoints: [{ asInt: '5', timeUnixNano: String(NOW) }] } },
                { name: 'otlp.bad.nan', gauge: { dataPoints: [{ asDouble: 'NaN', timeUnixNano: String(NOW) }] } },
                // Explicit buckets: one count more than bounds, bounds increasing. Read otherwise they made up values.
                ...(
                  [
                    ['otlp.bad.hist.counts', ['1', '2', '3', '4'], [10, 20]],
                    ['otlp.bad.hist.order', ['1', '2', '3'], [20, 10]],
                    ['otlp.bad.hist.equal', ['1', '2', '3'], [10, 10]],
                  ] as const
                ).map(([name, bucketCounts, explicitBounds]) => ({
                  name,
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [{ count: '10', sum: 100, bucketCounts, explicitBounds, timeUnixNano: String(NOW) }],
                  },
                })),
                // count must be the sum of bucket_counts, else refused.
                ...(
                  [
                    ['otlp.bad.hist.count', '10'],
                    ['otlp.bad.hist.good', '6'],
                  ] as const
                ).map(([name, count]) => ({
                  name,
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [{ count, sum: 60, bucketCounts: ['1', '2', '3'], explicitBounds: [10, 20], timeUnixNano: String(NOW) }],
                  },
                })),
              ],
            },
          ],
        },
      ],
    };
    const m = await post('/v1/metrics', JSON.stringify(metrics), { 'content-type': 'application/json' });
    expect(m.status).toBe(200);
    const partial = JSON.parse(m.body.toString()).partialSuccess;
    expect(partial.rejectedDataPoints).toBe(6);
    expect(partial.errorMessage).toMatch(/OTLP_ERR_HISTOGRAM_INVALID.*otlp\.bad\.hist\.counts.*bucket_counts has 4 entries for 2 explicit_bounds/);
    expect(partial.errorMessage).toContain('OTLP_ERR_HISTOGRAM_INVALID: metric "otlp.bad.hist.count": count is 10 but bucket_counts add up to 6');
    // Exponential: count must be zero_count + positive + negative (here 1 + 2 + 3 + 1).
    const exponential = (name: string, count: string) => ({
      name,
      exponentialHistogram: {
        aggregationTemporality: 1,
        dataPoints: [
          {
            count,
            sum: 30,
            scale: 0,
            zeroCount: '1',
            positive: { offset: 1, bucketCounts: ['2', '3'] },
            negative: { offset: 0, bucketCounts: ['1'] },
            timeUnixNano: String(NOW),
          },
        ],
      },
    });
    const exp = { resourceMetrics: [{ scopeMetrics: [{ metrics: [exponential('otlp.bad.exp.count', '9'), exponential('otlp.bad.exp.good', '7')] }] }] };
    const e = await post('/v1/metrics', JSON.stringify(exp), { 'content-type': 'application/json' });
    expect(e.status).toBe(200);
    expect(JSON.parse(e.body.toString()).partialSuccess).toEqual({
      rejectedDataPoints: 1,
      errorMessage:
        'OTLP_ERR_HISTOGRAM_INVALID: metric "otlp.bad.exp.count": count is 9 but zero_count and the positive and negative bucket_counts add up to 7',
    });
    const r = await aio.ch.client.query({
      query: `SELECT toString(name) AS name, count() AS n, sum(value) AS v FROM ${aio.ch.database}.samples WHERE name LIKE 'otlp.bad.%' GROUP BY name ORDER BY name`,
      format: 'JSONEachRow',
    });
    // The consistent points are taken: a sample per observation, and the count and the sum.
    expect(await r.json()).toEqual([
      { name: 'otlp.bad.exp.good', n: '7', v: expect.any(Number) },
      { name: 'otlp.bad.exp.good.count', n: '1', v: 7 },
      { name: 'otlp.bad.exp.good.sum', n: '1', v: 30 },
      { name: 'otlp.bad.hist.good', n: '6', v: expect.any(Number) },
      { name: 'otlp.bad.hist.good.count', n: '1', v: 6 },
      { name: 'otlp.bad.hist.good.sum', n: '1', v: 60 },
      { name: 'otlp.bad.ok', n: '1', v: 5 },
    ]);
  });

  it('an unknown path: 404', async () => {
    expect((await post('/v1/spans', '{}', { 'content-type': 'application/json' })).status).toBe(404);
  });

  it("an exporter pointed at the gateway's HTTP port instead: 404 saying where OTLP/HTTP is received, for each signal", async () => {
    for (const path of ['/v1/traces', '/v1/logs', '/v1/metrics']) {
      for (const type of ['application/json', 'application/x-protobuf']) {
        const r = await fetch(`${aio.http}${path}`, {
          method: 'POST',
          body: type === 'application/json' ? '{}' : new Uint8Array(0),
          headers: { 'content-type': type },
        });
        expect(r.status, `${path} ${type}`).toBe(404);
        expect(await r.json()).toEqual({
          error: {
            code: 'HTTP_ERR_NOT_FOUND',
            // The port only: the 404 is answered before authentication.
            reason: `no route POST ${path}: OTLP/HTTP is received on port ${new URL(otlp).port} (gateway.otlpHttpListen), path ${path}; this port takes POST /v1/ssf`,
          },
        });
      }
    }
    // The query API's GET /v1/traces on the same port is untouched.
    expect((await fetch(`${aio.http}/v1/traces`)).status).toBe(200);
  });
});

describe('OTLP/gRPC bad input', () => {
  function call(path: string, message: Buffer, headers: Record<string, string> = {}): Promise<{ trailers: Record<string, string>; data: Buffer }> {
    return new Promise((resolve, reject) => {
      const client = connect(`http://${aio.where['otlp_grpc'] as string}`);
      client.on('error', reject);
      const req = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
      const out: Record<string, string> = {};
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        for (const [k, v] of Object.entries(h)) if (k.startsWith('grpc-')) out[k] = String(v);
      });
      req.on('trailers', (h) => {
        for (const [k, v] of Object.entries(h)) out[k] = String(v);
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        client.close();
        resolve({ trailers: out, data: Buffer.concat(chunks) });
      });
      const framed = Buffer.alloc(5 + message.length);
      framed.writeUInt32BE(message.length, 1);
      message.copy(framed, 5);
      req.end(framed);
    });
  }
  const TRACES = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

  it('a malformed message: INVALID_ARGUMENT', async () => {
    const r = await call(TRACES, Buffer.from([0x0a, 0xff, 0xff, 0x01]));
    expect(r.trailers['grpc-status']).toBe('3');
    expect(decodeURIComponent(r.trailers['grpc-message'] ?? '')).toMatch(/^OTLP_ERR_BODY_MALFORMED/);
  });

  it('an unknown method: UNIMPLEMENTED', async () => {
    expect((await call('/opentelemetry.proto.collector.trace.v1.TraceService/Nope', Buffer.alloc(0))).trailers['grpc-status']).toBe('12');
  });

  it('a partly bad request: OK with partial success', async () => {
    const request = ExportTraceServiceRequest.fromObject({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otlp-bad-grpc' } }] },
          scopeSpans: [
            {
              spans: [
                { ...span('good'), traceId: Buffer.from(TRACE, 'hex'), spanId: Buffer.from('aee19b7ec3c1b174', 'hex') },
                { ...span('short id'), traceId: Buffer.from('0102', 'hex'), spanId: Buffer.from('aee19b7ec3c1b175', 'hex') },
              ],
            },
          ],
        },
      ],
    });
    const r = await call(TRACES, Buffer.from(ExportTraceServiceRequest.encode(request).finish()));
    expect(r.trailers['grpc-status']).toBe('0');
    // One length-prefixed ExportTraceServiceResponse: partial_success { rejected_spans: 1 }.
    expect(r.data.subarray(5).includes(Buffer.from([0x08, 0x01]))).toBe(true);
    expect((await stored('otlp-bad-grpc')).map((x) => x.name)).toEqual(['good']);
  });
});

describe('cumulative counters through GET /v1/metrics/query', () => {
  it('give the increase and rate across a restart of the emitting process (a reset), with no state in the gateway', async () => {
    const min = 60_000_000_000n;
    const s1 = NOW - 55n * min;
    const s2 = NOW - 25n * min;
    const point = (start: bigint, at: bigint, v: number) => ({
      startTimeUnixNano: String(start),
      timeUnixNano: String(at),
      asInt: String(v),
      attributes: [{ key: 'host', value: { stringValue: 'a' } }],
    });
    const send = (points: unknown[]) =>
      post(
        '/v1/metrics',
        JSON.stringify({
          resourceMetrics: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otlp-cumulative' } }] },
              scopeMetrics: [{ metrics: [{ name: 'otlp.cumulative.requests', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points } }] }],
            },
          ],
        }),
        { 'content-type': 'application/json' },
      );
    // Each request could go to another gateway: nothing is kept between them.
    expect((await send([point(s1, NOW - 50n * min, 10), point(s1, NOW - 40n * min, 25)])).status).toBe(200);
    expect((await send([point(s1, NOW - 30n * min, 40)])).status).toBe(200);
    // The process restarted: a new start time, the count from 0 again.
    expect((await send([point(s2, NOW - 20n * min, 5), point(s2, NOW - 10n * min, 12)])).status).toBe(200);
    const from = Number((NOW - 60n * min) / 1_000_000n);
    const to = Number(NOW / 1_000_000n) + 1000;
    const ask = async (agg: string) =>
      (await (await fetch(`${aio.http}/v1/metrics/query?name=otlp.cumulative.requests&agg=${agg}&step=10m&from=${from}&to=${to}`)).json()) as {
        series: Array<{ points: Array<[number, number | null]> }>;
      };
    const total = (r: { series: Array<{ points: Array<[number, number | null]> }> }): number =>
      r.series.flatMap((x) => x.points).reduce((a, [, v]) => a + (v ?? 0), 0);
    // 10 (the series started in the range) + 15 + 15, then the reset: + 5 + 7.
    expect(total(await ask('increase'))).toBe(52);
    expect(total(await ask('rate'))).toBeCloseTo(52 / 600, 9);
  });
});
