import { describe, expect, it } from 'vitest';
import { cellText, formatTable, isNumericType, rowsLine } from '../../cli/table-format.js';

describe('formatTable', () => {
  it('aligns columns: text to the left, numbers to the right, under a rule', () => {
    const text = formatTable(
      [
        { name: 'service', numeric: false },
        { name: 'n', numeric: true },
      ],
      [
        ['web', 7],
        ['payments', '12345'],
      ],
    );
    expect(text.split('\n')).toEqual(['service       n', '--------  -----', 'web           7', 'payments  12345']);
  });

  it('cuts a wide cell with an ellipsis and shows null, arrays and newlines on one line', () => {
    const text = formatTable(
      [
        { name: 'a', numeric: false },
        { name: 'b', numeric: false },
      ],
      [
        ['x'.repeat(100), null],
        [['p', 1], 'two\nlines'],
      ],
      { maxCellWidth: 10 },
    );
    const lines = text.split('\n');
    expect(lines[2]).toBe(`${'x'.repeat(9)}…  NULL`);
    expect(lines[3]).toBe('["p",1]     two\\nlines');
  });

  it('shrinks the widest columns to fit a terminal line', () => {
    const text = formatTable(
      [
        { name: 'a', numeric: false },
        { name: 'b', numeric: false },
      ],
      [['y'.repeat(50), 'z'.repeat(30)]],
      { maxLineWidth: 40 },
    );
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(40);
    expect(text).toContain('…');
  });

  it('knows which ClickHouse types are numbers', () => {
    for (const t of ['UInt64', 'Int8', 'Float64', 'Nullable(Int64)', 'Decimal(10, 2)']) expect(isNumericType(t), t).toBe(true);
    for (const t of ['String', 'DateTime64(9)', 'Array(UInt8)', "Enum8('a' = 1)", 'Map(String, String)', 'Bool']) expect(isNumericType(t), t).toBe(false);
  });

  it('says how many rows and how long', () => {
    expect(rowsLine(1, 0.0123)).toBe('1 row in 0.012 s');
    expect(rowsLine(0, 12.34)).toBe('0 rows in 12.3 s');
    expect(cellText(true)).toBe('true');
  });
});
