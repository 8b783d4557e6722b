import { describe, expect, it } from 'vitest';
import { createProgress, formatEta } from '../../query/analytics/progress.js';

/** A stream that keeps what was written, and a clock the test moves. */
function setup(tty: boolean) {
  const writes: string[] = [];
  const stream = {
    write: (s: string) => {
      writes.push(s);
      return true;
    },
    isTTY: tty,
    columns: 120,
  } as unknown as NodeJS.WritableStream & { isTTY: boolean; columns: number };
  let now = 1_000_000;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  return { writes, stream, clock };
}

describe('progress', () => {
  it('on a terminal redraws one bar with \\r: done/total, rate and ETA', () => {
    const { writes, stream, clock } = setup(true);
    const p = createProgress({ label: 'export', total: 10, unit: 'parts', stream, now: clock.now });
    clock.advance(2_000);
    p.advance(2, 'spans-20261121T1000Z.parquet');
    expect(writes).toHaveLength(1);
    const bar = writes[0] as string;
    expect(bar.startsWith('\r')).toBe(true);
    expect(bar).not.toContain('\n');
    expect(bar).toContain(`[${'#'.repeat(6)}${'.'.repeat(22)}]`);
    expect(bar).toContain(' 20% 2/10 parts');
    expect(bar).toContain('1.0 parts/s');
    expect(bar).toContain('ETA 8s');
    expect(bar).toContain('spans-20261121T1000Z.parquet');
    // Redraws at most every 100 ms.
    p.advance(1);
    expect(writes).toHaveLength(1);
    clock.advance(150);
    p.advance(1);
    expect(writes).toHaveLength(2);
    p.finish('done: 4 parts');
    expect(writes.at(-2)).toBe('\r\x1b[K');
    expect(writes.at(-1)).toBe('export done: 4 parts\n');
  });

  it('elsewhere writes a plain line per interval, counting resumed units apart from the rate', () => {
    const { writes, stream, clock } = setup(false);
    const p = createProgress({ label: 'replay', total: 100, unit: 'lines', stream, now: clock.now, intervalMs: 5_000 });
    p.skip(40);
    for (let i = 0; i < 10; i++) {
      clock.advance(1_000);
      p.advance(3);
    }
    expect(writes).toEqual(['replay  55% 55/100 lines 3.0 lines/s ETA 15s\n', 'replay  70% 70/100 lines 3.0 lines/s ETA 10s\n']);
    p.finish('done');
    expect(writes.at(-1)).toBe('replay done\n');
  });

  it('without a known total shows the count and the rate only', () => {
    const { writes, stream, clock } = setup(false);
    const p = createProgress({ label: 'replay', total: 0, unit: 'records', stream, now: clock.now, intervalMs: 1_000 });
    clock.advance(2_000);
    p.advance(10);
    expect(writes).toEqual(['replay 10 records 5.0 records/s\n']);
  });

  it('formats ETAs', () => {
    expect([formatEta(5), formatEta(65), formatEta(3725), formatEta(Infinity)]).toEqual(['5s', '1m05s', '1h02m', '?']);
  });
});
