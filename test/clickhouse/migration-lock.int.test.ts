import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { keepLockFresh, LOCK_HEARTBEAT_MS, LOCK_STALE_MS } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';

/**
 * The migration lock is judged by its table's age (metadata_modification_time):
 * one older than LOCK_STALE_MS is taken as a crashed process's. A step that
 * runs longer (0020 copies every log row) keeps it fresh; here, on a real
 * server, that the renewal moves the age the other processes read, and stops.
 */
describe('the migration lock, kept fresh', () => {
  const database = uniqueDatabase('ssf_lock');
  const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } });
  let ch: ClickHouse;

  const age = async (): Promise<number> => {
    const [row] = await (
      await ch.client.query({
        query: `SELECT toUnixTimestamp(metadata_modification_time) AS s FROM system.tables WHERE database = {db:String} AND name = 'schema_migrations_lock'`,
        query_params: { db: database },
        format: 'JSONEachRow',
      })
    ).json<{ s: number }>();
    return Number(row?.s);
  };

  beforeAll(async () => {
    ch = await createClickHouse(config.clickhouse);
    await ch.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
    await ch.client.command({ query: `CREATE TABLE ${database}.schema_migrations_lock (holder String) ENGINE = Memory COMMENT 'pid 1'` });
  });

  afterAll(async () => {
    await ch?.client.command({ query: `DROP DATABASE IF EXISTS ${database} SYNC` });
    await ch?.close();
  });

  it('renews the age other processes judge the lock by, every beat, until stopped', async () => {
    expect(LOCK_HEARTBEAT_MS).toBeLessThan(LOCK_STALE_MS / 2);
    const created = await age();
    expect(created).toBeGreaterThan(1_600_000_000);
    const failures: string[] = [];
    const stop = keepLockFresh(ch, '', 300, (line) => failures.push(line));
    let renewed: number;
    try {
      await new Promise((r) => setTimeout(r, 2_500)); // the age has one-second steps
      renewed = await age();
      expect(renewed).toBeGreaterThanOrEqual(created + 2);
    } finally {
      await stop();
    }
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await age()).toBeLessThanOrEqual(renewed + 1);
    expect(failures).toEqual([]);
  });

  it('says so when a renewal fails, and keeps trying', async () => {
    await ch.client.command({ query: `DROP TABLE ${database}.schema_migrations_lock SYNC` });
    const failures: string[] = [];
    const stop = keepLockFresh(ch, '', 300, (line) => failures.push(line));
    try {
      await new Promise((r) => setTimeout(r, 1_200));
    } finally {
      await stop();
    }
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]).toMatch(/could not renew the migration lock/);
  });
});
