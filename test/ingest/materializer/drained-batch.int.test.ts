import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { createClickHouse } from '../../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import { startMaterializerProcess } from '../../../cli/materializer-command.js';
import type { MaterializerProcess } from '../../../cli/materializer-command.js';
import { clickhouseUrl, kafkaBrokers } from '../../setup/services.js';
import { freshTopic } from '../kafka-reader.js';
import { connectProducer, counts, emptyExpected, exactCounts, produceEvents, settle, materializerConfig } from './helpers.js';

/*
 * A batch ends at batchRows rows or after batchMs; and a batch at least a
 * quarter full ends as soon as a fetch finds its partition caught up (the last batch
 * of a drained backlog need not wait out batchMs). Here batchMs is a minute:
 * only that rule can make the rows appear within the test's 20 s.
 */
describe('materializer: a drained partition', () => {
  const expected = emptyExpected();
  let running: MaterializerProcess;
  let producer: Producer;
  let ch: ClickHouse;
  let topic: string;

  beforeAll(async () => {
    topic = await freshTopic(kafkaBrokers(), 'mat-drained');
    const config = materializerConfig({ topic, clickhouseUrl: clickhouseUrl(), database: 'mat_drained', batchRows: 2_000, batchMs: 60_000 });
    producer = await connectProducer(kafkaBrokers());
    // 4,500 rows over 3 partitions: about 1,500 each, more than a quarter of batchRows, less than all of it.
    await produceEvents(producer, topic, 0, 2_000, expected);
    running = await startMaterializerProcess(config, { heartbeatIntervalMs: 1_000 });
    ch = await createClickHouse(config.clickhouse);
  });

  afterAll(async () => {
    await producer?.disconnect();
    await running?.stop();
    await ch?.close();
  });

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
