import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Producer } from 'kafkajs';
import { BATCH_FORMAT } from '../../src/kafka/record-format.js';
import { encodeBatch } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { createTopics } from '../../deploy/local/kafka-broker.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { clickhouseUrl, kafkaBrokers } from '../setup/services.js';
import { runCli } from '../cli/run-cli.js';
import { HOUR_MS, pastHour, postAll, traffic } from './analytics-data.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

/**
 * `ssf analytics replay` as a user runs it, into the real all-in-one
 * pipeline: from NDJSON (proto3 JSON spans), from Parquet written by
 * `export`, and from offsets of a Kafka partition. Each source replays into
 * a tenant of its own, so every count below is exact: nothing lost, nothing
 * doubled, also when the replay is interrupted and resumed or run twice.
 */

const H0 = pastHour(2);
const ENDPOINTS = [
  { service: 'web', name: 'GET /', indicator: true, failEvery: 7, durationsMs: [2, 4] },
  { service: 'api', name: 'POST /pay', indicator: false, failEvery: 3, durationsMs: [25] },
];
const TOKENS = 'tokSrc=acme,tokN=ndjson,tokI=interrupted,tokP=parquet,tokK=kafka';

let source: AllInOne;
let target: AllInOne;
let work: string;

const cli = (args: string[], timeoutMs = 90_000) => runCli(['analytics', ...args], {}, timeoutMs);

async function rows(aio: AllInOne, sql: string): Promise<Array<Record<string, unknown>>> {
  return (await aio.ch.client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
}

/** A span in proto3 JSON, written out field by field as the NDJSON format documents it. */
function proto3Json(s: SpanEvent): Record<string, unknown> {
  return {
    traceId: String(s.traceId),
    id: String(s.id),
    parentId: String(s.parentId),
    startTimestamp: String(s.startTimestamp),
    endTimestamp: String(s.endTimestamp),
    rootStartTimestamp: String(s.rootStartTimestamp),
    error: s.error,
    service: s.service,
    name: s.name,
    indicator: s.indicator,
    tags: s.tags,
    metrics: s.metrics.map((m) => ({
      metric: m.type.toUpperCase(),
      name: m.name,
      value: m.value,
      timestamp: String(m.timestamp),
      message: m.message,
      status: m.status.toUpperCase(),
      sampleRate: m.sampleRate,
      tags: m.tags,
      unit: m.unit,
      scope: m.scope.toUpperCase(),
    })),
    logs: s.logs.map((l) => ({ timestamp: String(l.timestamp), severity: l.severityNumber, body: l.body, attributes: l.attributes })),
  };
}

/** The spans of a tenant as comparable rows (no tenant column). */
const spanRows = (aio: AllInOne, tenant: string) =>
  rows(
    aio,
    `SELECT toString(trace_id) AS t, toString(span_id) AS s, toString(parent_id) AS p,
    toString(service) AS service, toString(name) AS name, toString(toUnixTimestamp64Nano(start)) AS start, toString(duration_ns) AS d, error, indicator,
    toString(toUnixTimestamp64Nano(root_start)) AS root, mapSort(CAST(tags, 'Map(String, String)')) AS tags
  FROM ${aio.ch.database}.spans WHERE tenant = '${tenant}' ORDER BY s`,
  );
const logRows = (aio: AllInOne, tenant: string) =>
  rows(
    aio,
    `SELECT toString(service) AS service, toString(toUnixTimestamp64Nano(timestamp)) AS ts,
    toString(severity) AS severity, severity_number, body, toString(trace_id) AS t, toString(span_id) AS s, mapSort(CAST(attributes, 'Map(String, String)')) AS a
  FROM ${aio.ch.database}.logs WHERE tenant = '${tenant}' ORDER BY body, ts`,
  );
const sampleRows = (aio: AllInOne, tenant: string) =>
  rows(
    aio,
    `SELECT toString(name) AS name, toString(type) AS type, toString(toUnixTimestamp64Nano(timestamp)) AS ts,
    value, sample_rate, message, toString(status) AS status, toString(unit) AS unit, toString(scope) AS scope, mapSort(CAST(tags, 'Map(String, String)')) AS tags,
    toString(service) AS service, toString(trace_id) AS t, toString(span_id) AS s
  FROM ${aio.ch.database}.samples WHERE tenant = '${tenant}' ORDER BY name, ts, s`,
  );

async function counts(tenant: string): Promise<{ spans: number; logs: number; samples: number; uniqSpans: number }> {
  const db = target.ch.database;
  const [r] = await rows(
    target,
    `SELECT (SELECT count() FROM ${db}.spans WHERE tenant = '${tenant}') AS spans,
    (SELECT uniqExact(span_id) FROM ${db}.spans WHERE tenant = '${tenant}') AS uniqSpans,
    (SELECT count() FROM ${db}.logs WHERE tenant = '${tenant}') AS logs,
    (SELECT count() FROM ${db}.samples WHERE tenant = '${tenant}') AS samples`,
  );
  return { spans: Number(r?.['spans']), uniqSpans: Number(r?.['uniqSpans']), logs: Number(r?.['logs']), samples: Number(r?.['samples']) };
}

beforeAll(async () => {
  [source, target] = await Promise.all([
    startAllInOne('analytics_replay_src', { SSF_GATEWAY_AUTH_TOKENS: TOKENS }),
    startAllInOne('analytics_replay_dst', { SSF_GATEWAY_AUTH_TOKENS: TOKENS }),
  ]);
  work = mkdtempSync(join(tmpdir(), 'ssf-replay-'));
});

afterAll(async () => {
  await source?.close();
  await target?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('ssf analytics replay --from-file FILE.ndjson', () => {
  it("lands exactly the file's events, reports refused lines, and sends nothing on a second run", async () => {
    const spans = traffic(ENDPOINTS, H0, H0 + HOUR_MS, 60, 11);
    const lines = spans.map((s) => JSON.stringify(proto3Json(s)));
    // A blank line, and a span of the wrong shape (refused by the gateway, named by line).
    lines.splice(10, 0, '');
    lines.splice(20, 0, JSON.stringify({ traceId: 'not a number', id: '5' }));
    const file = join(work, 'spans.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const args = ['replay', '--from-file', file, '--address', target.http, '--token', 'tokN', '--batch-size', '25', '--state', join(work, 'ndjson.state.json')];

    const r = await cli([...args, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/refused by the gateway: line 21: SSF_JSON_INVALID/);
    const result = JSON.parse(r.stdout) as { accepted: number; rejected: number; events: number };
    expect(result).toMatchObject({ accepted: 120, rejected: 1, events: 120 * 4 });

    // The reference: the spans generated here.
    const expected = spans
      .map((s) => ({ s: String(s.id), start: String(s.startTimestamp), d: String(s.endTimestamp - s.startTimestamp), error: s.error, name: s.name }))
      .sort((a, b) => (a.s < b.s ? -1 : 1));
    const got = (await spanRows(target, 'ndjson')).map((x) => ({ s: x['s'], start: x['start'], d: x['d'], error: x['error'], name: x['name'] }));
    expect(got).toEqual(expected);
    expect(await counts('ndjson')).toEqual({ spans: 120, uniqSpans: 120, logs: 120, samples: 240 });

    const again = await cli(args);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already replayed/);
    expect(await counts('ndjson')).toEqual({ spans: 120, uniqSpans: 120, logs: 120, samples: 240 });
  });

  it('continues after an interruption (Ctrl-C) without losing or doubling a span', async () => {
    const spans = traffic(ENDPOINTS, H0, H0 + HOUR_MS, 300, 12);
    const file = join(work, 'big.ndjson');
    writeFileSync(file, `${spans.map((s) => JSON.stringify(proto3Json(s))).join('\n')}\n`);
    const state = join(work, 'big.state.json');
    const args = ['replay', '--from-file', file, '--address', target.http, '--token', 'tokI', '--batch-size', '10', '--state', state];

    // Stop it once the state shows progress, as a user would with Ctrl-C.
    const child = spawn(process.execPath, [...TSX_IMPORT, join(import.meta.dirname, '..', '..', 'cli', 'main.ts'), 'analytics', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 600; i++) {
      if (existsSync(state) && ((JSON.parse(readFileSync(state, 'utf8')) as { state: { next: number | null } }).state.next ?? 0) >= 100) break;
      await sleep(20);
    }
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/interrupted at lines \d+ of 600; run again to continue/);
    const partial = await counts('interrupted');
    expect(partial.spans).toBeGreaterThan(0);
    expect(partial.spans).toBeLessThan(600);

    const rest = await cli(args);
    expect(rest.code).toBe(0);
    expect(await counts('interrupted')).toEqual({ spans: 600, uniqSpans: 600, logs: 600, samples: 1200 });
  });

  it.each([
    [['replay'], /give one source/],
    [['replay', '--from-file', '/nonexistent.ndjson'], /does not exist/],
    [['replay', '--from-file', '/etc/hostname'], /give a .ndjson/],
    [['replay', '--from-file', 'x.ndjson', '--topic', 't'], /--topic goes with --from-kafka/],
    [['replay', '--from-kafka', '--topic', 't', '--partition', '0'], /needs --start-offset/],
    [['replay', '--from-kafka', '--topic', 't', '--partition', '1.5', '--start-offset', '0'], /--partition must be a whole number/],
    [['replay', '--from-kafka', '--topic', 't', '--partition', '0', '--start-offset', '5', '--end-offset', '2'], /before --start-offset/],
  ])('refuses bad arguments with exit 2: %j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a file with a line that is not JSON before sending anything', async () => {
    const file = join(work, 'broken.ndjson');
    writeFileSync(file, `${JSON.stringify(proto3Json(traffic(ENDPOINTS, H0, H0 + HOUR_MS, 1, 13)[0] as SpanEvent))}\n{"spans": [\n`);
    const r = await cli(['replay', '--from-file', file, '--address', target.http, '--token', 'tokN', '--state', join(work, 'broken.state.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken.ndjson line 2 is not one JSON object/);
  });
});

describe('ssf analytics replay --from-file DIR (Parquet from export)', () => {
  it('writes back exactly the exported spans, logs and samples, and the rollups they make', async () => {
    await postAll(source.post, traffic(ENDPOINTS, H0, H0 + HOUR_MS, 80, 21), 'tokSrc');
    const dir = join(work, 'export');
    for (const table of ['spans', 'logs', 'samples']) {
      const r = await cli([
        'export',
        '--table',
        table,
        '--from',
        String(H0),
        '--to',
        String(H0 + HOUR_MS),
        '--out',
        dir,
        '--tenant',
        'acme',
        '--clickhouse-url',
        clickhouseUrl(),
        '--database',
        source.ch.database,
        '--state',
        join(work, `export-${table}.json`),
      ]);
      expect(r.code).toBe(0);
    }
    const args = [
      'replay',
      '--from-file',
      dir,
      '--address',
      target.http,
      '--token',
      'tokP',
      '--batch-size',
      '100',
      '--state',
      join(work, 'parquet.state.json'),
    ];
    const r = await cli([...args, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 160 + 160 + 320, rejected: 0 });

    expect(await spanRows(target, 'parquet')).toEqual(await spanRows(source, 'acme'));
    expect(await logRows(target, 'parquet')).toEqual(await logRows(source, 'acme'));
    expect(await sampleRows(target, 'parquet')).toEqual(await sampleRows(source, 'acme'));
    const rollup = (aio: AllInOne, tenant: string) =>
      rows(
        aio,
        `SELECT name, toString(tags_hash) AS h, toUnixTimestamp(bucket) AS b, sum(count) AS c,
        round(sum(sum), 6) AS s, arrayMap(x -> round(x, 6), quantilesDDMerge(0.01, 0.5, 0.99)(quantiles)) AS q
      FROM ${aio.ch.database}.metrics_1m WHERE tenant = '${tenant}' GROUP BY name, tags_hash, bucket ORDER BY name, h, b`,
      );
    expect(await rollup(target, 'parquet')).toEqual(await rollup(source, 'acme'));

    const again = await cli(args);
    expect(again.stderr).toMatch(/already replayed/);
    expect(await counts('parquet')).toEqual({ spans: 160, uniqSpans: 160, logs: 160, samples: 320 });
  });
});

describe('ssf analytics replay --from-kafka', () => {
  let topic: string;
  let producer: Producer;
  /** The spans of each record of partition 1, by offset. */
  const partition1: SpanEvent[][] = [];

  /** A span of tenant `tenant` (field 101, as the gateway stamps it), unique by id. */
  const span = (i: number, tenant: string): SpanEvent => {
    const start = BigInt(H0 + 60_000 + i * 1000) * 1_000_000n;
    return spanEvent({
      traceId: BigInt(9000 + i),
      id: BigInt(77_000 + i),
      startTimestamp: start,
      endTimestamp: start + 3_000_000n,
      error: i % 5 === 0,
      service: 'kafka-svc',
      name: `op${i % 3}`,
      tenant,
      receivedTimestamp: start,
      isTrace: true,
      logs: [{ timestamp: start, severity: 'info', severityNumber: 9, body: `record span ${i}`, attributes: {} }],
    });
  };

  beforeAll(async () => {
    topic = `replay-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
    await createTopics(kafkaBrokers(), [{ name: topic, partitions: 3 }]);
    producer = new Kafka({ clientId: 'replay-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    // Partition 1: ten SSFBatch records of three spans, sent one at a time, so record k is offset k.
    // Records 7 and 8 hold a span of another tenant. Partition 0 gets records that must never be replayed.
    for (let k = 0; k < 10; k++) {
      const spans = [0, 1, 2].map((j) => span(k * 3 + j, (k === 7 || k === 8) && j === 1 ? 'globex' : 'acme'));
      partition1.push(spans);
      await producer.send({ topic, acks: -1, messages: [{ partition: 1, value: Buffer.from(encodeBatch(spans)), headers: { 'ssf-format': BATCH_FORMAT } }] });
      await producer.send({
        topic,
        acks: -1,
        messages: [{ partition: 0, value: Buffer.from(encodeBatch([span(1000 + k, 'acme')])), headers: { 'ssf-format': BATCH_FORMAT } }],
      });
    }
  });

  afterAll(async () => {
    await producer?.disconnect();
  });

  const kafkaArgs = (extra: string[]) => [
    'replay',
    '--from-kafka',
    '--topic',
    topic,
    '--partition',
    '1',
    '--brokers',
    kafkaBrokers().join(','),
    '--address',
    target.http,
    '--token',
    'tokK',
    '--batch-size',
    '4',
    ...extra,
  ];
  const landed = async () =>
    (await rows(target, `SELECT toString(span_id) AS s FROM ${target.ch.database}.spans WHERE tenant = 'kafka' ORDER BY s`)).map((r) => String(r['s']));
  const idsOf = (records: SpanEvent[][], keep: (s: SpanEvent) => boolean = () => true) =>
    records
      .flat()
      .filter(keep)
      .map((s) => String(s.id))
      .sort();

  it('lands exactly the spans of the offsets asked, once, however often it runs', async () => {
    const args = kafkaArgs(['--start-offset', '2', '--end-offset', '6', '--state', join(work, 'kafka-2-6.json')]);
    const r = await cli([...args, '--json']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 12, rejected: 0 });
    expect(await landed()).toEqual(idsOf(partition1.slice(2, 6)));
    const [logs] = await rows(target, `SELECT count() AS n FROM ${target.ch.database}.logs WHERE tenant = 'kafka'`);
    expect(Number(logs?.['n'])).toBe(12);

    const again = await cli(args);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already replayed/);
    expect(await landed()).toEqual(idsOf(partition1.slice(2, 6)));
  });

  it("replays to the end of the partition, keeping only one tenant's spans with --only-tenant", async () => {
    const args = kafkaArgs(['--start-offset', '6', '--only-tenant', 'acme', '--state', join(work, 'kafka-6-end.json')]);
    const r = await cli([...args, '--json']);
    expect(r.code).toBe(0);
    // Offsets 6-9: twelve spans, two of them globex's.
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 10 });
    expect(await landed()).toEqual([...idsOf(partition1.slice(2, 6)), ...idsOf(partition1.slice(6), (s) => s.tenant === 'acme')].sort());
    // Records produced since do not change what a rerun of the same replay covers.
    await producer.send({
      topic,
      acks: -1,
      messages: [{ partition: 1, value: Buffer.from(encodeBatch([span(500, 'acme')])), headers: { 'ssf-format': BATCH_FORMAT } }],
    });
    const again = await cli(args);
    expect(again.stderr).toMatch(/already replayed/);
    expect((await landed()).length).toBe(22);
  });

  it('refuses offsets the partition does not have', async () => {
    const r = await cli(kafkaArgs(['--start-offset', '0', '--end-offset', '999', '--state', join(work, 'kafka-bad.json')]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--end-offset 999 is past the end/);
    const p = await cli([
      'replay',
      '--from-kafka',
      '--topic',
      topic,
      '--partition',
      '7',
      '--start-offset',
      '0',
      '--brokers',
      kafkaBrokers().join(','),
      '--address',
      target.http,
    ]);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/has no partition 7/);
  });
});
