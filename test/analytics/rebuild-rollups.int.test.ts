import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricSample, SpanEvent } from '../../src/codec/index.js';
import { rollupViews } from '../../query/analytics/rebuild-rollups.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { clickhouseUrl } from '../setup/services.js';
import { runCli } from '../cli/run-cli.js';
import { HOUR_MS, pastHour, postAll, traffic } from './analytics-data.js';
import { spanEvent } from '../../src/codec/span-event.js';

/**
 * `ssf analytics rebuild-rollups` against rollups the real pipeline built:
 * the rollups are damaged on purpose (rows doubled, rows deleted), and the
 * rebuild must give back exactly what the materialized views had written,
 * every column finalized, in metrics_1m and metrics_1h, for the hours asked
 * and only those; running it again (resumed, and from scratch) changes nothing.
 */

const H0 = pastHour(3);
const ENDPOINTS = [
  { service: 'web', name: 'GET /', indicator: true, failEvery: 10, durationsMs: [3, 5, 8, 13] },
  { service: 'api', name: 'POST /pay', indicator: false, failEvery: 4, durationsMs: [20, 40, 90] },
];

let aio: AllInOne;
let db: string;
let work: string;

const cli = (args: string[]) => runCli(['analytics', ...args, '--clickhouse-url', clickhouseUrl(), '--database', db], {}, 90_000);

/** Bare samples of every other type: gauges (last), sets (uniq), status checks (last status). */
function otherSamples(fromMs: number, count: number): SpanEvent[] {
  const out: SpanEvent[] = [];
  for (let i = 0; i < count; i++) {
    const ns = BigInt(fromMs + i * 37_000) * 1_000_000n + BigInt(i);
    const s = (type: MetricSample['type'], name: string, value: number, message = '', status: MetricSample['status'] = 'ok'): MetricSample => ({
      type,
      name,
      value,
      timestamp: ns,
      message,
      status,
      sampleRate: 1,
      tags: { host: `h${i % 3}` },
      unit: '',
      scope: 'default',
    });
    out.push(
      spanEvent({
        service: 'worker',
        isTrace: false,
        metrics: [s('gauge', 'queue.depth', i * 1.5), s('set', 'users', 0, `user${i % 23}`), s('status', 'disk', 0, 'check', i % 5 === 0 ? 'critical' : 'ok')],
      }),
    );
  }
  return out;
}

/** Every rollup row of a table, merged and finalized per series and bucket: what a reader of the rollup sees. */
async function finalized(table: 'metrics_1m' | 'metrics_1h', fromMs: number, toMs: number): Promise<Array<Record<string, unknown>>> {
  const sql = `SELECT tenant, name, toString(type) AS type, toString(tags_hash) AS h, toUnixTimestamp(bucket) AS b, any(tags) AS tags,
      any(service) AS service, any(unit) AS unit, round(sum(count), 6) AS count, round(sum(sum), 6) AS sum, min(min) AS min, max(max) AS max,
      argMaxMerge(last) AS last, arrayMap(x -> round(x, 6), quantilesDDMerge(0.01, 0.5, 0.9, 0.99)(quantiles)) AS q,
      uniqHLL12Merge(uniq) AS uniq, argMaxMerge(last_status) AS last_status
    FROM ${db}.${table}
    WHERE bucket >= toDateTime(${fromMs / 1000}, 'UTC') AND bucket < toDateTime(${toMs / 1000}, 'UTC')
    GROUP BY tenant, name, type, tags_hash, bucket
    ORDER BY tenant, name, type, h, b`;
  return (await aio.ch.client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
}

async function snapshot(fromMs: number, toMs: number): Promise<{ m1: unknown[]; h1: unknown[] }> {
  return { m1: await finalized('metrics_1m', fromMs, toMs), h1: await finalized('metrics_1h', fromMs, toMs) };
}

/** Damages the rollups of [fromMs, toMs): every row doubled (the views then double metrics_1h too), and one series dropped. */
async function damage(fromMs: number, toMs: number): Promise<void> {
  const where = `bucket >= toDateTime(${fromMs / 1000}, 'UTC') AND bucket < toDateTime(${toMs / 1000}, 'UTC')`;
  await aio.ch.client.command({ query: `INSERT INTO ${db}.metrics_1m SETTINGS insert_deduplicate = 0 SELECT * FROM ${db}.metrics_1m WHERE ${where}` });
  await aio.ch.client.command({ query: `DELETE FROM ${db}.metrics_1m WHERE ${where} AND name = 'queue.depth'` });
}

beforeAll(async () => {
  aio = await startAllInOne('analytics_rebuild', { SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokB=globex' });
  db = aio.ch.database;
  work = mkdtempSync(join(tmpdir(), 'ssf-rebuild-'));
  await postAll(aio.post, [...traffic(ENDPOINTS, H0, H0 + 2 * HOUR_MS, 200, 3), ...otherSamples(H0, 150)], 'tokA');
  await postAll(aio.post, traffic(ENDPOINTS, H0, H0 + 2 * HOUR_MS, 50, 4), 'tokB');
});

afterAll(async () => {
  await aio?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('ssf analytics rebuild-rollups', () => {
  it("takes the views' SELECTs from the migration files", () => {
    const views = rollupViews('ssf', loadConfig({ env: {} }).retention);
    // 0015 folded service_metrics_1m_mv (0005) into span_metrics_1m_mv: its latest query, not 0004's.
    expect(views.map((v) => `${v.view}<-${v.source}`).sort()).toEqual(['metrics_1m_mv<-samples', 'span_metrics_1m_mv<-spans']);
    expect(views.find((v) => v.view === 'span_metrics_1m_mv')?.select).toContain("'ssf.service.duration'");
    for (const v of views) expect(v.select).toContain('{fromMs:Int64}');
  });

  it('gives back exactly the rollups the pipeline wrote, for the hours asked, and again when run twice', async () => {
    const before = await snapshot(H0, H0 + 2 * HOUR_MS);
    const hour0 = await snapshot(H0, H0 + HOUR_MS);
    const hour1 = await snapshot(H0 + HOUR_MS, H0 + 2 * HOUR_MS);
    expect(hour0.m1.length).toBeGreaterThan(100);
    expect(hour0.h1.length).toBeGreaterThan(10);

    await damage(H0, H0 + 2 * HOUR_MS);
    const damaged = await snapshot(H0, H0 + 2 * HOUR_MS);
    expect(damaged.m1).not.toEqual(before.m1);
    expect(damaged.h1).not.toEqual(before.h1);

    // The first hour only, asked for with times inside it: the job widens to whole hours.
    const state = join(work, 'rebuild.json');
    const args = ['rebuild-rollups', '--from', new Date(H0 + 10 * 60_000).toISOString(), '--to', new Date(H0 + 50 * 60_000).toISOString(), '--state', state];
    const first = await cli(args);
    expect(first.stderr).not.toMatch(/Error/);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/1 hours rebuilt, 0 already done/);
    expect(await snapshot(H0, H0 + HOUR_MS)).toEqual(hour0);
    // The second hour was not asked for: still damaged.
    const untouched = await snapshot(H0 + HOUR_MS, H0 + 2 * HOUR_MS);
    expect(untouched).not.toEqual(hour1);

    // Run again: the state says the hour is done.
    const again = await cli(args);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/0 hours rebuilt, 1 already done/);
    expect(await snapshot(H0, H0 + HOUR_MS)).toEqual(hour0);

    // Both hours from scratch, twice: the same rows each time.
    const both = ['rebuild-rollups', '--from', String(H0), '--to', String(H0 + 2 * HOUR_MS), '--state', join(work, 'both.json'), '--json'];
    const r1 = await cli([...both, '--restart']);
    expect(r1.code).toBe(0);
    const result = JSON.parse(r1.stdout) as { hours: Array<{ rows1m: number; rows1h: number }> };
    expect(result.hours).toHaveLength(2);
    expect(await snapshot(H0, H0 + 2 * HOUR_MS)).toEqual(before);
    const r2 = await cli([...both, '--restart']);
    expect(r2.code).toBe(0);
    expect(await snapshot(H0, H0 + 2 * HOUR_MS)).toEqual(before);
  });

  it('refuses the current hour and hours past the retention of the raw rows, touching nothing', async () => {
    const current = await cli(['rebuild-rollups', '--from', 'now-2h', '--to', 'now']);
    expect(current.code).toBe(2);
    expect(current.stderr).toMatch(/reaches into the current hour/);
    const old = await cli(['rebuild-rollups', '--from', 'now-40d', '--to', 'now-39d']);
    expect(old.code).toBe(2);
    expect(old.stderr).toMatch(/kept 30 days/);
    const inverted = await cli(['rebuild-rollups', '--from', String(H0 + HOUR_MS), '--to', String(H0)]);
    expect(inverted.code).toBe(2);
    expect(inverted.stderr).toMatch(/--to must be after --from/);
  });
});
