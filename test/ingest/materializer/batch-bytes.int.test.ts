import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanEvent } from '../../../src/codec/span-event.js';
import { NOW, batchRecord, startRig, waitFor } from './helpers.js';
import type { MaterializerRig } from './helpers.js';

/*
 * A batch ends at batchRows rows or batchBytes bytes of records, whichever
 * comes first. Rows were the only bound: a backlog of log records of 100 KB
 * (a stack trace; a body may be up to gateway.maxSpanBytes, 1 MB) filled a
 * batch of batchRows (150,000 by default) with 15 GB, and the materializer,
 * restarted, ran out of memory on the same records again. Here a backlog of
 * 60 such records waits in one partition with batchBytes 1 MiB and batchMs a
 * minute: only batchBytes can cut it, so the rows appear within the test's
 * time only if it does, in batches of about 1 MiB.
 */
const RECORDS = 60;
const BODY = 100_000;
const BATCH_BYTES = 1_048_576;

describe('materializer: batches bounded by bytes', () => {
  let rig: MaterializerRig;

  beforeAll(async () => {
    rig = await startRig({
      name: 'mat-bytes',
      database: 'mat_bytes',
      batchRows: 150_000,
      batchMs: 60_000,
      batchBytes: BATCH_BYTES,
      beforeStart: async (producer, topic) => {
        const messages = Array.from({ length: RECORDS }, (_, i) =>
          batchRecord(
            [
              spanEvent({
                service: 'big-logs',
                logs: [{ timestamp: NOW + BigInt(i), severity: 'error', severityNumber: 17, body: `${i} ${'x'.repeat(BODY)}`, attributes: {} }],
              }),
            ],
            0,
          ),
        );
        // Sends of 5 records: a produce request's batch stays under the broker's 1 MiB.
        for (let i = 0; i < RECORDS; i += 5) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5) });
      },
    });
  });

  afterAll(() => rig?.close());

  it('cuts a backlog of large records into batches of about batchBytes, each row stored once', async () => {
    const db = rig.ch.database;
    const stored = async (): Promise<number> => {
      const rows = await (
        await rig.ch.client.query({ query: `SELECT count() AS n, uniqExact(body) AS u FROM ${db}.logs WHERE service = 'big-logs'`, format: 'JSONEachRow' })
      ).json<{ n: string; u: string }>();
      expect(rows[0]?.n).toBe(rows[0]?.u);
      return Number(rows[0]?.n ?? 0);
    };
    await waitFor('every record stored', async () => (await stored()) === RECORDS, 30_000);
    const m = rig.running.materializer.metrics;
    // 6 MB of records in batches that end after the record reaching 1 MiB (about 11 records each).
    expect(m.batchRows.count()).toBeGreaterThanOrEqual(Math.floor((RECORDS * BODY) / (BATCH_BYTES + BODY)));
    expect(m.batchBytes.count()).toBe(m.batchRows.count());
    expect(m.batchBytes.sum()).toBeGreaterThanOrEqual(RECORDS * BODY);
    expect(m.batchBytes.sum() / m.batchBytes.count()).toBeLessThanOrEqual(BATCH_BYTES + 2 * BODY);
  });
});
