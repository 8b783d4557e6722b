import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { createEventBatch, insertBatch } from '../../src/clickhouse/event-writer.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import type { ClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { counts, emptyExpected, exactCounts, makeEvent } from '../ingest/materializer/helpers.js';

/*
 * The materializer retries an insert whose answer it did not get with the
 * same deduplication token, and a ClickHouse crash is the usual reason it
 * did not get one. So a retry after a restart of the server must be dropped
 * by every table the insert reaches, the materialized views' targets
 * (trace_index, the rollups) included.
 *
 * It was not, for trace_index on a new database: migration 0007 changes its
 * view with ALTER ... MODIFY QUERY, and ClickHouse deduplicated the view's
 * blocks written between that ALTER and the next restart differently from
 * the same blocks retried after it (the source table dropped the retry, the
 * view wrote it again). The cluster's ClickHouse-kill test found it.
 * renderMigration now reloads a view after MODIFY QUERY.
 */
describe('an insert retried after its ClickHouse server restarted', () => {
  let server: ClickHouseServer;
  let ch: ClickHouse;
  let dataDir: string;
  const config = (url: string) => loadConfig({ env: { SSF_CLICKHOUSE_URL: url, SSF_CLICKHOUSE_DATABASE: 'retry_restart' } });

  beforeAll(async () => {
    // A server of its own: the test stops it.
    dataDir = await mkdtemp(join(tmpdir(), 'retry-restart-'));
    server = await startClickHouseServer({ dataDir });
    const cfg = config(server.url);
    ch = await createClickHouse(cfg.clickhouse);
    await migrate(ch, cfg);
  }, 120_000);

  afterAll(async () => {
    await ch?.client.close();
    await server?.stop();
  });

  it('is dropped by every table, the views included (a new database, migrations applied just before)', { timeout: 120_000 }, async () => {
    const expected = emptyExpected();
    const batches: SpanEvent[][] = [];
    for (let b = 0; b < 10; b++) batches.push(Array.from({ length: 40 }, (_, i) => makeEvent(b * 40 + i, expected)));
    const send = async (b: number): Promise<void> => {
      const batch = createEventBatch(ch);
      for (const e of batches[b] as SpanEvent[]) batch.append(e);
      await insertBatch(ch, batch, `retry-restart-${b}`);
    };
    for (let b = 0; b < batches.length; b++) await send(b);
    expect(await counts(ch)).toEqual(exactCounts(expected));

    // A crash, then every insert again as the materializer's replay would send it.
    const port = server.port;
    server.kill('SIGKILL');
    await server.exited;
    await ch.client.close();
    server = await startClickHouseServer({ dataDir, port });
    ch = await createClickHouse(config(server.url).clickhouse);
    for (let b = 0; b < batches.length; b++) await send(b);
    expect(await counts(ch)).toEqual(exactCounts(expected));
  });
});
