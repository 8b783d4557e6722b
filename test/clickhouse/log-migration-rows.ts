import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import type { Config } from '../../src/config/config-schema.js';

// What the tests of the migrations that rebuild `logs` (0010, 0020) write and compare.

/** `n` log lines of two tenants over `hours` hours from `fromS`; one in 997 holds the word "quokka". */
export function insertLogs(ch: ClickHouse, fromS: number, hours: number, n: number, seed: number, table = 'logs'): Promise<unknown> {
  return ch.client.command({
    query: `INSERT INTO ${ch.database}.${table} (tenant, service, timestamp, severity, severity_number, body, trace_id, span_id, attributes)
      SELECT ['default', 'other'][1 + number % 2], concat('svc', toString(number % 5)),
             toDateTime64(${fromS} + intDiv(number * ${hours * 3600}, ${n}), 9, 'UTC') + toIntervalNanosecond(number % 1000),
             'info', 9, concat('line ', toString(number), ' seed ${seed}', if(cityHash64(number, ${seed}) % 997 = 0, ' quokka', '')),
             toInt64(cityHash64(number, ${seed}, 1)), toInt64(number), map('k', toString(number % 7))
      FROM numbers(${n})`,
  });
}

export async function rows<T>(ch: ClickHouse, query: string): Promise<T[]> {
  return (await ch.client.query({ query, format: 'JSONEachRow' })).json<T>();
}

/**
 * Every row, as one fingerprint per tenant: count, an order-independent hash
 * of the rows (`row_hash` too: the table computes it on insert), and the
 * rows with "quokka" found by the index.
 */
export function fingerprint(ch: ClickHouse, table = 'logs'): Promise<unknown[]> {
  return rows(
    ch,
    `SELECT tenant, count() AS n, toString(sum(cityHash64(service, timestamp, severity, body, trace_id, span_id, attributes, row_hash))) AS h,
            countIf(hasToken(body, 'quokka')) AS quokkas
       FROM ${ch.database}.${table} GROUP BY tenant ORDER BY tenant`,
  );
}

/**
 * `migrate` by every client at once: what each applied (sorted, so that the
 * one that applied and the ones that found nothing to do compare as one
 * list) and the log lines of the one that applied.
 */
export async function migrateAtOnce(clients: ClickHouse[], config: Config): Promise<{ applied: number[][]; log: string[] }> {
  const logs = clients.map((): string[] => []);
  const results = await Promise.all(clients.map((c, i) => migrate(c, config, (line) => logs[i]?.push(line))));
  const applier = results.findIndex((r) => r.applied.length > 0);
  return { applied: results.map((r) => r.applied.map((m) => m.version)).sort(), log: logs[applier] ?? [] };
}
