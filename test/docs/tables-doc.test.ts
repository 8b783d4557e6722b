import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMigrations, splitStatements } from '../../src/clickhouse/migrations.js';
import { OTEL_VIEWS, PUBLIC_TABLES } from '../../query/query-runner.js';

const docs = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'tables.md'), 'utf8');

/**
 * What the migrations, applied in order, leave in the database: each table's
 * columns (CREATE TABLE ... ( ... ), CREATE TABLE x AS y, ADD COLUMN), and
 * the views not dropped later. Read from the statements' text, comments out.
 */
function schemaFromMigrations(): { columns: Map<string, string[]>; views: Set<string> } {
  const columns = new Map<string, string[]>();
  const views = new Set<string>();
  for (const m of loadMigrations()) {
    for (const raw of splitStatements(m.template)) {
      const sql = raw.replace(/--.*$/gm, '').trim();
      const create = /^CREATE TABLE IF NOT EXISTS \$\{db\}\.(\w+)\s*\(([\s\S]*?)\)\s*ENGINE/.exec(sql);
      if (create) {
        const defs = (create[2] ?? '').split('\n').map((l) => l.trim());
        const names = defs.filter((l) => l !== '' && !l.startsWith('INDEX ')).map((l) => l.split(/\s+/)[0] ?? '');
        columns.set(create[1] ?? '', names);
        continue;
      }
      const copy = /^CREATE TABLE IF NOT EXISTS \$\{db\}\.(\w+) AS \$\{db\}\.(\w+)/.exec(sql);
      if (copy) {
        columns.set(copy[1] ?? '', [...(columns.get(copy[2] ?? '') ?? [])]);
        continue;
      }
      const add = /^ALTER TABLE \$\{db\}\.(\w+)\s+ADD COLUMN IF NOT EXISTS (\w+)/.exec(sql);
      if (add) columns.get(add[1] ?? '')?.push(add[2] ?? '');
      const view = /^CREATE (?:OR REPLACE )?(?:MATERIALIZED )?VIEW (?:IF NOT EXISTS )?\$\{db\}\.(\w+)/.exec(sql);
      if (view) views.add(view[1] ?? '');
      const drop = /^DROP VIEW IF EXISTS \$\{db\}\.(\w+)/.exec(sql);
      if (drop) views.delete(drop[1] ?? '');
    }
  }
  return { columns, views };
}

const schema = schemaFromMigrations();

describe('docs/tables.md against the migrations', () => {
  it('reads the migrations', () => {
    expect(schema.columns.get('spans')).toContain('trace_id_high');
    expect(schema.columns.get('logs')).toContain('row_hash');
    expect(schema.views).toContain('span_metrics_1m_mv');
    expect(schema.views).not.toContain('service_metrics_1m_mv');
  });

  it.each([...PUBLIC_TABLES])('has a section for ssf.%s listing each of its columns', (table) => {
    const cols = schema.columns.get(table);
    expect(cols, `no CREATE TABLE for ${table}`).toBeDefined();
    // The section whose heading names the table (metrics_1m and metrics_1h share one).
    const section = docs.split(/^## /m).find((s) => (s.split('\n')[0] ?? '').includes(`\`ssf.${table}\``));
    expect(section, `no heading names ssf.${table}`).toBeDefined();
    const missing = (cols ?? []).filter((c) => !section?.includes(`\`${c}\``));
    expect(missing, `columns of ${table} not in its section`).toEqual([]);
  });

  it('names every view the migrations leave', () => {
    const missing = [...schema.views].filter((v) => !new RegExp(`\\b${v}\\b`).test(docs));
    expect(missing).toEqual([]);
    for (const v of OTEL_VIEWS) expect(schema.views).toContain(v);
  });
});
