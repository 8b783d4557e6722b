import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import type { MaterializerProcess } from '../../../cli/materializer-command.js';
import { counts, emptyExpected, exactCounts, produceEvents, settle, startRig } from './helpers.js';
import type { MaterializerRig } from './helpers.js';

/*
 * A batch ends at batchRows rows or after batchMs; and a batch at least a
 * quarter full ends as soon as a fetch finds its partition caught up (the last batch
 * of a drained backlog need not wait out batchMs). Here batchMs is a minute:
 * only that rule can make the rows appear within the test's 20 s.
 */
describe('materializer: a drained partition', () => {
  const expected = emptyExpected();
  let rig: MaterializerRig;
  let running: MaterializerProcess;
  let producer: Producer;
  let ch: ClickHouse;
  let topic: string;

  beforeAll(async () => {
    // 4,500 rows over 3 partitions: about 1,500 each, more than a quarter of batchRows, less than all of it.
    rig = await startRig({
      name: 'mat-drained',
      database: 'mat_drained',
      batchRows: 2_000,
      batchMs: 60_000,
      beforeStart: (p, t) => produceEvents(p, t, 0, 2_000, expected),
    });
    ({ running, producer, ch, topic } = rig);
  });

  afterAll(() => rig?.close());

  it('inserts a batch at least a quarter full without waiting out batchMs', async () => {
    const got = await settle(ch, expected, 20_000);
    expect(got).toEqual(exactCounts(expected));
    // One insert per partition: none was cut by size.
    expect(running.materializer.metrics.batchRows.count()).toBe(3);
  });

  it('keeps a small batch open until batchMs (a slow stream still makes few inserts)', async () => {
    const before = await counts(ch);
    const more = emptyExpected();
    await produceEvents(producer, topic, 2_000, 2_040, more);
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await counts(ch)).toEqual(before);
  });
});
