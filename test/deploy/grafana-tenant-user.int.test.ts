/**
 * deploy/grafana/clickhouse-grafana-user.xml: Grafana's ClickHouse user for
 * one tenant, with the project's users file, on a real server. Grafana reads
 * ClickHouse directly: the row policies and the grants are all that keep
 * another tenant's rows out. docs/grafana.md said "a read-only user whose row
 * policy on the six tables is the tenant", without the grants: with
 * `GRANT SELECT ON ssf.*` (as the API's own user has), the materialized views
 * read their target tables without the targets' policies and answered every
 * tenant's rows.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import type { ClickHouseServer } from '../../deploy/local/clickhouse-server.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { OTEL_VIEWS, PUBLIC_TABLES } from '../../query/query-runner.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The inside of an XML file's <clickhouse> element. */
function inner(xml: string): string {
  return xml
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/^[\s\S]*?<clickhouse>/, '')
    .replace(/<\/clickhouse>[\s\S]*$/, '');
}

/** deploy/clickhouse/ssf-users.xml with the Grafana user's profile and user merged in, as ClickHouse merges a users.d file. */
function usersFile(): string {
  const base = readFileSync(join(ROOT, 'deploy', 'clickhouse', 'ssf-users.xml'), 'utf8');
  const grafana = inner(readFileSync(join(ROOT, 'deploy', 'grafana', 'clickhouse-grafana-user.xml'), 'utf8'));
  const section = (name: string): string => new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(grafana)?.[1] ?? '';
  return base.replace('</profiles>', `${section('profiles')}</profiles>`).replace('</users>', `${section('users')}</users>`);
}

describe('deploy/grafana: the Grafana user of one tenant', () => {
  let server: ClickHouseServer;
  let writer: ClickHouse;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssf-grafana-user-'));
    const file = join(dir, 'users.xml');
    writeFileSync(file, usersFile());
    server = await startClickHouseServer({ usersFile: file });
    const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: server.url, SSF_CLICKHOUSE_DATABASE: 'ssf' } });
    writer = await createClickHouse(config.clickhouse);
    await migrate(writer, config);
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
    const span = {
      trace_id: '1',
      span_id: '1',
      parent_id: '0',
      name: 'GET /',
      start: now,
      duration_ns: '5',
      error: false,
      indicator: true,
      root_start: now,
      tags: {},
    };
    // Both tenants' rows go through the materialized views into trace_index and the rollups.
    await writer.client.insert({
      table: 'ssf.spans',
      values: [
        { ...span, tenant: 'acme', service: 'web' },
        { ...span, tenant: 'globex', service: 'globex-secret' },
      ],
      format: 'JSONEachRow',
    });
    await writer.client.insert({
      table: 'ssf.logs',
      values: [
        { tenant: 'acme', service: 'web', timestamp: now, body: 'acme log' },
        { tenant: 'globex', service: 'globex-secret', timestamp: now, body: 'globex-secret log' },
      ],
      format: 'JSONEachRow',
    });
    await writer.client.insert({
      table: 'ssf.samples',
      values: [
        { tenant: 'acme', name: 'hits', type: 'counter', timestamp: now, value: 1, service: 'web' },
        { tenant: 'globex', name: 'globex-secret.hits', type: 'counter', timestamp: now, value: 1, service: 'globex-secret' },
      ],
      format: 'JSONEachRow',
    });
  }, 120_000);
  afterAll(async () => {
    await writer?.close();
    await server?.stop({ removeDataDir: true });
  });

  const asGrafana = async (sql: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${server.url}/?user=grafana_acme&password=change-me`, { method: 'POST', body: sql });
    return { status: res.status, text: await res.text() };
  };

  it("reads the tenant's rows of every public table and view, and none of the other tenant's", async () => {
    for (const t of PUBLIC_TABLES) {
      // Both tenants have rows there (the writer sees them), so the answer below means something.
      const all = await (await writer.client.query({ query: `SELECT arraySort(groupUniqArray(tenant)) AS t FROM ssf.${t}`, format: 'JSONEachRow' })).json<{
        t: string[];
      }>();
      expect(all, t).toEqual([{ t: ['acme', 'globex'] }]);
      const a = await asGrafana(`SELECT groupUniqArray(tenant) FROM ssf.${t} FORMAT TSV`);
      expect(a.status, `${t}: ${a.text}`).toBe(200);
      expect(a.text.trim(), t).toBe("['acme']");
    }
    for (const v of OTEL_VIEWS) {
      const a = await asGrafana(`SELECT * FROM ssf.${v} FORMAT TSV`);
      expect(a.status, `${v}: ${a.text}`).toBe(200);
      expect(a.text, v).not.toContain('globex');
    }
    const traces = await asGrafana('SELECT DISTINCT ServiceName FROM ssf.otel_traces FORMAT TSV');
    expect(traces.text.trim()).toBe('web');
    const logs = await asGrafana('SELECT Body FROM ssf.otel_logs FORMAT TSV');
    expect(logs.text.trim()).toBe('acme log');
  });

  it('may not read the materialized views (they skip the row policies), nor any other table', async () => {
    const tables = (
      await (await writer.client.query({ query: "SELECT name FROM system.tables WHERE database = 'ssf'", format: 'JSONEachRow' })).json<{ name: string }>()
    ).map((r) => r.name);
    const readable = new Set<string>([...PUBLIC_TABLES, ...OTEL_VIEWS]);
    const others = tables.filter((t) => !readable.has(t));
    expect(others).toEqual(expect.arrayContaining(['trace_index_mv', 'metrics_1m_mv', 'metrics_1h_mv', 'span_metrics_1m_mv', 'schema_migrations']));
    for (const t of others) {
      const a = await asGrafana(`SELECT count() FROM ssf.${t}`);
      expect(a.status, `${t}: ${a.text}`).not.toBe(200);
      expect(a.text, t).toMatch(/ACCESS_DENIED|Not enough privileges/);
    }
    const writes = await asGrafana("INSERT INTO ssf.logs (tenant, body) VALUES ('acme', 'x')");
    expect(writes.status).not.toBe(200);
  });
});
