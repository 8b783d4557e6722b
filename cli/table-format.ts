/** A column of a table printed for a person. */
export interface TableColumn {
  name: string;
  /** Numbers are right-aligned. */
  numeric: boolean;
}

export interface TableOptions {
  /** A wider cell is cut and ends with `…`. Default 60. */
  maxCellWidth?: number;
  /** The terminal's width: the widest columns shrink (down to 8) until a line fits. Default: no limit. */
  maxLineWidth?: number | undefined;
}

const GAP = '  ';

/** ClickHouse types that print as numbers (64-bit integers arrive as JSON strings; they are numbers too). */
export function isNumericType(type: string): boolean {
  return /^(Nullable\()?(LowCardinality\()?(U?Int\d+|Float\d+|Decimal|BFloat16)/.test(type);
}

/** A value as one line of text: NULL for null, JSON for arrays, maps and tuples, newlines and tabs as visible escapes. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return text.replace(/\r?\n/g, '\\n').replace(/\t/g, '\\t');
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * Rows as an aligned text table: a header, a rule, one line per row;
 * columns as wide as their widest cell (capped), numbers right-aligned.
 */
export function formatTable(columns: readonly TableColumn[], rows: readonly (readonly unknown[])[], options: TableOptions = {}): string {
  const maxCell = Math.max(4, options.maxCellWidth ?? 60);
  const texts = rows.map((row) => columns.map((_, i) => cellText(row[i])));
  const widths = columns.map((c, i) => Math.min(maxCell, Math.max(c.name.length, ...texts.map((r) => (r[i] as string).length))));
  if (options.maxLineWidth !== undefined) {
    const limit = options.maxLineWidth;
    const total = (): number => widths.reduce((a, b) => a + b, 0) + GAP.length * Math.max(0, widths.length - 1);
    while (total() > limit) {
      const widest = widths.indexOf(Math.max(...widths));
      if ((widths[widest] as number) <= 8) break;
      widths[widest] = (widths[widest] as number) - 1;
    }
  }
  const line = (cells: readonly string[]): string =>
    cells
      .map((text, i) => {
        const w = widths[i] as number;
        const t = cut(text, w);
        return columns[i]?.numeric ? t.padStart(w) : t.padEnd(w);
      })
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.name)), widths.map((w) => '-'.repeat(w)).join(GAP), ...texts.map(line)].join('\n');
}

/** `1 row` / `3 rows`, and the time it took: the summary line under a table. */
export function rowsLine(rows: number, elapsedSeconds: number): string {
  return `${rows} ${rows === 1 ? 'row' : 'rows'} in ${elapsedSeconds < 10 ? elapsedSeconds.toFixed(3) : elapsedSeconds.toFixed(1)} s`;
}
