import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { createClickHouse } from '../../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import { startMaterializerProcess } from '../../../cli/materializer-command.js';
import type { MaterializerProcess } from '../../../cli/materializer-command.js';
import { startClickHouseServer } from '../../../deploy/local/clickhouse-server.js';
import type { ClickHouseServer } from '../../../deploy/local/clickhouse-server.js';
import { kafkaBrokers } from '../../setup/services.js';
import { freePort } from '../../../src/net/free-port.js';
import { freshTopic } from '../kafka-reader.js';
import { connectProducer, emptyExpected, exactCounts, produceEvents, settle, materializerConfig, waitFor } from './helpers.js';
import { createLogger } from '../../../src/observability/logger.js';

const OUTAGE_MS = 30_000;
const BATCH_ROWS = 100;

describe('materializer: its ClickHouse stopped for 30 s mid-stream', () => {
  const expected = emptyExpected();
  let server: ClickHouseServer;
  let port: number;
  let dataDir: string;
  let running: MaterializerProcess;
  let producer: Producer;
  let ch: ClickHouse;
  let topic: string;

  beforeAll(async () => {
    // A server of its own, so that stopping it disturbs no other test.
    port = await freePort();
    dataDir = await mkdtemp(join(tmpdir(), 'mat-outage-'));
    server = await startClickHouseServer({ port, dataDir });
    topic = await freshTopic(kafkaBrokers(), 'mat-outage');
    const config = materializerConfig({ topic, clickhouseUrl: server.url, database: 'mat_outage', batchRows: BATCH_ROWS, batchMs: 100 });
    producer = await connectProducer(kafkaBrokers());
    // A session timeout a third of the outage: the member must keep heartbeating while it cannot insert.
    running = await startMaterializerProcess(config, { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, log: createLogger({ level: 'silent' }) });
    ch = await createClickHouse(config.clickhouse);
  });

  afterAll(async () => {
    await producer?.disconnect();
    await running?.stop();
    await ch?.close();
    await server?.stop({ removeDataDir: true });
  });

  it('pauses instead of buffering, keeps its group membership, and writes everything exactly once when ClickHouse is back', async () => {
    const m = running.materializer.metrics;
    await produceEvents(producer, topic, 0, 800, expected);
    expect(await settle(ch, expected, 30_000, 0)).toEqual(exactCounts(expected));
    const joins = m.rebalances.get();

    await server.stop();
    const stoppedAt = Date.now();
    await produceEvents(producer, topic, 800, 1_600, expected);

    await waitFor(
      'inserts to fail and partitions to pause',
      () => running.materializer.status().paused.length > 0 && m.retries.get({ step: 'insert', code: 'MAT_ERR_INSERT_FAILED' }) > 0,
      15_000,
    );
    const during = await fetch(`${running.url}/-/ready`);
    expect(during.status).toBe(503);
    expect(await during.json()).toMatchObject({ ready: false, joined: true, lastInsert: { ok: false } });
    await sleep(10_000);
    await produceEvents(producer, topic, 1_600, 2_000, expected);

    // Memory stays bounded: per partition one batch being retried and one full batch waiting
    // (a batch is cut after the record that reaches batchRows: a record of 4 spans adds at most 12 rows).
    const status = running.materializer.status();
    expect(status.bufferedRows).toBeLessThanOrEqual(3 * 2 * (BATCH_ROWS + 12));
    expect(status.paused).toEqual([0, 1, 2]);
    const consumed = m.spansConsumed.get();
    await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
    // Paused partitions are not fetched: nothing more was read during the outage.
    expect(m.spansConsumed.get()).toBe(consumed);
    expect(consumed).toBeLessThan(2_000);
    // Still the same group member: no rebalance, no crash, despite a 10 s session timeout.
    expect(m.rebalances.get()).toBe(joins);
    expect(running.materializer.status().joined).toBe(true);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/ssf_materializer_consumer_lag\{partition="\d"\} [1-9]/);

    server = await startClickHouseServer({ port, dataDir });
    const got = await settle(ch, expected, 60_000);
    expect(got).toEqual(exactCounts(expected));
    await waitFor('ready again', () => running.materializer.status().ready, 10_000);
    expect(running.materializer.status()).toMatchObject({ ready: true, paused: [], lastInsert: { ok: true } });
    expect(m.rebalances.get()).toBe(joins);
  }, 150_000);
});
