import { createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterize, loadMigrations, renderMigration } from '../../src/clickhouse/migrations.js';
import type { RenderContext } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl } from '../setup/services.js';

/**
 * The `replicated` cluster mode cannot run here (chDB has no Keeper and
 * refuses ON CLUSTER), so its DDL is checked by ClickHouse's own parser:
 * every statement of every migration, rendered for a cluster, must parse
 * (`formatQuery`), and the parsed text must say what the mode promises.
 */

const retention = loadConfig({ env: {} }).retention;
const replicated: RenderContext = { database: 'ssf', cluster: 'obs', clusterMode: 'replicated', retention, bodyIndex: 'text' };
let client: ClickHouseClient;

async function parse(statement: string): Promise<string> {
  const [row] = await (await client.query({ query: 'SELECT formatQuery({q:String}) AS f', query_params: { q: statement }, format: 'JSONEachRow' })).json<{
    f: string;
  }>();
  return row?.f ?? '';
}

describe('replicated-mode DDL, parsed by ClickHouse', () => {
  beforeAll(() => {
    client = createClient({ url: clickhouseUrl() });
  });
  afterAll(async () => {
    await client.close();
  });

  it('every statement of every migration parses, ON CLUSTER, Replicated, Distributed as promised', async () => {
    const statements = loadMigrations().flatMap((m) => renderMigration(m, replicated));
    expect(statements.length).toBeGreaterThan(20);
    for (const statement of statements) {
      const formatted = await parse(statement);
      expect(formatted, statement.slice(0, 120)).toContain('ON CLUSTER obs');
      if (/^CREATE TABLE/m.test(formatted) && !/ENGINE = Distributed/.test(formatted)) {
        expect(formatted).toMatch(/ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/ssf\/\w+_local', '\{replica\}'/);
      }
      if (/ENGINE = Distributed/.test(formatted)) expect(formatted).toMatch(/ENGINE = Distributed\(obs, ssf, \w+_local, /);
      if (/^CREATE MATERIALIZED VIEW/.test(formatted)) {
        expect(formatted).toMatch(/TO ssf\.\w+_local/);
        expect(formatted).not.toMatch(/FROM ssf\.(spans|samples)\b(?!_local)/);
      }
    }
  });

  it('ALTER becomes an ON CLUSTER change of the local table, and of the Distributed table for columns', async () => {
    const altered = clusterize(
      [
        "ALTER TABLE `ssf`.spans ADD COLUMN IF NOT EXISTS region LowCardinality(String) DEFAULT ''",
        'ALTER TABLE `ssf`.logs MODIFY SETTING ttl_only_drop_parts = 1',
      ],
      replicated,
    );
    const formatted = await Promise.all(altered.map(parse));
    expect(formatted).toEqual([
      "ALTER TABLE ssf.spans_local ON CLUSTER obs\n    (ADD COLUMN IF NOT EXISTS `region` LowCardinality(String) DEFAULT '')",
      "ALTER TABLE ssf.spans ON CLUSTER obs\n    (ADD COLUMN IF NOT EXISTS `region` LowCardinality(String) DEFAULT '')",
      'ALTER TABLE ssf.logs_local ON CLUSTER obs\n    (MODIFY SETTING ttl_only_drop_parts = 1)',
    ]);
    // The sharded mode: the same statements without ON CLUSTER, for each node.
    const sharded = clusterize(['ALTER TABLE `ssf`.spans DROP COLUMN region'], { ...replicated, clusterMode: 'sharded' });
    expect(sharded).toEqual(['ALTER TABLE `ssf`.spans_local DROP COLUMN region', 'ALTER TABLE `ssf`.spans DROP COLUMN region']);
  });
});
