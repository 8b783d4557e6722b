import { describe, expect, it } from 'vitest';
import { ROW_BINARY_COLUMNS } from '../../src/clickhouse/event-row-binary.js';
import { VARIANTS } from './storage-bench.js';

/*
 * The storage bench copies the migrated rows into each schema alternative
 * with `INSERT INTO v (<the writer's columns>) SELECT ...`. A column added
 * by a migration (trace_id_high, 0007) and missing from a hand-written
 * alternative broke `npm run bench` for everybody, found only by running it.
 */
describe('the storage bench schema alternatives', () => {
  it('declare every column the writer inserts', () => {
    for (const v of VARIANTS) {
      if (v.ddl === undefined) continue;
      const declared = new Set([...v.ddl.matchAll(/(?:^|,)\s*(\w+)\s+(?!TYPE\b)[A-Z]\w*\(?/g)].map((m) => m[1] as string));
      for (const column of ROW_BINARY_COLUMNS[v.table].split(', ')) expect(declared.has(column), `${v.what}: ${column}`).toBe(true);
    }
  });
});
