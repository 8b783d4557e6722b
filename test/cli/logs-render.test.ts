import { describe, expect, it } from 'vitest';
import { renderBody, timestampMs } from '../../cli/logs-command.js';

describe('ssf logs rendering', () => {
  it('puts the highlighted ranges in bold, only with color', () => {
    const body = 'db timeout after 2000 ms; timeout again';
    expect(
      renderBody(
        body,
        [
          [3, 10],
          [26, 33],
        ],
        true,
      ),
    ).toBe('db \x1b[1mtimeout\x1b[22m after 2000 ms; \x1b[1mtimeout\x1b[22m again');
    expect(renderBody(body, [[3, 10]], false)).toBe(body);
  });

  it('keeps a body on one line', () => {
    expect(renderBody('first\nsecond\tthird', [], true)).toBe('first\\nsecond third');
    expect(renderBody('a\nbad', [[2, 5]], true)).toBe('a\\n\x1b[1mbad\x1b[22m');
  });

  it('reads the timestamps the API gives and the ones ClickHouse prints', () => {
    const ms = Date.UTC(2026, 10, 21, 10, 0, 0, 123);
    expect(timestampMs('2026-11-21T10:00:00.123456789Z')).toBeCloseTo(ms + 0.456789, 6);
    expect(timestampMs('2026-11-21 10:00:00.123')).toBe(ms);
    expect(timestampMs(String(BigInt(ms) * 1_000_000n))).toBe(ms);
    expect(timestampMs(ms)).toBe(ms);
  });
});
