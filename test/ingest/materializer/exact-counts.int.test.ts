import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import type { MaterializerProcess } from '../../../cli/materializer-command.js';
import { emptyExpected, exactCounts, produceEvents, settle, startRig, waitFor } from './helpers.js';
import type { MaterializerRig } from './helpers.js';

describe('materializer: N records in, exactly N rows out per table', () => {
  const expected = emptyExpected();
  let rig: MaterializerRig;
  let running: MaterializerProcess;
  let producer: Producer;
  let ch: ClickHouse;
  let topic: string;

  beforeAll(async () => {
    // Half before the materializer starts (a new group reads from the beginning), half while it runs.
    rig = await startRig({
      name: 'mat-exact',
      database: 'mat_exact',
      batchRows: 300,
      batchMs: 200,
      beforeStart: (p, t) => produceEvents(p, t, 0, 1_000, expected),
    });
    ({ running, producer, ch, topic } = rig);
  });

  afterAll(() => rig?.close());

  it('writes every span, log record and sample once, rollups included, and commits every offset', async () => {
    await produceEvents(producer, topic, 1_000, 2_000, expected);
    const got = await settle(ch, expected, 60_000);
    expect(got).toEqual(exactCounts(expected));
    expect(expected).toEqual({ spans: 1_000, logs: 1_500, samples: 2_000, hits: 1_000 });

    const m = running.materializer.metrics;
    expect(m.spansConsumed.get()).toBe(2_000);
    // SSFBatch records of up to 4 spans each.
    expect(m.recordsConsumed.get()).toBeGreaterThanOrEqual(500);
    expect(m.recordsConsumed.get()).toBeLessThan(2_000);
    expect(m.rowsInserted.get({ table: 'spans' })).toBe(expected.spans);
    expect(m.rowsInserted.get({ table: 'logs' })).toBe(expected.logs);
    expect(m.rowsInserted.get({ table: 'samples' })).toBe(expected.samples);
    expect(m.deadLetters.get({ code: 'MAT_ERR_UNDECODABLE' })).toBe(0);
    // Bounded batches: 4,500 rows, at most 300 (+ one record's) per insert.
    expect(m.batchRows.count()).toBeGreaterThanOrEqual(Math.ceil(4_500 / 303));

    // Every offset committed: the lag reaches 0 on every partition.
    await waitFor(
      'lag 0',
      async () => {
        const text = await (await fetch(`${running.url}/metrics`)).text();
        const lags = [...text.matchAll(/^ssf_materializer_consumer_lag\{partition="\d+"\} (\d+)$/gm)].map((x) => Number(x[1]));
        return lags.length === 3 && lags.every((l) => l === 0);
      },
      10_000,
    );
  });

  it('serves /metrics, /-/ready and /-/healthy', async () => {
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    for (const name of [
      'ssf_materializer_records_consumed_total',
      'ssf_materializer_rows_inserted_total{table="spans"}',
      'ssf_materializer_insert_duration_seconds_bucket',
      'ssf_materializer_batch_rows_count',
      'ssf_materializer_consumer_lag{partition="0"}',
    ]) {
      expect(metrics).toContain(name);
    }
    const ready = await fetch(`${running.url}/-/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, joined: true, assigned: [0, 1, 2], paused: [], lastInsert: { ok: true } });
    expect((await fetch(`${running.url}/-/healthy`)).status).toBe(200);
  });
});
