import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRunner } from '../../query/query-runner.js';
import { tablesRead } from '../../query/sql/sql-guard.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { loadConfig } from '../../src/config/load-config.js';

// Lines as ClickHouse 26.7 writes them in EXPLAIN QUERY TREE (copied from its answers).
const TREE_FINAL = `QUERY id: 0
  PROJECTION COLUMNS
    tenant LowCardinality(String)
  JOIN TREE
    TABLE id: 3, alias: __table1, table_name: ssf.trace_index_mv, final: 1`;

describe('tablesRead: what an EXPLAIN QUERY TREE text reads', () => {
  it('reads the table name wherever it stands on the line: alone, before FINAL, before SAMPLE, before both', () => {
    expect(tablesRead(TREE_FINAL).tables).toEqual(['ssf.trace_index_mv']);
    expect(tablesRead('    TABLE id: 3, alias: __table1, table_name: ssf.sampled, final: 0, sample_size: 1 / 2').tables).toEqual(['ssf.sampled']);
    expect(tablesRead('    TABLE id: 3, alias: __table1, table_name: ssf.sampled, final: 1, sample_size: 1 / 2, sample_offset: 1 / 2').tables).toEqual([
      'ssf.sampled',
    ]);
    expect(tablesRead('    TABLE id: 7, alias: __table4, table_name: ssf.spans').tables).toEqual(['ssf.spans']);
  });

  it('checks every table_name a line holds, so nothing before the real one can stand in for it', () => {
    expect(tablesRead('    TABLE id: 3, alias: x, table_name: ssf.spans, table_name: ssf.trace_index_mv, final: 1').tables).toEqual([
      'ssf.spans',
      'ssf.trace_index_mv',
    ]);
  });

  it('fails closed on a TABLE or TABLE_FUNCTION line without its name', () => {
    expect(() => tablesRead('    TABLE id: 3, alias: __table1, storage_id: ssf.x')).toThrow(/QUERY_ERR_TABLE|cannot name/);
    expect(() => tablesRead('        TABLE_FUNCTION id: 5, alias: __table3')).toThrow(/cannot name/);
    try {
      tablesRead('    TABLE id: 3');
      expect.unreachable();
    } catch (err) {
      expect((err as { code?: string }).code).toBe('QUERY_ERR_TABLE');
    }
  });

  it('reads table functions and the CTEs the analyzer resolved', () => {
    const tree = `QUERY id: 0
  JOIN TREE
    CROSS JOIN id: 20
      TABLE EXPRESSION
        QUERY id: 3, alias: __table1, is_subquery: 1, is_cte: 1, cte_name: x
          JOIN TREE
            TABLE id: 23, alias: __table2, table_name: system.one
      TABLE EXPRESSION
        TABLE_FUNCTION id: 5, alias: __table3, table_function_name: numbers
      TABLE EXPRESSION
        TABLE id: 7, alias: __table4, table_name: ssf.spans`;
    const read = tablesRead(tree);
    expect(read.tables).toEqual(['system.one', 'ssf.spans']);
    expect(read.tableFunctions).toEqual(['numbers']);
    expect([...read.ctes]).toEqual(['x']);
    const spaced = tablesRead(
      '        QUERY id: 3, alias: __table1, is_subquery: 1, is_cte: 1, cte_name: my x, y\n        UNION id: 4, is_cte: 1, cte_name: z, union_mode: UNION_ALL',
    );
    expect([...spaced.ctes]).toEqual(['my x, y', 'z']);
  });

  it('lets WITH RECURSIVE read its own temporary table, and no other temporary table', () => {
    const tree = `QUERY id: 0
    QUERY id: 3, alias: __table1, is_subquery: 1, is_recursive_with: 1
        UNION id: 6, alias: __table2, is_subquery: 1, is_cte: 1, is_recursive_cte: 1, recursive_cte_table: _temporary_and_external_tables.\`_tmp_395d99c3-3aff-4a14-867b-838114fdedd4\` (395d99c3-3aff-4a14-867b-838114fdedd4), cte_name: r, union_mode: UNION_ALL
              QUERY id: 8, alias: __table3
                  TABLE id: 11, alias: __table4, table_name: system.one
              QUERY id: 12, alias: __table5
                  TABLE id: 17, alias: __table6, table_name: _temporary_and_external_tables._tmp_395d99c3-3aff-4a14-867b-838114fdedd4, temporary_table_name: r
                  TABLE id: 18, alias: __table7, table_name: _temporary_and_external_tables._tmp_00000000-3aff-4a14-867b-838114fdedd4`;
    expect(tablesRead(tree).tables).toEqual(['system.one', '_temporary_and_external_tables._tmp_00000000-3aff-4a14-867b-838114fdedd4']);
  });

  it("refuses a column named _... read from a table (a virtual column), not one of a subquery or a lambda's argument", () => {
    const tree = (column: string, source: string): string => `QUERY id: 0
  PROJECTION
    LIST id: 1, nodes: 1
      COLUMN id: 2, column_name: ${column}, result_type: UInt64, source_id: ${source}
  JOIN TREE
    QUERY id: 5, alias: __table2, is_subquery: 1
      JOIN TREE
        TABLE id: 3, alias: __table1, table_name: ssf.spans`;
    expect(() => tablesRead(tree('_part_offset', '3'))).toThrow(/_part_offset is a virtual column/);
    expect(() => tablesRead(tree('_part', ''))).toThrow(/virtual column/);
    expect(tablesRead(tree('_x', '5')).tables).toEqual(['ssf.spans']);
    expect(tablesRead(tree('part_offset', '3')).tables).toEqual(['ssf.spans']);
  });
});

describe('QueryRunner: what every query is sent with', () => {
  const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: 'http://127.0.0.1:1', SSF_CLICKHOUSE_DATABASE: 'ssf' } });
  let ch: ClickHouse;
  let runner: QueryRunner;
  // A client that never connects: nothing here sends a query.
  beforeAll(async () => {
    ch = await createClickHouse(config.clickhouse);
    runner = new QueryRunner(ch, config.query);
  });
  afterAll(async () => ch?.close());

  it('runs the statement under a top-level SELECT, the only shape ClickHouse holds to max_result_rows/bytes', () => {
    expect(runner.bound('SELECT 1 EXCEPT SELECT 2\n')).toBe('SELECT *\nFROM (\nSELECT 1 EXCEPT SELECT 2\n)');
  });

  it('sends the tenant filter and the limits as request settings, the tenant escaped inside the map', () => {
    const s = runner.settings("o'brien\\", 512);
    expect(String(s.additional_table_filters)).toBe(
      `{${['spans', 'trace_index', 'logs', 'samples', 'metrics_1m', 'metrics_1h'].map((t) => `'ssf.${t}':'tenant = \\'o\\\\\\'brien\\\\\\\\\\''`).join(',')}}`,
    );
    expect({ ...s, additional_table_filters: undefined }).toEqual({
      max_execution_time: config.query.maxExecutionTimeS,
      timeout_overflow_mode: 'throw',
      max_block_size: '512',
      max_result_rows: String(config.query.maxResultRows),
      max_result_bytes: String(config.query.maxResultBytes),
      result_overflow_mode: 'throw',
      max_memory_usage: String(config.query.maxMemoryUsage),
      output_format_write_statistics: 0,
      additional_table_filters: undefined,
    });
  });
});
