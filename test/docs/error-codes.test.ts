import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InfraErrors } from '../../deploy/local/infra-errors.js';
import { MaterializerErrors } from '../../ingest/materializer/materializer-errors.js';
import { GatewayErrors } from '../../ingest/gateway/gateway-errors.js';
import { SinkErrors } from '../../ingest/sink/sink-errors.js';
import { StatsdErrors } from '../../ingest/statsd/parse-statsd.js';
import { QueryErrors } from '../../query/query-errors.js';
import { AuthErrors } from '../../src/auth/auth-errors.js';
import { CodecErrors } from '../../src/codec/errors.js';
import { ConfigErrors } from '../../src/config/load-config.js';
import { DROP_REASONS } from '../../src/emitter/transports/transport.js';
import type { ErrorCatalog } from '../../src/errors/define-errors.js';
import { HttpErrors } from '../../src/http/http-errors.js';
import { OtlpErrors } from '../../ingest/otlp/otlp-errors.js';

/** Every catalog of the product and of the dev launchers (a new catalog is added here). */
const CATALOGS: ErrorCatalog<string>[] = [
  CodecErrors,
  GatewayErrors,
  SinkErrors,
  MaterializerErrors,
  QueryErrors,
  AuthErrors,
  HttpErrors,
  ConfigErrors,
  InfraErrors,
  StatsdErrors,
  OtlpErrors,
];

interface Row {
  /** The cells of the row, by the column headers of its table (lower case). */
  cells: Map<string, string>;
  line: number;
}

/** docs/errors.md's table rows, by the code in their first cell. */
function documentedRows(): Map<string, Row> {
  const lines = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8').split('\n');
  const rows = new Map<string, Row>();
  let headers: string[] = [];
  // Split on the pipes that are not escaped (`\|` inside a cell).
  const cellsOf = (line: string): string[] =>
    line
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((c) => c.replace(/\\\|/g, '|').trim());
  lines.forEach((line, i) => {
    if (!line.startsWith('|')) {
      headers = [];
      return;
    }
    const cells = cellsOf(line);
    if (headers.length === 0) {
      headers = cells.map((c) => c.toLowerCase());
      return;
    }
    const code = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (code === undefined) return;
    rows.set(code, { cells: new Map(headers.map((h, k) => [h, cells[k] ?? ''])), line: i + 1 });
  });
  return rows;
}

const rows = documentedRows();
const entries = CATALOGS.flatMap((c) => c.codes.map((code) => ({ area: c.area, code, entry: c.entries[code] })));

describe('docs/errors.md', () => {
  it('reads the catalogs and the tables', () => {
    expect(entries.length).toBeGreaterThan(50);
    expect(rows.size).toBeGreaterThan(50);
  });

  it.each(entries.map((e) => [e.code, e] as const))('documents %s with its status and retriable flag', (code, { entry }) => {
    const row = rows.get(code);
    expect(row, `${code} has no row in docs/errors.md`).toBeDefined();
    if (row === undefined || entry === undefined) return;
    const status = row.cells.get('status');
    // A table without a Status column documents codes that are never an HTTP answer.
    if (status === undefined) expect(entry.status, `${code}: its table has no Status column`).toBe(0);
    else expect(status, `${code} (docs/errors.md line ${row.line})`).toBe(entry.status === 0 ? '-' : String(entry.status));
    const retriable = row.cells.get('retriable');
    if (retriable !== undefined) expect(retriable, `${code} (docs/errors.md line ${row.line})`).toBe(entry.retriable ? 'yes' : 'no');
  });

  it('lists no code that is in no catalog', () => {
    const known = new Set<string>([...entries.map((e) => e.code), ...DROP_REASONS]);
    expect([...rows.keys()].filter((code) => !known.has(code))).toEqual([]);
  });

  it.each([...DROP_REASONS])('documents the emitter drop reason %s', (reason) => {
    expect(rows.has(reason)).toBe(true);
  });

  it('gives every code its catalog prefix, once', () => {
    const codes = entries.map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const e of entries) expect(e.code.startsWith(`${e.area}_`)).toBe(true);
  });
});
